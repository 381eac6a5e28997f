"""Batched self-play: many episodes in lockstep.

Each step makes three batched calls over every live dialogue: the agent's turns
(``agent.act``), the simulator's replies and the critic's verdicts (both inside
``env.advance``). A finished episode is appended to the run directory at once and its slot is
refilled from the queue, so batches stay full and an interrupt loses only the episodes in
flight. Episode ``i`` plays ``cases[i % len(cases)]`` with its own seed, so results do not
depend on which other episodes share its batch (exactly so for scripted simulators).
``rollout_many`` does the same for several agents at once (an evaluation of several planners), so
that their simulator and critic calls share batches. Its ``seeds`` and ``on_begin`` let a caller choose
each episode's seed and prepare its state before the first turn (hindsight replay plays stored plans
this way, each with its own seed and length).

Progress is counted in model calls, so that it moves within a step: each dialogue's step is one agent turn,
one user turn and the critic's verdict calls (an LLM critic's samples; :func:`workbench.critics.verdict_calls`).
Local models report every finished sequence while a batched call runs (:mod:`workbench.progress`); other
calls count when they return. The total is planned before the first step (every episode at full length) and
refined after each step (the turns left, from how many episodes that reached each turn ended there:
:class:`Lengths`), so the bar's ETA holds from the first finished call; ``on_progress`` receives the same
readings.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable, Mapping, Sequence

from workbench.critics import verdict_calls
from workbench.env import Agent, DialogueEnv, DialogueState
from workbench.episodes import Case, Episode
from workbench.errors import WorkbenchError
from workbench.progress import Meter, ProgressFn
from workbench.runs import Run


StepHook = Callable[[Sequence[tuple[int, DialogueState]], Sequence[Episode]], None]
"""Called after every lockstep step with the live ``(index, state)`` pairs (their turns so far, read-only)
and the episodes that step finished (e.g. to stream a dialogue and the metrics to a page)."""

BeginHook = Callable[[Hashable, int, DialogueState], None]
"""Called with each dialogue's agent key, episode index and new state before the agent's first turn
(e.g. to shorten the dialogue or to tie the state to what the agent should say in it)."""


def episode_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def rollout(env: DialogueEnv, agent: Agent, cases: Sequence[Case], *, n: int, seed: int = 0,
            batch_size: int = 32, run: Run | None = None, skip: Sequence[int] = (),
            provenance: dict[str, Any] | None = None, progress: bool = True,
            on_step: StepHook | None = None, on_progress: ProgressFn | None = None) -> list[Episode]:
    """Play episodes ``0..n-1`` except those in ``skip`` (already stored); return them by index."""
    return rollout_many(env, {None: agent}, cases, n=n, seed=seed, batch_size=batch_size, run=run,
                        skip=[(None, i) for i in skip], provenance={None: provenance or {}}, progress=progress,
                        on_step=on_step, on_progress=on_progress)[None]


class Lengths:
    """How long episodes run, from the turns they reached and where they ended (the Kaplan-Meier estimate,
    so that live episodes count as well as finished ones): the expected agent turns still to play."""

    def __init__(self, max_turns: int):
        self.max_turns = max_turns
        self.reached = [0] * (max_turns + 1)
        self.ended = [0] * (max_turns + 1)

    def record(self, state: DialogueState) -> None:
        """``state`` just played its latest agent turn (and may have ended there)."""
        turn = min(state.agent_turns, self.max_turns)
        self.reached[turn] += 1
        self.ended[turn] += state.done or state.truncated

    def remaining(self, live: Sequence[DialogueState], pending: int) -> float:
        """Expected turns left for the ``live`` dialogues and ``pending`` new ones (a turn no episode has
        reached yet is expected to be played)."""
        survive, plays = [1.0], [0.0]  # P(episode plays beyond turn k); expected turns played up to turn k
        for k in range(1, self.max_turns + 1):
            plays.append(plays[-1] + survive[-1])
            survive.append(survive[-1] * (1 - self.ended[k] / self.reached[k] if self.reached[k] else 1.0))
        last = self.max_turns
        return (sum((plays[min(s.max_turns, last)] - plays[min(s.agent_turns, last)])
                    / max(survive[min(s.agent_turns, last)], 1e-9) for s in live) + pending * plays[-1])


def rollout_many(env: DialogueEnv, agents: Mapping[Hashable, Agent], cases: Sequence[Case], *, n: int,
                 seed: int = 0, batch_size: int = 32, run: Run | None = None,
                 skip: Sequence[tuple[Hashable, int]] = (), provenance: Mapping[Hashable, dict[str, Any]] | None = None,
                 progress: bool = True, on_step: StepHook | None = None, seeds: Sequence[int] | None = None,
                 on_begin: BeginHook | None = None, desc: str | None = None,
                 on_progress: ProgressFn | None = None) -> dict[Hashable, list[Episode]]:
    """Episodes ``0..n-1`` for every agent (keyed, e.g. by planner) in one lockstep: episode ``i``
    plays the same case with the same seed for every agent, each agent acts for its own dialogues,
    and the simulator and critic see all live dialogues as one batch. ``skip`` lists ``(key, i)``
    already stored; ``provenance[key]`` goes into that agent's episodes; ``on_step`` sees every step.
    ``seeds[i]``, when given, is episode ``i``'s seed instead of ``episode_seed(seed, i)``; ``on_begin``
    sees every new dialogue; ``desc`` labels the progress bar (``progress``) and ``on_progress`` receives its
    readings (module docstring)."""
    if not cases:
        raise WorkbenchError("no cases to play")
    if batch_size < 1:
        raise WorkbenchError("batch_size must be at least 1")
    if seeds is not None and len(seeds) != n:
        raise WorkbenchError(f"{len(seeds)} seeds for {n} episodes")
    done = set(skip)
    pending = deque((key, i) for key in agents for i in range(n) if (key, i) not in done)
    live: list[tuple[Hashable, int, DialogueState]] = []
    finished: dict[Hashable, dict[int, Episode]] = {key: {} for key in agents}
    episodes_total, lengths = len(pending), Lengths(env.max_turns)
    per_turn = 2 + verdict_calls(env.critic)  # agent turn, user turn, verdicts
    with Meter(episodes_total * env.max_turns * per_turn, desc=desc or f"{env.name} self-play", unit="call",
               show=progress, on_progress=on_progress) as meter:
        while pending or live:
            while pending and len(live) < batch_size:
                key, i = pending.popleft()
                state = env.begin(cases[i % len(cases)], episode_seed(seed, i) if seeds is None else seeds[i])
                if on_begin is not None:
                    on_begin(key, i, state)
                live.append((key, i, state))
            states = [s for _, _, s in live]
            played, turn = episodes_total - len(pending) - len(live), [s.agent_turns + 1 for s in states]
            meter.describe(f"{played}/{episodes_total} ep, turn {min(turn)}-{max(turn)}, {len(states)} live")
            turns: list = [None] * len(live)
            with meter.calls(len(live)):
                for key in dict.fromkeys(k for k, _, _ in live):
                    slots = [j for j, (k, _, _) in enumerate(live) if k == key]
                    for j, turn in zip(slots, agents[key].act([live[j][2] for j in slots]), strict=True):
                        turns[j] = turn
            with meter.calls(len(live) * (per_turn - 1)):
                env.advance(states, turns)
            for state in states:
                lengths.record(state)
            ended = [(k, i, s) for k, i, s in live if s.done or s.truncated]
            live = [(k, i, s) for k, i, s in live if not (s.done or s.truncated)]
            episodes = [env.finish(s, provenance={**(provenance or {}).get(k, {}), "index": i}) for k, i, s in ended]
            if run is not None and episodes:
                run.append_episodes(episodes)
            for (k, i, _), e in zip(ended, episodes):
                finished[k][i] = e
            meter.plan(meter.done + round(per_turn * lengths.remaining([s for _, _, s in live], len(pending))))
            if on_step is not None:
                on_step([(i, s) for _, i, s in live], episodes)
        meter.describe(f"{episodes_total}/{episodes_total} ep")
    return {key: [eps[i] for i in sorted(eps)] for key, eps in finished.items()}
