"""Finished dialogues as agent plans, and their replay against a user simulator.

A *plan* is a dialogue's agent turns (strategy and, optionally, text). Replaying it puts the same agent
moves to the environment's user simulator and critic again, in lockstep over many plans, so the original
dialogue and every rewrite of one of its turns are scored by the same simulator (Hong et al. 2024,
"Interactive Dialogue Agents via Reinforcement Learning on Hindsight Regenerations": the simulator
continues from each rewrite). A plan with a strategy but no text is spoken by the environment's template
agent; a replay ends when the critic says the dialogue is done or the plan runs out. Replays run in the
rollout runner's lockstep (:func:`workbench.rollout.rollout_many`), each with its plan's seed.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Hashable, Sequence

from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Case, Episode, Turn, load_episodes
from workbench.errors import WorkbenchError
from workbench.rollout import episode_seed, rollout_many


@dataclass(frozen=True)
class Move:
    strategy: str | None
    text: str | None = None
    """None: the template agent speaks the strategy."""


@dataclass
class Plan:
    """One dialogue to play: its case and seed, the agent's moves, and what it was derived from."""

    source: str
    case: Case
    seed: int
    moves: list[Move]
    meta: dict[str, Any] = field(default_factory=dict)

    def rewrite(self, index: int, move: Move, **meta: Any) -> Plan:
        """The same plan with agent turn ``index`` replaced by ``move``."""
        moves = [*self.moves[:index], move, *self.moves[index + 1:]]
        return replace(self, moves=moves, meta={**self.meta, **meta})


def plans_from_cases(env: type[DialogueEnv], cases: Sequence[Case], *, keep_text: bool, seed: int = 0) -> list[Plan]:
    """Plans from the human dialogues of ``cases`` (``fields["turns"]``); with ``keep_text`` the human
    persuader's words are replayed, else the template agent speaks each annotated strategy. Dialogues
    without agent turns are skipped."""
    plans = []
    for i, case in enumerate(cases):
        turns = [t for t in case.fields.get("turns") or [] if t["role"] == env.agent_role]
        moves = [Move(t.get("strategy"), t["text"] if keep_text else None) for t in turns]
        if not keep_text and any(m.strategy is None for m in moves):
            raise WorkbenchError(f"{case.id}: an agent turn has no strategy label; replay its text instead")
        if moves:
            plans.append(Plan(case.id, case, episode_seed(seed, i), moves, {"origin": "human"}))
    if not plans:
        raise WorkbenchError("no dialogue with agent turns among the cases")
    return plans


def plans_from_episodes(env: type[DialogueEnv], folder: str | Path, *, keep_text: bool) -> list[Plan]:
    """Plans from a run directory's episodes (self-play), replayed with their seeds."""
    path = Path(folder)
    episodes = load_episodes(path / "episodes" if (path / "episodes").is_dir() else path)
    plans = []
    for e in episodes:
        if e.env != env.name:
            raise WorkbenchError(f"{folder}: episode {e.id} is from {e.env!r}, not {env.name!r}")
        agent = [t for t in e.turns[_opening(e):] if t.role == env.agent_role]
        found = re.search(r"@(\d+)(#|$)", e.id)
        seed = int(found.group(1)) if found else 0
        plans.append(Plan(e.id, e.case, seed, [Move(t.strategy, t.text if keep_text or not t.strategy else None)
                                                for t in agent], {"origin": "episode"}))
    if not plans:
        raise WorkbenchError(f"no episodes in {folder}")
    return plans


def _opening(episode: Episode) -> int:
    return sum(bool(t.info.get("opening")) for t in episode.turns)


class PlanAgent:
    """Speaks each plan's moves: a move's text, or the template agent's line for its strategy. Its
    :meth:`begin` ties a new dialogue to its plan and ends the dialogue where the plan does."""

    def __init__(self, env: DialogueEnv, plans: Sequence[Plan]):
        self.env, self.plans = env, plans
        self.plan_of: dict[int, Plan] = {}
        """``id(state)`` of each live dialogue -> its plan."""

    def begin(self, key: Hashable, index: int, state: DialogueState) -> None:
        plan = self.plans[index]
        state.max_turns = min(state.max_turns, len(plan.moves))
        self.plan_of[id(state)] = plan

    def act(self, states: Sequence[DialogueState]) -> list[Turn]:
        turns = []
        for state in states:
            move = self.plan_of[id(state)].moves[state.agent_turns]
            text = move.text if move.text is not None else self.env.realise(state, self.env.strategy(move.strategy))
            turns.append(Turn(role=state.agent_role, text=text, strategy=move.strategy))
        return turns


def replay(env: DialogueEnv, plans: Sequence[Plan], *, batch_size: int = 256, progress: bool = True,
           desc: str = "replaying") -> list[Episode]:
    """Play every plan against ``env``'s simulator and critic, in lockstep batches; episode ``i`` is plan
    ``i``'s, with ``provenance`` holding the plan's ``meta``, its ``source`` and ``return`` (the episode's
    total reward)."""
    if not plans:
        return []
    agent = PlanAgent(env, plans)
    (episodes,) = rollout_many(env, {None: agent}, [p.case for p in plans], n=len(plans),
                               seeds=[p.seed for p in plans], on_begin=agent.begin, batch_size=batch_size,
                               progress=progress, desc=desc).values()
    for plan, episode in zip(plans, episodes, strict=True):
        episode.id = f"{episode.id}{plan.meta.get('suffix', '')}"
        episode.provenance = {**plan.meta, "source": plan.source, "return": episode.total_reward}
    return episodes
