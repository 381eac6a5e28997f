"""LLM role-play: a user simulator and a strategy-prompted agent over any LangChain chat model.

Both build one prompt per dialogue from an environment-provided function and answer every live
dialogue of a step with ONE ``batch`` call, which ``LocalChatModel`` turns into one left-padded
``generate``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from workbench.env import DialogueState, Strategy
from workbench.episodes import Turn

log = logging.getLogger(__name__)

_ROLE_PREFIX = re.compile(r"^\s*[A-Za-z][\w ]{0,20}:\s*")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_utterance(text: str) -> str:
    """First line of a generated turn, without a leading "Role:" echo or control characters, its spaces
    collapsed ("" when nothing is left)."""
    line = " ".join(_CONTROL.sub(" ", text.strip().split("\n", 1)[0]).split())
    return _ROLE_PREFIX.sub("", line, count=1).strip()


def model_turn(role: str, reply: str, fallback: str, note: str, *, strategy: str | None = None,
               info: dict[str, Any] | None = None) -> Turn:
    """The turn a model spoke: ``reply`` cleaned (:func:`clean_utterance`), marked ``info["generated"]``;
    an empty reply is replaced by ``fallback`` and marked ``info["fallback"] = note`` (what was replaced
    by what, e.g. "empty agent reply -> template line"), so that metrics count it and data builders
    leave it out."""
    text = clean_utterance(reply)
    info = {**(info or {}), "generated": True}
    if not text:
        log.info("%s: using %r", note, fallback)
        text, info["fallback"] = fallback, note
    return Turn(role=role, text=text, strategy=strategy, info=info)


class LLMUserSimulator:
    """A role-played user: ``prompt(state)`` gives the messages, the model speaks as the user."""

    name = "llm"

    def __init__(self, model: BaseChatModel, prompt: Callable[[DialogueState], list[BaseMessage]], *,
                 fallback: str = "...", temperature: float = 0.7, max_tokens: int = 48):
        self.model = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\n"])
        self.prompt, self.fallback = prompt, fallback

    def start(self, state: DialogueState) -> None:
        """An LLM persona keeps no hidden state of its own."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        replies = self.model.batch([self.prompt(s) for s in states]) if states else []
        return [model_turn(s.user_role, str(r.content), self.fallback, f"empty user reply -> {self.fallback!r}")
                for s, r in zip(states, replies)]


def roleplay_messages(state: DialogueState, speaker: str) -> list[BaseMessage]:
    """The dialogue so far as chat messages from ``speaker``'s point of view: its own turns are
    ``AIMessage``, the other side's ``HumanMessage``, each named by role (a base model then sees
    a "Role: text" transcript and continues as ``speaker``)."""
    return [AIMessage(content=t.text, name=t.role) if t.role == speaker else HumanMessage(content=t.text, name=t.role)
            for t in state.turns]


def role_prompt(system: str, state: DialogueState, speaker: str, strategy: Strategy | None = None) -> list[BaseMessage]:
    """PPDPP's role-play prompt: the role description, the chosen strategy's instruction (if any)
    as the last line of the system message, then the dialogue (Deng et al., ICLR 2024, Sec. 3.1)."""
    if strategy is not None:
        system += f"\nNow: {strategy.instruction}"
    return [SystemMessage(content=system), *roleplay_messages(state, speaker)]


def critic_messages(system: str, shots: Sequence[tuple[str, str]], question: str, state: DialogueState,
                    context: str | None = None) -> list[BaseMessage]:
    """A critic prompt: the instructions, few-shot (dialogue, answer) pairs, then this dialogue
    (after an optional ``context`` line) and the question; the answers are named "Critic" so a base
    model answers in that voice."""
    messages: list[BaseMessage] = [SystemMessage(content=system)]
    for dialogue, answer in shots:
        messages += [HumanMessage(content=f"{dialogue}\n{question}", name="User"), AIMessage(content=answer, name="Critic")]
    dialogue = f"{context}\n{state.history()}" if context else state.history()
    messages.append(HumanMessage(content=f"{dialogue}\n{question}", name="User"))
    return messages
