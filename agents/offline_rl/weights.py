"""Per-turn training weights of stored dialogues for offline RL of the strategy planner.

Every agent turn that carries a strategy becomes a planner example (history as "Role: text" lines, the
strategy); the methods differ only in each example's weight:

- ``bc``: behaviour cloning, weight 1.
- ``fbc``: filtered behaviour cloning, weight 1 for the turns of dialogues whose return reaches the
  ``quantile`` of all returns, 0 otherwise (Hong et al. 2024 compare against it).
- ``awr``: utterance-level advantage-weighted regression (Peng et al. 2019, "Advantage-Weighted
  Regression", Eq. 7 with Monte-Carlo values): weight ``min(exp(A / beta), max_weight)``. A hindsight
  dataset holds, for the same dialogue state, the original turn and rewrites of it, each followed to the
  end by the simulator, so ``A(s, a) = Q(s, a) - V(s)`` is estimated from returns without a learned critic:
  ``V(s)`` is the mean return of the dataset's dialogues that pass through state ``s`` (same source
  dialogue, same earlier strategies) and ``Q(s, a)`` that of the ones that also take ``a`` there. Hong et
  al. train with offline value-based RL on the regenerated data; we choose AWR because their regenerations
  are exactly counterfactual branches from shared states, where these Monte-Carlo advantages are unbiased
  and need no bootstrapped value network (ILQL's), which would be unstable on a few thousand turns. On
  data without branches every state has one continuation, A = 0, and AWR reduces to BC.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from workbench.episodes import Episode, format_history
from workbench.errors import WorkbenchError

METHODS = ("bc", "fbc", "awr")


@dataclass(frozen=True)
class WeightedExample:
    history: str
    label: int
    weight: float
    advantage: float = 0.0


def _steps(episode: Episode, agent_role: str) -> list[tuple[int, str]]:
    """``(turn index, strategy)`` of the episode's agent turns."""
    return [(i, t.strategy) for i, t in enumerate(episode.turns) if t.role == agent_role and t.strategy]


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def weighted_examples(episodes: Sequence[Episode], agent_role: str, strategies: Sequence[str], method: str, *,
                      q: float = 0.5, beta: float = 0.2, max_weight: float = 20.0) -> list[WeightedExample]:
    """One example per strategy-labelled agent turn, weighted by ``method`` (module docstring)."""
    if method not in METHODS:
        raise WorkbenchError(f"unknown offline RL method {method!r} (use {', '.join(METHODS)})")
    if not episodes:
        raise WorkbenchError("no episodes to learn from")
    index = {name: i for i, name in enumerate(strategies)}
    returns = [e.total_reward for e in episodes]
    cut = quantile(returns, q)
    values: dict[tuple, list[float]] = defaultdict(list)  # state (source, earlier strategies) -> returns
    actions: dict[tuple, list[float]] = defaultdict(list)  # (state, strategy) -> returns
    for e, r in zip(episodes, returns):
        prefix: tuple = (e.provenance.get("source", e.id),)
        for _, strategy in _steps(e, agent_role):
            values[prefix].append(r)
            actions[prefix + (strategy,)].append(r)
            prefix += (strategy,)
    examples = []
    for e, r in zip(episodes, returns):
        prefix = (e.provenance.get("source", e.id),)
        for i, strategy in _steps(e, agent_role):
            if strategy not in index:
                raise WorkbenchError(f"episode {e.id!r} turn {i}: unknown strategy {strategy!r}")
            advantage = _mean(actions[prefix + (strategy,)]) - _mean(values[prefix])
            weight = {"bc": 1.0, "fbc": float(r >= cut),
                      "awr": min(math.exp(advantage / beta), max_weight)}[method]
            history = format_history((t.role, t.text) for t in e.turns[:i])
            examples.append(WeightedExample(history, index[strategy], weight, advantage))
            prefix += (strategy,)
    return examples


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
