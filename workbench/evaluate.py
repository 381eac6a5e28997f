"""Metrics tables and outcome plots for episode sets.

The environment defines its domain metrics (e.g. negotiation: SR, AT, SL% as in PPDPP); every
table also carries the episode count and the mean return (sum of per-turn critic rewards).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from workbench.env import DialogueEnv
from workbench.episodes import Episode
from workbench.errors import WorkbenchError


def metrics_table(env: type[DialogueEnv], episodes: Sequence[Episode]) -> dict[str, float]:
    if not episodes:
        raise WorkbenchError("no episodes to evaluate")
    return {"episodes": len(episodes), **env.metrics(episodes),
            "return": sum(e.total_reward for e in episodes) / len(episodes)}


def _cell(value: float) -> str:
    return f"{value:d}" if isinstance(value, int) else f"{value:.4g}"


def format_table(metrics: dict[str, float]) -> str:
    """A Markdown table, one column per metric, numbers to 4 significant digits."""
    return "\n".join(["| " + " | ".join(metrics) + " |", "|" + "---|" * len(metrics),
                      "| " + " | ".join(map(_cell, metrics.values())) + " |"])


def format_rows(rows: dict[str, dict[str, float]], first: str = "planner") -> str:
    """A Markdown table with one row per label (e.g. per planner) and one column per metric."""
    columns = list(next(iter(rows.values())))
    lines = ["| " + " | ".join([first, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    lines += ["| " + " | ".join([label, *(_cell(m[c]) for c in columns)]) + " |" for label, m in rows.items()]
    return "\n".join(lines)


def sr_by_turn(episodes: Sequence[Episode], max_turns: int) -> list[float]:
    """Success rate by turn t = 1..max_turns: the share of episodes that succeeded within t agent
    turns (PPDPP's Fig. 3 curves)."""
    return [sum(e.success and e.outcome.get("turns", 0) <= t for e in episodes) / len(episodes)
            for t in range(1, max_turns + 1)]


Line = tuple[Sequence[float], Sequence[float]]


def plot_lines(panels: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Side-by-side line charts; each panel is ``{"title", "xlabel", "ylabel", "lines": {label: (xs, ys)}}``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for label, (xs, ys) in panel["lines"].items():
            ax.plot(xs, ys, marker="o" if len(xs) <= 20 else None, label=label)
        ax.set(title=panel["title"], xlabel=panel["xlabel"], ylabel=panel["ylabel"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save_figure(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: str | Path) -> Path:
    """Write the figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_outcomes(episodes: Sequence[Episode], agent_role: str, path: str | Path, title: str) -> Path:
    """Three panels: returns of successes and failures, dialogue lengths, and how often each
    strategy was played in successful and failed episodes."""
    plt = _pyplot()
    fig, (ax_ret, ax_len, ax_str) = plt.subplots(1, 3, figsize=(15, 4.2))
    returns = [round(e.total_reward, 6) for e in episodes]
    low, high = min(returns), max(returns)
    return_bins = [low + (high - low) * i / 20 for i in range(21)] if high > low else [low - 0.5, high + 0.5]
    length_bins = [b - 0.5 for b in range(max(int(e.outcome.get("turns", 0)) for e in episodes) + 2)]
    for success, colour in ((True, "tab:green"), (False, "tab:red")):
        group = [e for e in episodes if e.success == success]
        label = f"{'success' if success else 'failure'} ({len(group)})"
        ax_ret.hist([round(e.total_reward, 6) for e in group], bins=return_bins, alpha=0.6, color=colour, label=label)
        ax_len.hist([e.outcome.get("turns", 0) for e in group], bins=length_bins, alpha=0.6, color=colour, label=label)
    ax_ret.set(title="Episode return", xlabel="sum of critic rewards", ylabel="episodes")
    ax_len.set(title="Dialogue length", xlabel="agent turns", ylabel="episodes")
    ax_ret.legend()
    ax_len.legend()
    counts = {ok: Counter(t.strategy for e in episodes if e.success == ok for t in e.turns
                          if t.role == agent_role and t.strategy) for ok in (True, False)}
    names = sorted(set(counts[True]) | set(counts[False]))
    ax_str.barh(names, [counts[True][n] for n in names], color="tab:green", label="in successes")
    ax_str.barh(names, [counts[False][n] for n in names], left=[counts[True][n] for n in names],
                color="tab:red", label="in failures")
    ax_str.set(title="Strategies played", xlabel="agent turns")
    if names:
        ax_str.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.suptitle(title)
    return _save_figure(fig, path)
