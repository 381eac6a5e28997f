"""Self-play for the page: episodes stream as they are played, and past run directories can be browsed.

``stream_selfplay`` runs ``apps.selfplay.run_selfplay`` (the same run directory the CLI writes) in a
thread and yields a snapshot after every lockstep step: one dialogue as it grows (the lowest-numbered
episode still in play, else the last one finished) and the metrics of the episodes finished so far.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from apps.selfplay import SelfPlayConfig, run_selfplay
from agents.simulation import ModelLoader
from workbench.env import DialogueState
from workbench.episodes import Episode, Turn
from workbench.errors import WorkbenchError
from workbench.evaluate import metrics_table
from workbench.registry import env_class
from workbench.runs import Run

OUTCOMES = ("all", "success", "failure")


@dataclass
class Snapshot:
    """What the page shows after one step."""

    watching: str
    """Markdown of the dialogue being streamed."""
    finished: int
    total: int
    metrics: dict[str, float]
    done: bool = False
    run_dir: Path | None = None


def transcript(turns: Sequence[Turn], agent_role: str) -> str:
    """A dialogue as Markdown lines, the agent's strategies in italics, each user turn's reward and the
    fallback that replaced an empty model reply."""
    lines = []
    for turn in turns:
        strategy = f" *[{turn.strategy}]*" if turn.strategy and turn.role == agent_role else ""
        reward = turn.info.get("verdict", {}).get("reward")
        after = f" *(critic: {reward:+.3f})*" if reward is not None else ""
        if "fallback" in turn.info:
            after += f" *(replaced: {turn.info['fallback']})*"
        lines.append(f"**{turn.role}**{strategy}: {turn.text}{after}")
    return "\n\n".join(lines)


def stream_selfplay(config: SelfPlayConfig, load: ModelLoader) -> Iterator[Snapshot]:
    """Play ``config`` in a thread and yield a snapshot after every step, then the final one (with the run)."""
    env = env_class(config.env)
    updates: queue.Queue = queue.Queue()
    finished: list[Episode] = []
    watched: dict[str, int | None] = {"index": None}

    def on_step(live: Sequence[tuple[int, DialogueState]], ended: Sequence[Episode]) -> None:
        finished.extend(ended)
        if watched["index"] not in {i for i, _ in live}:
            watched["index"] = min((i for i, _ in live), default=None)
        state = next((s for i, s in live if i == watched["index"]), None)
        if state is not None:
            text = f"Episode {watched['index']} (case {state.case.id}), in play\n\n" + transcript(state.turns,
                                                                                             env.agent_role)
        else:
            last = finished[-1]
            text = (f"Episode {last.provenance['index']} (case {last.case.id}), finished: "
                    f"{'success' if last.outcome.get('success') else 'failure'}\n\n"
                    + transcript(last.turns, env.agent_role))
        updates.put(Snapshot(text, len(finished), config.n, metrics_table(env, finished) if finished else {}))

    def play() -> None:
        try:
            run, table = run_selfplay(config, load, on_step)
            updates.put(Snapshot("", config.n, config.n, table, done=True, run_dir=run.path))
        except Exception as error:  # handed to the page's thread, which shows a WorkbenchError's message
            updates.put(error)

    threading.Thread(target=play, name="selfplay", daemon=True).start()
    watching = ""
    while True:
        update = updates.get()
        if isinstance(update, Exception):
            raise update
        if update.done:
            update.watching = watching
            yield update
            return
        watching = update.watching
        yield update


def browse(run_dir: Path, outcome: str) -> list[Episode]:
    """The run's episodes with the outcome ``outcome`` (all, success or failure)."""
    if outcome not in OUTCOMES:
        raise WorkbenchError(f"unknown outcome filter {outcome!r} (use {', '.join(OUTCOMES)})")
    run = Run(run_dir)
    run.config()  # a clear error when the folder is not a run directory
    episodes = sorted(run.episodes(), key=lambda e: e.provenance.get("index", 0))
    if outcome == "all":
        return episodes
    return [e for e in episodes if bool(e.outcome.get("success")) == (outcome == "success")]


def episode_rows(episodes: Sequence[Episode]) -> list[list]:
    """One table row per episode: index, id, outcome, agent turns, return."""
    return [[e.provenance.get("index", n), e.id, "success" if e.outcome.get("success") else "failure",
             e.outcome.get("turns"), round(sum(t.reward or 0.0 for t in e.turns), 3)] for n, e in enumerate(episodes)]
