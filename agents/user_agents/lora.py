"""A LoRA-tuned LLM Commander: supervised fine-tuning on the human Commander's answers.

Philipov et al. (2024, arXiv 2410.23535) fine-tune an LLM on TEACh games (Padmakumar et al., AAAI 2022) to
answer, at every step, ``OBSERVE`` or ``<<acts>> utterance`` in the Instruction/Response format of
:func:`simulators.household.prompts.sft_example`. Here the examples of the training games are
subsampled for a CPU (:func:`balanced_pairs`: every speaking step and as many observing steps, up to a
cap) and trained with the workbench's TRL SFT wrapper and a PEFT LoRA adapter
(:mod:`agents.user_agents.run`).

The model is queried through :class:`~workbench.llm.local.LocalChatModel`, which renders a base model's
conversation as a transcript; the training prompt is therefore that very rendering
(:func:`transcript`): the Instruction/Response prompt as the header, then ``Answer:``, after which the
model writes its answer line. :class:`LoRAUserAgent` generates greedily with the base model and the
adapter (batched, other callers of the shared model keep their own adapter state), parses each answer
with :func:`simulators.household.parse.parse_response` and counts every fallback reason.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Sequence

from langchain_core.messages import BaseMessage, SystemMessage

from agents.user_agents import SFT_MARKER as META_FILE
from agents.user_agents import household_kit
from workbench.errors import WorkbenchError
from workbench.llm.local import LocalChatModel, format_transcript
from workbench.runs import atomic_write

_KIT = household_kit()
Context, Decision, parse_response = _KIT.Context, _KIT.Decision, _KIT.parse_response
sft_example, sft_prompt = _KIT.sft_example, _KIT.sft_prompt

LABEL = "Answer"
"""The transcript label the model answers after."""
STOP = ["\n"]
"""An answer is one line."""


def messages(context: Context, max_lines: int) -> list[BaseMessage]:
    """The conversation the agent sends for ``context``: one system message holding the Instruction/Response
    prompt of :func:`~simulators.household.prompts.sft_prompt`."""
    return [SystemMessage(sft_prompt(context, max_lines).rstrip())]


def transcript(context: Context, max_lines: int) -> str:
    """The text the model reads for ``context``: :func:`messages` as ``LocalChatModel`` renders them for a base
    model (the prompt, a blank line, ``Answer:``)."""
    return format_transcript(messages(context, max_lines), assistant_label=LABEL)[0]


def sft_row(context: Context, decision: Decision, max_lines: int) -> dict[str, str]:
    """One TRL prompt-completion row: the :func:`transcript` and the human answer of
    :func:`~simulators.household.prompts.sft_example` after a space."""
    return {"prompt": transcript(context, max_lines),
            "completion": " " + sft_example(context, decision, max_lines)["completion"]}


def balanced_pairs(pairs: Sequence[tuple[Context, Decision]], max_examples: int = 0,
                   seed: int = 0) -> list[tuple[Context, Decision]]:
    """Every speaking step and as many observing steps (fewer if there are fewer), then, when ``max_examples``
    is positive and smaller, a subsample of that size with half of each kind where possible; shuffled."""
    rng = random.Random(seed)
    speak = [p for p in pairs if p[1].speak]
    observe = [p for p in pairs if not p[1].speak]
    n_speak, n_observe = len(speak), min(len(observe), len(speak))
    if 0 < max_examples < n_speak + n_observe:
        n_speak = min(n_speak, max(max_examples - n_observe, max_examples // 2))
        n_observe = min(n_observe, max_examples - n_speak)
    chosen = rng.sample(speak, n_speak) + rng.sample(observe, n_observe)
    rng.shuffle(chosen)
    return chosen


def write_meta(folder: str | Path, base: str, max_lines: int) -> Path:
    """Mark an adapter folder as a user agent: its base model spec and the history length it was trained on."""
    return atomic_write(Path(folder) / META_FILE, json.dumps({"kind": "sft", "base": base, "max_lines": max_lines},
                                                             indent=2))


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise WorkbenchError(f"{folder}: no LoRA user agent here (missing {META_FILE})")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise WorkbenchError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    missing = [k for k in ("base", "max_lines") if k not in meta]
    if missing:
        raise WorkbenchError(f"{path}:1: missing {missing[0]!r}")
    return meta


class LoRAUserAgent:
    """The fine-tuned Commander: the base model with the adapter, greedy, ``batch_size`` contexts per
    ``generate``; ``fallbacks`` counts the reasons of :func:`~simulators.household.parse.parse_response`."""

    def __init__(self, model: LocalChatModel, adapter: str, *, max_lines: int, max_new_tokens: int = 32,
                 batch_size: int = 16):
        if adapter not in model.adapters:
            raise WorkbenchError(f"adapter {adapter!r} is not loaded on {model.model_name}")
        self.model, self.adapter = model, adapter
        self.max_lines, self.max_new_tokens, self.batch_size = max_lines, max_new_tokens, batch_size
        self.fallbacks: dict[str, int] = {}

    @classmethod
    def load(cls, folder: str | Path, **options: Any) -> "LoRAUserAgent":
        """The agent of an adapter folder (with :data:`META_FILE`) on its base model, the process-wide shared
        ``LocalChatModel``; the adapter is loaded once under a name of its own, and the model's active
        adapter (or none) stays what it was for every other caller."""
        from workbench.llm.resolve import chat_model

        folder = Path(folder).resolve()
        meta = read_meta(folder)
        model = chat_model(meta["base"])
        if not isinstance(model, LocalChatModel):
            raise WorkbenchError(f"{folder / META_FILE}:1: base {meta['base']!r} is not a local transformers model")
        name = "user_sft_" + hashlib.sha1(str(folder).encode()).hexdigest()[:10]
        if name not in model.adapters:
            previous = model.active_adapter
            model.load_adapter(folder, name)
            if previous is None:
                model.disable_adapters()
            else:
                model.set_adapter(previous)
        return cls(model, name, max_lines=int(meta["max_lines"]), **options)

    def answers(self, contexts: Sequence[Context]) -> list[str]:
        """The raw answer line the model generates for each context."""
        replies = self.model.generate_messages(
            [messages(c, self.max_lines) for c in contexts], stop=STOP, adapter=self.adapter, temperature=0.0,
            max_tokens=self.max_new_tokens, max_batch_size=self.batch_size, use_chat_template=False,
            assistant_label=LABEL)
        return [str(reply.content) for reply in replies]

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        decisions = []
        for text in self.answers(contexts):
            decision, reason = parse_response(text)
            if reason is not None:
                self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1
            decisions.append(decision)
        return decisions
