"""Self-play for the page: episodes stream as they are played, and past run directories can be browsed.

``stream_selfplay`` runs ``apps.selfplay.run_selfplay`` (the same run directory the CLI writes) in a
thread and yields a snapshot after every lockstep step: one dialogue as it grows (the lowest-numbered
episode still in play, else the last one finished), the episodes finished so far and their metrics, and
the progress with its ETA. A run, played or stored, is shown by its metrics table and :func:`outcome_figure`.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from matplotlib.figure import Figure

from apps.gui.chat import literal
from apps.gui.progress import Progress
from apps.selfplay import SelfPlayConfig, run_selfplay
from agents.simulation import ModelLoader
from workbench.env import DialogueState
from workbench.episodes import Episode, Turn
from workbench.errors import WorkbenchError
from workbench.progress import Progress as Reading
from workbench.evaluate import metrics_table, plot_returns, rounded
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
    episodes: list[Episode] = field(default_factory=list)
    """The episodes finished so far (all of the run's, once done)."""
    progress: Progress | None = None


def transcript(turns: Sequence[Turn], agent_role: str) -> str:
    """A dialogue as Markdown lines (texts shown as written: :func:`apps.gui.chat.literal`), the agent's strategies
    in italics, each user turn's reward and the fallback that replaced an empty model reply."""
    lines = []
    for turn in turns:
        strategy = f" *[{turn.strategy}]*" if turn.strategy and turn.role == agent_role else ""
        reward = turn.info.get("verdict", {}).get("reward")
        after = f" *(critic: {reward:+.3f})*" if reward is not None else ""
        if "fallback" in turn.info:
            after += f" *(replaced: {turn.info['fallback']})*"
        lines.append(f"**{turn.role}**{strategy}: {literal(turn.text)}{after}")
    return "\n\n".join(lines)


def stream_selfplay(config: SelfPlayConfig, load: ModelLoader) -> Iterator[Snapshot]:
    """Play ``config`` in a thread and yield a snapshot after every step, then the final one (with the run)."""
    env = env_class(config.env)
    updates: queue.Queue = queue.Queue()
    finished: list[Episode] = []
    watched: dict[str, int | None] = {"index": None}
    started = time.monotonic()

    reading: dict[str, Any] = {"last": None, "sent": 0.0}

    def progress(done: int) -> Progress:
        """Model calls done of those planned, with their ETA (moving within a turn), once the rollout reports;
        before that and at the end, finished episodes."""
        if reading["last"] is None or done == config.n:
            return Progress.estimate("episodes", done, config.n, time.monotonic() - started)
        return Progress.of(f"{done}/{config.n} episodes · model calls", reading["last"])

    def on_progress(update: Reading) -> None:  # from the rollout's or a model's worker thread
        reading["last"] = update
        if time.monotonic() - reading["sent"] >= 1.0:
            reading["sent"] = time.monotonic()
            updates.put(update)

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
        updates.put(Snapshot(text, len(finished), config.n, metrics_table(env, finished) if finished else {},
                             episodes=list(finished), progress=progress(len(finished))))

    def play() -> None:
        try:
            run, table = run_selfplay(config, load, on_step, on_progress)
            updates.put(Snapshot("", config.n, config.n, table, done=True, run_dir=run.path,
                                 episodes=browse(run.path, "all"), progress=progress(config.n)))
        except Exception as error:  # handed to the page's thread, which shows a WorkbenchError's message
            updates.put(error)

    threading.Thread(target=play, name="selfplay", daemon=True).start()
    watching, last = "", None
    while True:
        update = updates.get()
        if isinstance(update, Exception):
            raise update
        if isinstance(update, Reading):  # within a turn: the last snapshot with the progress moved on
            if last is not None:
                yield replace(last, progress=progress(last.finished))
            continue
        if update.done:
            update.watching = watching
            yield update
            return
        watching, last = update.watching, update
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


def run_metrics(episodes: Sequence[Episode]) -> list[list[Any]]:
    """The metrics table of ``episodes`` (``workbench.evaluate.metrics_table``) as rows of (metric, rounded value);
    none for no episodes."""
    if not episodes:
        return []
    table = metrics_table(env_class(episodes[0].env), episodes)
    return [[name, rounded(float(value)) if isinstance(value, float) else value] for name, value in table.items()]


def outcome_figure(episodes: Sequence[Episode], total: int | None = None) -> Figure | None:
    """Two panels: the episodes by outcome (success, failure and, with ``total`` above their number, those still to
    play) as bars, and the histogram of their returns (``workbench.evaluate.plot_returns``); None for no episodes.
    Drawn on a figure of its own (no pyplot state), so sessions may draw at the same time."""
    if not episodes:
        return None
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    ax_out, ax_ret = fig.subplots(1, 2)
    wins = sum(bool(e.outcome.get("success")) for e in episodes)
    counts = {"success": wins, "failure": len(episodes) - wins}
    colours = ["tab:green", "tab:red"]
    if total is not None and total > len(episodes):
        counts["to play"] = total - len(episodes)
        colours.append("tab:gray")
    bars = ax_out.bar(list(counts), list(counts.values()), color=colours)
    ax_out.bar_label(bars)
    ax_out.set(title="Outcomes", ylabel="episodes")
    ax_out.set_ylim(0, max(counts.values()) * 1.2 + 0.5)
    plot_returns(ax_ret, episodes)
    return fig
