"""Strategy policies: choose the next dialogue strategy for many dialogues at once.

A policy returns ``(strategy, probability)`` per dialogue (probability None where the policy has
none, as for an LLM's own pick). Specs (``--policy``, ``--planners``): ``random`` draws uniformly
with each episode's own random stream; ``most-frequent`` always plays the strategy human agents
use most in the annotated data; ``fixed:<name>`` always plays one strategy; ``planner:<folder>``
is a saved PPDPP planner; an environment can add its own by name (``DialogueEnv.policies``, e.g. household's
``follow-instructions``); ``procot`` lets the agent's chat model pick (needs one); ``none`` plays no
strategy at all (the LLM agent speaks freely: PPDPP's "Standard" baseline).
"""

from __future__ import annotations

from typing import Protocol, Sequence

from langchain_core.language_models import BaseChatModel

from workbench.env import DialogueEnv, DialogueState, Strategy
from workbench.errors import WorkbenchError


class Policy(Protocol):
    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float | None]]: ...


class RandomPolicy:
    """Uniform over the strategy set, drawn from each dialogue's own ``rng``."""

    def __init__(self, strategies: Sequence[Strategy]):
        self.strategies = tuple(strategies)

    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float]]:
        p = 1.0 / len(self.strategies)
        return [(s.rng.choice(self.strategies), p) for s in states]


class FixedPolicy:
    """Always the same strategy."""

    def __init__(self, strategy: Strategy):
        self.strategy = strategy

    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float]]:
        return [(self.strategy, 1.0) for _ in states]


def make_policy(spec: str, env: type[DialogueEnv], model: BaseChatModel | None = None, *,
                greedy: bool = False) -> Policy | None:
    """The policy for ``spec`` (see the module docstring); ``greedy`` makes a planner take its most
    likely strategy instead of sampling; ``model`` is the agent's chat model (for ``procot``)."""
    if spec == "none":
        return None
    own = env.policies()
    if spec in own:
        return own[spec]()
    if spec == "random":
        return RandomPolicy(env.strategies)
    if spec == "most-frequent":
        from agents.ppdpp.data import most_frequent_strategy

        return FixedPolicy(most_frequent_strategy(env))
    if spec.startswith("fixed:"):
        return FixedPolicy(env.strategy(spec.removeprefix("fixed:")))
    if spec.startswith("planner:"):
        from agents.ppdpp.planner import PlannerPolicy, StrategyPlanner

        return PlannerPolicy(StrategyPlanner.load(spec.removeprefix("planner:")), env, greedy=greedy)
    if spec == "procot":
        if model is None:
            raise WorkbenchError("the procot policy needs an agent chat model (--agent_model)")
        from agents.procot import ProCoTPolicy

        return ProCoTPolicy(model, env)
    extra = "".join(f", {name}" for name in own)
    raise WorkbenchError(f"unknown policy {spec!r} (use random, most-frequent, fixed:<strategy>, "
                         f"planner:<folder>, procot{extra} or none)")
