"""Multi-trial episodes: play a case again after a failure, with reflections on the earlier trials in memory.

Reflexion (Shinn et al. 2023) and Retroformer (Yao et al., ICLR 2024, Sec. 3-4): a *trial* is one episode on a
case; after a failed trial a reflector reads the trial (its turns and return) and writes a short reflection; the
frozen actor plays the same case again with the last ``K`` reflections in its prompt; up to ``N`` trials, and a
case that succeeded plays no more (so the success rate by trial ``k`` is the share of cases solved within ``k``
trials, the papers' curves).

*Where trial memory lives.* Each case's trials are one :class:`TrialMemory` (the returns, successes and
reflections so far), kept here, outside the environment. Before a trial's first turn the last ``K`` reflections
are copied into :attr:`workbench.env.DialogueState.memory`, the agent's side of the state, which the agent's
prompt reads (:meth:`workbench.env.DialogueEnv.with_memory`); the simulator's ``hidden`` state never holds them.
In a run directory the trials are episodes (``provenance``: ``variant``, ``index``, ``trial`` and the
``memory`` the actor saw) and the reflections are rows of ``reflections.jsonl``.

*Same case, same persona.* Every trial of case ``i`` begins from the same episode seed, so a scripted user draws
the same hidden persona each time; the dialogue's random stream is then reseeded per trial, so the actor's and
the user's draws differ from trial to trial as a replayed conversation would.

All cases of a trial (and all variants: no reflection, Reflexion, Retroformer, ...) play in one lockstep
(:func:`workbench.rollout.rollout_many`), and each variant's reflections of a trial are one batched call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Protocol, Sequence

from workbench.env import Agent, DialogueEnv, DialogueState
from workbench.episodes import Case, Episode
from workbench.errors import WorkbenchError
from workbench.progress import ProgressFn
from workbench.rollout import episode_seed, rollout_many
from workbench.runs import Run


@dataclass
class Reflection:
    """A reflection on one failed trial; ``info`` says how it was made (``fallback`` when the reflector's output
    was unusable and something else stands in, counted by :func:`reflection_fallback_rate`)."""

    text: str
    info: dict[str, Any] = field(default_factory=dict)


class Reflector(Protocol):
    """Writes one reflection per failed trial, for many at once; ``memories[j]`` are the reflections the actor had
    in ``episodes[j]`` (its memory so far)."""

    def reflect(self, episodes: Sequence[Episode], memories: Sequence[Sequence[str]]) -> list[Reflection]: ...


@dataclass
class TrialMemory:
    """One case's trials so far: their episodes, and the reflections written after the failed ones
    (``reflections[k]`` on trial ``k + 1``)."""

    index: int
    episodes: list[Episode] = field(default_factory=list)
    reflections: list[str] = field(default_factory=list)

    @property
    def returns(self) -> list[float]:
        return [e.total_reward for e in self.episodes]

    @property
    def successes(self) -> list[bool]:
        return [e.success for e in self.episodes]

    @property
    def solved(self) -> bool:
        return any(self.successes)

    @property
    def trials(self) -> int:
        return len(self.episodes)

    def window(self, size: int) -> list[str]:
        """The last ``size`` reflections (Reflexion's bounded memory; 0: none)."""
        return self.reflections[-size:] if size > 0 else []


def reflection_reward(returns: Sequence[float], k: int) -> float:
    """Retroformer's rating of the reflection written after trial ``k`` (0-based): ``G(k+1) - G(k)``, the
    change of the episode return from the trial it reflects on to the next (Yao et al. 2024, Sec. 4)."""
    if not 0 <= k < len(returns) - 1:
        raise WorkbenchError(f"no trial after trial {k + 1} of {len(returns)} to rate its reflection by")
    return float(returns[k + 1] - returns[k])


def success_by_trial(memories: Sequence[TrialMemory], trials: int) -> list[float]:
    """Success rate by trial ``k = 1..trials``: the share of cases solved within ``k`` trials."""
    if not memories:
        return [0.0] * trials
    return [sum(any(m.successes[:k]) for m in memories) / len(memories) for k in range(1, trials + 1)]


def reflection_fallback_rate(rows: Sequence[dict[str, Any]]) -> float:
    """Share of reflection rows whose text stands in for an unusable reflector output."""
    return sum(bool(r.get("info", {}).get("fallback")) for r in rows) / len(rows) if rows else 0.0


def trial_seed(seed: int, trial: int) -> str:
    return f"{seed}:trial{trial}"


def run_trials(env: DialogueEnv, agents: Mapping[Hashable, Agent], reflectors: Mapping[Hashable, Reflector | None],
               cases: Sequence[Case], *, trials: int, memory_size: int, seed: int = 0, batch_size: int = 32,
               run: Run | None = None, provenance: Mapping[Hashable, dict[str, Any]] | None = None,
               progress: bool = True, on_progress: ProgressFn | None = None) -> dict[Hashable, list[TrialMemory]]:
    """Play up to ``trials`` trials of every case for every variant (a key of ``agents``; its reflector None: no
    reflection, the trials are independent retries); return each variant's memories by case index.

    With ``run``, every trial episode and reflection is stored as it is made, and what the run holds already
    (an interrupted run resumed) is read back instead of played again, so each is stored exactly once."""
    if trials < 1:
        raise WorkbenchError("trials must be at least 1")
    if memory_size < 0:
        raise WorkbenchError("the memory size must be at least 0")
    missing = [k for k in agents if k not in reflectors]
    if missing:
        raise WorkbenchError(f"variant {missing[0]!r} has no reflector entry (None for no reflection)")
    if len({str(k) for k in agents}) < len(agents):
        raise WorkbenchError("two variants have the same name")
    memories = {key: [TrialMemory(i) for i in range(len(cases))] for key in agents}
    names = {str(k): k for k in agents}  # a stored episode's "variant" back to its key
    stored = _stored(run, names)
    seeds = [episode_seed(seed, i) for i in range(len(cases))]
    for trial in range(1, trials + 1):
        playing = {key: {m.index for m in ms if not m.solved and m.trials == trial - 1} for key, ms in memories.items()}
        if not any(playing.values()):
            break  # every case solved
        done = {(key, i) for key in agents for i in range(len(cases)) if i not in playing[key]}
        found = {(key, i): stored["episodes"][(key, i, trial)] for key in agents for i in playing[key]
                 if (key, i, trial) in stored["episodes"]}

        def begin(key: Hashable, i: int, state: DialogueState, trial: int = trial) -> None:
            state.memory = memories[key][i].window(memory_size)
            state.rng = random.Random(trial_seed(state.seed, trial))

        extra = {key: {**(provenance or {}).get(key, {}), "variant": str(key), "trial": trial} for key in agents}
        played = rollout_many(env, agents, cases, n=len(cases), seed=seed, batch_size=batch_size, run=run,
                              skip=list(done | set(found)), seeds=seeds, on_begin=begin,
                              provenance=extra, progress=progress, desc=f"{env.name} trial {trial}/{trials}",
                              on_progress=on_progress)
        finished = [e for episodes in played.values() for e in episodes] + list(found.values())
        for episode in sorted(finished, key=lambda e: e.provenance["index"]):
            memories[names[episode.provenance["variant"]]][episode.provenance["index"]].episodes.append(episode)
        if trial < trials:
            _reflect(trial, memories, reflectors, finished, stored["reflections"], names, run)
    return memories


def _stored(run: Run | None, by_name: Mapping[str, Hashable]) -> dict[str, dict[tuple[Hashable, int, int], Any]]:
    """What ``run`` holds: trial episodes and reflection rows by ``(variant key, index, trial)``."""
    out: dict[str, dict[tuple[Hashable, int, int], Any]] = {"episodes": {}, "reflections": {}}
    if run is None:
        return out
    for episode in run.episodes():
        p = episode.provenance
        if p.get("variant") in by_name and "trial" in p:
            out["episodes"][(by_name[p["variant"]], p["index"], p["trial"])] = episode
    for row in run.reflections():
        if row.get("variant") in by_name:
            out["reflections"][(by_name[row["variant"]], row["index"], row["trial"])] = row
    return out


def _reflect(trial: int, memories: dict[Hashable, list[TrialMemory]], reflectors: Mapping[Hashable, Reflector | None],
             episodes: Sequence[Episode], stored: dict[tuple[Hashable, int, int], Any],
             names: Mapping[str, Hashable], run: Run | None) -> None:
    """Each variant's reflections on its failed trials ``trial`` (one batched call per variant), added to the
    memories; rows the run holds are reused."""
    for key, reflector in reflectors.items():
        if reflector is None:
            continue
        failed = sorted((e for e in episodes if names[e.provenance["variant"]] == key and not e.success),
                        key=lambda e: e.provenance["index"])
        todo = [e for e in failed if (key, e.provenance["index"], trial) not in stored]
        written = reflector.reflect(todo, [e.provenance.get("memory", []) for e in todo]) if todo else []
        if len(written) != len(todo):
            raise WorkbenchError(f"the reflector of {key!r} wrote {len(written)} reflections for {len(todo)} trials")
        rows = [{"variant": str(key), "index": e.provenance["index"], "trial": trial, "episode": e.id,
                 "return": e.total_reward, "text": r.text, "info": r.info} for e, r in zip(todo, written)]
        if run is not None and rows:
            run.append_reflections(rows)
        for row in rows:
            stored[(key, row["index"], trial)] = row
        for e in failed:
            memories[key][e.provenance["index"]].reflections.append(stored[(key, e.provenance["index"], trial)]["text"])
