"""The persuasion environment (PersuasionForGood, Wang et al., ACL 2019).

The agent is the Persuader, the user the Persuadee, who earned $2 for a task and may donate part of it to
Save the Children. The agent follows one of 15 acts per turn (the dataset's 10 strategies and 5 others);
the return is the donation in dollars, received on the turn the persuadee decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Episode, Turn

from . import flaws, prompts, rules
from .cases import ENV_NAME, FILES, PAYMENT, default_source, load_cases
from .persuadee import ScriptedPersuadee
from .strategies import STRATEGIES
from .templates import persuader_line


class PersuasionEnv(DialogueEnv):
    """Persuade to donate to Save the Children (PersuasionForGood)."""

    name = ENV_NAME
    description = "Persuade the user to donate part of a $2 task payment to Save the Children (PersuasionForGood)."
    agent_role = "Persuader"
    user_role = "Persuadee"
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT", "donation rate", "mean donation")
    default_max_turns = 10
    criteria = flaws.CRITERIA
    turn_flaw = staticmethod(flaws.turn_flaw)

    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """All 1,017 dialogues from the P4G folder, or one of its dialogue files (see :mod:`.cases`)."""
        return load_cases(source)

    default_source = staticmethod(default_source)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """The 240 strategy-annotated dialogues."""
        return [default_source() / FILES["annotated"]]

    def opening(self, state: DialogueState) -> list[Turn]:
        return []  # the persuader speaks first, as in the dataset

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``donation`` in dollars (0 when none was decided), ``success`` (a donation), ``turns``."""
        info = state.verdicts[-1].info if state.verdicts else {}
        amount = float(info.get("donation") or 0.0)
        return {"success": amount > 0, "donation": amount, "turns": state.agent_turns}

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """SR (share with a donation), AT, ``donation rate`` (the same share, in %) and ``mean donation`` ($)."""
        n = len(episodes)
        mean = sum(float(e.outcome.get("donation", 0.0)) for e in episodes) / n if n else 0.0
        base = super().metrics(episodes)
        return {**base, "donation rate": 100.0 * base["SR"], "mean donation": mean}

    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The persona the LLM persuadee plays (its most marked survey traits and age) and the $2 payment."""
        return (f"You are the {cls.user_role}; the agent is the {cls.agent_role}. "
                f"{prompts.persona(case.fields.get('profile') or {})} You just earned ${PAYMENT:g} for an online "
                f"task, and the {cls.agent_role} will ask you to donate some of it to Save the Children. When you "
                f"decide, say so (\"I'll donate $1.\", \"I will not donate.\"); that ends the chat.")

    @classmethod
    def rule_answer(cls, state: DialogueState) -> tuple[float, str] | None:
        """A donation decision stated in the persuadee's latest line (:mod:`.rules`): the amount, 0 for a refusal."""
        line = cls.last_user_line(state)
        return rules.rule_answer(line) if line is not None else None

    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        return ScriptedPersuadee()

    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """Done once the scripted persuadee has decided; reward the donation then, 0 before."""
        h = state.hidden
        if h.get("status") == "decided":
            amount = float(h["donation"])
            return Verdict(reward=amount, done=True, success=amount > 0, info={"donation": amount})
        return Verdict(reward=0.0, done=False, success=False, info={"donation": None})

    user_prompt = staticmethod(prompts.user_prompt)
    agent_prompt = staticmethod(prompts.agent_prompt)

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        return persuader_line(state.rng, cls.strategy(strategy.name).name)

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(prompts.parse_verdict)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)
