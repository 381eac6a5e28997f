"""Prompt-based planning: the LLM picks the next strategy itself before it answers.

The ProCoT-style baseline of PPDPP (Deng et al., ICLR 2024, Sec. 4; ProCoT: Deng et al., Findings
of EMNLP 2023, "Prompting and Evaluating Large Language Models for Proactive Dialogues"): the model
reads the dialogue and the strategy set and names the strategy for its next turn; the agent then
realises that strategy as with any other planner. All live dialogues are one batched call. An
answer that names no strategy is logged, counted and replaced by a uniform draw from the dialogue's
``rng``; the agent's turn is then marked ``info["plan_fallback"]``.
"""

from __future__ import annotations

import logging
import re
from typing import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from workbench.env import DialogueEnv, DialogueState, Strategy

logger = logging.getLogger(__name__)


def planning_prompt(env: type[DialogueEnv], state: DialogueState) -> list[BaseMessage]:
    options = "\n".join(f"- {s.name}: {s.instruction}" for s in env.strategies)
    return [SystemMessage(content=f"You are the {env.agent_role} in this conversation ({env.description}). "
                                  f"Before your next reply, choose its dialogue strategy from this list:\n{options}"),
            HumanMessage(content=f"Conversation so far:\n{state.history()}\n\nWhich strategy should the "
                                 f"{env.agent_role} use next? Answer with the strategy name only.")]


def parse_strategy(env: type[DialogueEnv], text: str) -> Strategy | None:
    """The strategy named first in ``text`` (case-insensitive; a longer name wins at the same place)."""
    lowered = text.lower()
    found = [(m.start(), -len(s.name), s) for s in env.strategies
             for m in [re.search(rf"(?<![a-z]){re.escape(s.name.lower())}(?![a-z])", lowered)] if m]
    return min(found, key=lambda f: f[:2])[2] if found else None


PLAN_FALLBACK = "unparsable ProCoT answer -> random strategy"


class ProCoTPolicy:
    """The chat model as its own planner. ``unparsed`` counts answers that named no strategy;
    ``plan_fallbacks`` holds, per dialogue of the last ``choose`` call, :data:`PLAN_FALLBACK` where the
    answer named none and a random strategy was played, else None (the agent marks its turns with it)."""

    def __init__(self, model: BaseChatModel, env: type[DialogueEnv], max_tokens: int = 16):
        self.model = model.bind(temperature=0.0, max_tokens=max_tokens, stop=["\n"])
        self.env, self.unparsed = env, 0
        self.plan_fallbacks: list[str | None] = []

    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float | None]]:
        replies = self.model.batch([planning_prompt(self.env, s) for s in states])
        choices, self.plan_fallbacks = [], []
        for state, reply in zip(states, replies):
            strategy = parse_strategy(self.env, str(reply.content))
            self.plan_fallbacks.append(None if strategy else PLAN_FALLBACK)
            if strategy is None:
                self.unparsed += 1
                strategy = state.rng.choice(self.env.strategies)
                logger.info("ProCoT answer names no %s strategy (%r); playing %s", self.env.name,
                            str(reply.content)[:80], strategy.name)
            choices.append((strategy, None))
        return choices
