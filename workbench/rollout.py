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
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable, Mapping, Sequence

from tqdm.auto import tqdm

from workbench.env import Agent, DialogueEnv, DialogueState
from workbench.episodes import Case, Episode
from workbench.errors import WorkbenchError
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
            on_step: StepHook | None = None) -> list[Episode]:
    """Play episodes ``0..n-1`` except those in ``skip`` (already stored); return them by index."""
    return rollout_many(env, {None: agent}, cases, n=n, seed=seed, batch_size=batch_size, run=run,
                        skip=[(None, i) for i in skip], provenance={None: provenance or {}}, progress=progress,
                        on_step=on_step)[None]


def rollout_many(env: DialogueEnv, agents: Mapping[Hashable, Agent], cases: Sequence[Case], *, n: int,
                 seed: int = 0, batch_size: int = 32, run: Run | None = None,
                 skip: Sequence[tuple[Hashable, int]] = (), provenance: Mapping[Hashable, dict[str, Any]] | None = None,
                 progress: bool = True, on_step: StepHook | None = None, seeds: Sequence[int] | None = None,
                 on_begin: BeginHook | None = None, desc: str | None = None) -> dict[Hashable, list[Episode]]:
    """Episodes ``0..n-1`` for every agent (keyed, e.g. by planner) in one lockstep: episode ``i``
    plays the same case with the same seed for every agent, each agent acts for its own dialogues,
    and the simulator and critic see all live dialogues as one batch. ``skip`` lists ``(key, i)``
    already stored; ``provenance[key]`` goes into that agent's episodes; ``on_step`` sees every step.
    ``seeds[i]``, when given, is episode ``i``'s seed instead of ``episode_seed(seed, i)``; ``on_begin``
    sees every new dialogue; ``desc`` labels the progress bar."""
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
    with tqdm(total=len(pending), desc=desc or f"{env.name} self-play", unit="ep", disable=not progress) as bar:
        while pending or live:
            while pending and len(live) < batch_size:
                key, i = pending.popleft()
                state = env.begin(cases[i % len(cases)], episode_seed(seed, i) if seeds is None else seeds[i])
                if on_begin is not None:
                    on_begin(key, i, state)
                live.append((key, i, state))
            turns: list = [None] * len(live)
            for key in dict.fromkeys(k for k, _, _ in live):
                slots = [j for j, (k, _, _) in enumerate(live) if k == key]
                for j, turn in zip(slots, agents[key].act([live[j][2] for j in slots]), strict=True):
                    turns[j] = turn
            states = [s for _, _, s in live]
            env.advance(states, turns)
            bar.set_postfix_str(f"{len(states)} in flight, turns {min(s.agent_turns for s in states)}"
                                f"-{max(s.agent_turns for s in states)}", refresh=True)
            ended = [(k, i, s) for k, i, s in live if s.done or s.truncated]
            live = [(k, i, s) for k, i, s in live if not (s.done or s.truncated)]
            episodes = [env.finish(s, provenance={**(provenance or {}).get(k, {}), "index": i}) for k, i, s in ended]
            if run is not None and episodes:
                run.append_episodes(episodes)
            for (k, i, _), e in zip(ended, episodes):
                finished[k][i] = e
            bar.update(len(episodes))
            if on_step is not None:
                on_step([(i, s) for _, i, s in live], episodes)
    return {key: [eps[i] for i in sorted(eps)] for key, eps in finished.items()}
