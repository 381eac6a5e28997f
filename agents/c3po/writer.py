"""Model calls that write C3PO's data: one-line answers to few-shot prompts, sampled in one batch."""

from __future__ import annotations

import re
from typing import Any, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from workbench.llm.local import LocalChatModel

_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


def clean_line(text: str) -> str:
    """The first non-empty line of a model's output without list markers or quotes."""
    for line in text.splitlines():
        line = _NUMBERED.sub("", line).strip().strip("\"“”'").strip()
        if line:
            return line
    return ""


def _local(model: Any) -> bool:
    """Whether ``model`` is a ``LocalChatModel``, bound or behind a ``BatchingChatModel``."""
    model = getattr(model, "bound", model)
    return isinstance(getattr(model, "inner", model), LocalChatModel)


def respond_batch(model: Any, conversations: Sequence[Sequence[BaseMessage]], speakers: str | Sequence[str], *,
                  temperature: float, max_tokens: int, **options: Any) -> list[str]:
    """One reply line per conversation, in as few batched calls as the transcript labels allow: a base
    model answers as the name of the conversation's last named ``AIMessage`` (an environment's agent
    role), so all such conversations share one call; the others are grouped by their ``speakers`` label.
    ``options`` (e.g. ``adapter=``) go to a local model's call."""
    speakers = [speakers] * len(conversations) if isinstance(speakers, str) else list(speakers)
    keys = ["" if any(m.type == "ai" and m.name for m in c) else s for c, s in zip(conversations, speakers)]
    replies: list[str] = [""] * len(conversations)
    for key in dict.fromkeys(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        extra: dict[str, Any] = {}
        if _local(model):  # a remote model takes none of these options
            extra = {"assistant_label": key, **options} if key else dict(options)
        outputs = model.batch([list(conversations[i]) for i in rows], temperature=temperature, max_tokens=max_tokens,
                              stop=["\n"], **extra)
        for i, message in zip(rows, outputs):
            replies[i] = str(message.content).strip()
    return replies


def few_shot(system: str, shots: Sequence[tuple[str, str]], ask: str) -> list[BaseMessage]:
    """A system instruction, example questions with the writer's answers, then ``ask``."""
    messages: list[BaseMessage] = [SystemMessage(system)]
    for question, answer in shots:
        messages += [HumanMessage(question, name="User"), AIMessage(answer, name="Writer")]
    return messages + [HumanMessage(ask, name="User")]


def write_lines(model: Any, system: str, shots: Sequence[tuple[str, str]], asks: Sequence[str], per_ask: int, *,
                min_words: int = 2) -> tuple[list[list[str]], int]:
    """``per_ask`` sampled one-line answers to each ask (one batched call), cleaned and deduplicated, and
    how many answers were dropped (empty, too short or repeated)."""
    jobs = [ask for ask in asks for _ in range(per_ask)]
    outputs = respond_batch(model, [few_shot(system, shots, ask) for ask in jobs], "Writer", temperature=0.9,
                            max_tokens=40)
    lines: dict[str, list[str]] = {ask: [] for ask in asks}
    for ask, text in zip(jobs, outputs):
        line = clean_line(text)
        if len(line.split()) >= min_words and line.lower() not in {x.lower() for x in lines[ask]}:
            lines[ask].append(line)
    return [lines[ask] for ask in asks], len(jobs) - sum(map(len, lines.values()))
