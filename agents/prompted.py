"""The LLM dialogue agent: realises the chosen strategy through its instruction sentence.

As in PPDPP (Deng et al., ICLR 2024, Sec. 3.1), the planner's strategy is turned into a natural
language instruction appended to the agent's role-play prompt (with the reflections of its trial memory, when it
plays a case again: :meth:`DialogueEnv.with_memory`); without a policy the model
speaks freely (the "standard prompting" baseline). All live dialogues are one ``batch`` call. Every
turn is marked as generated; an empty reply is replaced by the strategy's template line (or a fixed
question) and marked ``info["fallback"]``; a turn whose strategy the model itself picked (ProCoT) is
marked ``info["plan_generated"]``, and ``info["plan_fallback"]`` when that pick did not parse.
"""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel

from agents.policies import Policy
from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Turn
from workbench.roleplay import model_turn

NO_STRATEGY_FALLBACK = "Could you tell me more?"
"""What the agent says instead of an empty reply when it follows no strategy (``--policy none``)."""


class PromptedAgent:
    def __init__(self, model: BaseChatModel, env: type[DialogueEnv], policy: Policy | None, *,
                 temperature: float = 0.7, max_tokens: int = 48):
        self.model = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\n"])
        self.env, self.policy = env, policy

    def act(self, states: Sequence[DialogueState]) -> list[Turn]:
        if not states:
            return []
        choices = self.policy.choose(states) if self.policy else [(None, None)] * len(states)
        replies = self.model.batch([self.env.with_memory(self.env.agent_prompt(s, strategy), s.memory)
                                    for s, (strategy, _) in zip(states, choices)])
        plan_fallbacks = getattr(self.policy, "plan_fallbacks", None)  # a model planner's (ProCoT) parse failures
        turns = []
        for k, (state, (strategy, prob), reply) in enumerate(zip(states, choices, replies)):
            info: dict[str, Any] = {"strategy_prob": prob} if strategy else {}
            if plan_fallbacks is not None:
                info["plan_generated"] = True
                if plan_fallbacks[k]:
                    info["plan_fallback"] = plan_fallbacks[k]
            if strategy:
                fallback, note = self.env.realise(state, strategy), "empty agent reply -> template line"
            else:
                fallback, note = NO_STRATEGY_FALLBACK, f"empty agent reply -> {NO_STRATEGY_FALLBACK!r}"
            turns.append(model_turn(state.agent_role, str(reply.content), fallback, note,
                                    strategy=strategy.name if strategy else None, info=info))
        return turns
