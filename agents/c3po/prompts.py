"""Prompts for C3PO: the workbench's prompt pool and the model calls that write new ones.

The pool stands in for the general prompt dataset RLVF samples out-of-scope prompts from (Stephan
et al., ICML 2024, Sec. 3.1) without downloading one. It holds (a) every environment's real dialogue
contexts: the agent's own prompt (``env.agent_prompt``) at points of the human dialogues where the
user has just spoken, and (b) a generic set of everyday requests the chat model writes, one topic at
a time. A prompt keeps its messages, the role label the model answers as, and a short text (the
case-specific first line of the system message and the last turns) for the scope encoder.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.c3po.writer import write_lines
from workbench.env import DialogueState
from workbench.episodes import Turn

log = logging.getLogger(__name__)

TOPICS = ("cooking dinner", "planning a trip", "writing an email to a colleague", "fixing a bug in Python code",
          "a maths homework question", "choosing a laptop", "training for a 10k run", "keeping houseplants alive",
          "learning to play guitar", "saving money each month", "a history essay", "writing a birthday card",
          "a job interview", "sleeping better", "a book recommendation", "cleaning the kitchen",
          "a science fact", "moving to a new city", "a dispute with a neighbour", "organising a team meeting",
          "a recipe without eggs", "learning Spanish", "a car that makes a strange noise", "a wedding speech")
"""Topics of the generic requests the chat model writes for the pool."""

_WRITER_SYSTEM = "Write one message that a person might send to a helpful assistant about the given topic."
_WRITER_SHOTS = (("sending flowers", "Which flowers would be a nice thank-you for my neighbour who fed my cat?"),
                 ("a spreadsheet formula", "How do I add up a column in Excel only where the next column says paid?"))


@dataclass
class Prompt:
    id: str
    messages: list[dict[str, str]]
    """``{"role": system|user|assistant, "content", "name"?}``; the model answers next."""
    speaker: str = "Assistant"
    """The transcript label the model answers as (an environment's agent role)."""
    source: str = "generic"
    """The environment, ``generic`` (a pool request) or ``generated`` (written for this feedback)."""
    group: str = ""
    """Prompts of one group (one dialogue) fall on the same side of the train / held-out split."""
    text: str = ""
    """What the scope encoder reads."""
    scope: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Prompt:
        return cls(**row)

    def chat(self, system_note: str | None = None) -> list[BaseMessage]:
        """The prompt as LangChain messages; ``system_note`` is added to the system message (in-context feedback)."""
        messages: list[BaseMessage] = []
        for m in self.messages:
            if m["role"] == "system":
                messages.append(SystemMessage(m["content"]))
            elif m["role"] == "assistant":
                messages.append(AIMessage(m["content"], name=m.get("name") or self.speaker))
            else:
                messages.append(HumanMessage(m["content"], name=m.get("name") or "User"))
        if system_note:
            if messages and messages[0].type == "system":
                messages[0] = SystemMessage(f"{messages[0].text}\n{system_note}")
            else:
                messages.insert(0, SystemMessage(system_note))
        return messages


def scope_text(messages: Sequence[BaseMessage], recent: int = 3) -> str:
    """What the scope encoder reads of a conversation: the first line of its system message (the case) and
    its last ``recent`` turns as ``name: text`` (a lone request: its text)."""
    head = messages[0].text.split("\n", 1)[0] if messages and messages[0].type == "system" else ""
    turns = [m for m in messages if m.type != "system"]
    if not head and len(turns) == 1:
        return turns[0].text
    lines = " ".join(f"{m.name or m.type}: {m.text}" for m in turns[-recent:])
    return f"{head} {lines}".strip()


def request_prompt(text: str, pid: str, source: str = "generic") -> Prompt:
    """A one-message request to an assistant."""
    return Prompt(id=pid, messages=[{"role": "user", "content": text, "name": "User"}], source=source, group=pid,
                  text=text)


def _message_row(message: BaseMessage) -> dict[str, str]:
    role = {"system": "system", "ai": "assistant"}.get(message.type, "user")
    return {"role": role, "content": message.text, **({"name": message.name} if message.name else {})}


def env_prompts(env_names: Sequence[str], per_case: int = 3, max_turns: int = 8) -> list[Prompt]:
    """The agent's prompt at up to ``per_case`` points of every case's human dialogue, each right after a
    user turn with at least one agent turn before it, within its first ``max_turns`` turns (short prompts
    keep training fast on a CPU)."""
    from workbench.registry import env_class

    prompts = []
    for name in env_names:
        env = env_class(name)
        for case in env.cases():
            turns = [Turn(role=t["role"], text=t["text"]) for t in case.fields.get("turns", [])]
            ends = [i + 1 for i, t in enumerate(turns[:max_turns]) if t.role == env.user_role
                    and any(u.role == env.agent_role for u in turns[:i])]
            step = max(1, len(ends) // per_case) if ends else 1
            for end in ends[::step][:per_case]:
                state = DialogueState(case=case, env=name, agent_role=env.agent_role, user_role=env.user_role,
                                      max_turns=env.default_max_turns, seed=0, turns=turns[:end])
                chat = env.agent_prompt(state, None)
                prompts.append(Prompt(id=f"{case.id}@{end}", messages=[_message_row(m) for m in chat],
                                      speaker=env.agent_role, source=name, group=case.id, text=scope_text(chat)))
    return prompts


def write_requests(model: Any, topics: Sequence[str], per_topic: int, *, prefix: str) -> tuple[list[Prompt], int]:
    """Requests about each topic written by ``model`` (one batched call), and how many were dropped (empty,
    short or repeated; also logged)."""
    written, dropped = write_lines(model, _WRITER_SYSTEM, _WRITER_SHOTS, [f"Topic: {t}" for t in topics],
                                   per_topic, min_words=4)
    prompts = []
    for topic, lines in zip(topics, written):
        for line in lines:
            prompt = request_prompt(line, f"{prefix}{len(prompts)}", "generic")
            prompt.meta["topic"] = topic
            prompts.append(prompt)
    if dropped:
        log.info("%d of %d written requests were empty, too short or repeated and were dropped", dropped,
                 len(topics) * per_topic)
    return prompts, dropped
