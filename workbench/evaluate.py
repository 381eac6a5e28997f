"""Metrics tables, fallback rates and outcome plots for episode sets.

The environment defines its domain metrics (e.g. negotiation: SR, AT, SL% as in PPDPP); every
table also carries the episode count, the mean return (sum of per-turn critic rewards) and the
fallback rates of the sources the episodes had (:func:`fallback_rates`), so that every number says
how much of it rests on fallbacks.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from workbench.env import DialogueEnv
from workbench.episodes import Episode
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

FALLBACK_RATES = {
    "critic unparsable": "share of the critic's samples that matched no answer (ignored; a default reward "
                         "stands where none parsed)",
    "replaced replies": "share of the model-spoken turns whose empty reply was replaced by a template line or "
                        "\"...\"",
    "dropped votes": "share of the critic's parsed votes dropped by the environment (e.g. a deal at a price "
                     "nobody named)",
    "unparsed plans": "share of the model-planned (ProCoT) turns whose strategy answer named none (a random "
                      "strategy was played)",
}
"""The fallback rates :func:`fallback_rates` reports, and what each means."""


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def fallback_rates(episodes: Sequence[Episode]) -> dict[str, float]:
    """The fallback rates of ``episodes``, each pooled over all of them (a ratio of sums). A rate is
    present only when its source occurs in the episodes (a scripted run with a ground-truth critic has
    none), and then always, 0.0 included:

    * ``critic unparsable``: unparsable / drawn LLM-critic samples (``unparsable`` and ``samples`` of
      every verdict in the user turns' ``info["verdict"]``);
    * ``replaced replies``: turns marked ``info["fallback"]`` / turns a chat model spoke
      (``info["generated"]``: the LLM agent's and the LLM user simulator's turns; not template or
      scripted turns, nor the environment's opening);
    * ``dropped votes``: ``dropped_votes`` / ``parsed`` over the verdicts whose environment drops votes;
    * ``unparsed plans``: turns marked ``info["plan_fallback"]`` / turns whose strategy the agent's model
      picked itself (``info["plan_generated"]``, ProCoT).
    """
    n: Counter = Counter()
    seen: set[str] = set()
    for episode in episodes:
        for turn in episode.turns:
            verdict = turn.info.get("verdict", {})
            if "samples" in verdict:
                seen.add("critic unparsable")
                n["unparsable"] += verdict["unparsable"]
                n["samples"] += verdict["samples"]
            if "dropped_votes" in verdict:
                seen.add("dropped votes")
                n["dropped"] += verdict["dropped_votes"]
                n["parsed"] += verdict.get("parsed", 0)
            if turn.info.get("generated"):
                seen.add("replaced replies")
                n["generated"] += 1
                n["replaced"] += "fallback" in turn.info
            if turn.info.get("plan_generated"):
                seen.add("unparsed plans")
                n["planned"] += 1
                n["unplanned"] += "plan_fallback" in turn.info
    rates = {"critic unparsable": _share(n["unparsable"], n["samples"]),
             "replaced replies": _share(n["replaced"], n["generated"]),
             "dropped votes": _share(n["dropped"], n["parsed"]),
             "unparsed plans": _share(n["unplanned"], n["planned"])}
    return {name: rate for name, rate in rates.items() if name in seen}


def warn_fallbacks(rates: dict[str, float], threshold: float, where: str) -> str | None:
    """Log ONE warning line naming every fallback rate in ``rates`` (names may carry a prefix, e.g. a
    planner's label) above ``threshold``; return the line, or None when no rate passes it."""
    high = [f"{name} {rate:.1%}" for name, rate in rates.items() if rate > threshold]
    if not high:
        return None
    line = (f"{where}: fallback rate above {threshold:.0%}: {', '.join(high)}; the metrics beside them rest on "
            "fallbacks (see summary.md)")
    log.warning(line)
    return line


def metrics_table(env: type[DialogueEnv], episodes: Sequence[Episode]) -> dict[str, float]:
    """The episode count, the environment's metrics, the mean return and the fallback rates."""
    if not episodes:
        raise WorkbenchError("no episodes to evaluate")
    return {"episodes": len(episodes), **env.metrics(episodes),
            "return": sum(e.total_reward for e in episodes) / len(episodes), **fallback_rates(episodes)}


def fallback_legend(columns: Iterable[str]) -> str:
    """One Markdown line per fallback rate among ``columns``, saying what it counts ("" when none)."""
    present = set(columns)
    return "\n".join(f"- {name}: {meaning}" for name, meaning in FALLBACK_RATES.items() if name in present)


def rounded(value: Any, digits: int = 3) -> Any:
    """A number as a page or a table shows it: a float to ``digits`` decimals (0.13636 -> 0.136), or to ``digits``
    significant digits when it would round to zero (0.000123 stays 0.000123); anything else as it is."""
    if not isinstance(value, float) or value != value or abs(value) == float("inf"):
        return value
    if value == 0:
        return 0.0  # not -0.0
    if abs(value) >= 10 ** -digits:
        return round(value, digits)
    return float(f"{value:.{digits}g}")


def _cell(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:d}" if isinstance(value, int) else f"{value:.4g}"


def format_table(metrics: dict[str, float]) -> str:
    """A Markdown table, one column per metric, numbers to 4 significant digits."""
    return "\n".join(["| " + " | ".join(metrics) + " |", "|" + "---|" * len(metrics),
                      "| " + " | ".join(map(_cell, metrics.values())) + " |"])


def format_rows(rows: dict[str, dict[str, float]], first: str = "planner") -> str:
    """A Markdown table with one row per label (e.g. per planner) and one column per metric of any row;
    a row without a metric (a fallback source it did not have) shows n/a."""
    columns = list(dict.fromkeys(c for m in rows.values() for c in m))
    lines = ["| " + " | ".join([first, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    lines += ["| " + " | ".join([label, *(_cell(m.get(c)) for c in columns)]) + " |" for label, m in rows.items()]
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


def plot_bars(panels: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Side-by-side grouped bar charts; each panel is ``{"title", "ylabel", "groups": [name, ...], "bars": {label:
    (values, errors)}}``: one bar per label in each group, with its error bar (None: none)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(max(4.0, 1.2 * len(panels[0]["groups"]) + 2) * len(panels),
                                                        4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        bars, groups = panel["bars"], panel["groups"]
        width = 0.8 / max(1, len(bars))
        for i, (label, (values, errors)) in enumerate(bars.items()):
            xs = [g + (i - (len(bars) - 1) / 2) * width for g in range(len(groups))]
            ax.bar(xs, values, width, yerr=errors, capsize=3, label=label)
        ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
        ax.set(title=panel["title"], ylabel=panel["ylabel"])
        ax.grid(alpha=0.3, axis="y")
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


def plot_returns(ax: Any, episodes: Sequence[Episode], bins: int = 20) -> None:
    """A histogram of the episodes' returns (sums of critic rewards) on the matplotlib axes ``ax``, successes and
    failures stacked in their colours."""
    returns = [round(e.total_reward, 6) for e in episodes]
    low, high = min(returns), max(returns)
    edges = [low + (high - low) * i / bins for i in range(bins + 1)] if high > low else [low - 0.5, high + 0.5]
    groups = [([r for r, e in zip(returns, episodes) if e.success == ok], colour, "success" if ok else "failure")
              for ok, colour in ((True, "tab:green"), (False, "tab:red"))]
    ax.hist([g[0] for g in groups], bins=edges, stacked=True, color=[g[1] for g in groups],
            label=[f"{g[2]} ({len(g[0])})" for g in groups])
    ax.set(title="Episode return", xlabel="sum of critic rewards", ylabel="episodes")
    ax.legend()


def plot_outcomes(episodes: Sequence[Episode], agent_role: str, path: str | Path, title: str) -> Path:
    """Three panels: returns of successes and failures, dialogue lengths, and how often each
    strategy was played in successful and failed episodes."""
    plt = _pyplot()
    fig, (ax_ret, ax_len, ax_str) = plt.subplots(1, 3, figsize=(15, 4.2))
    plot_returns(ax_ret, episodes)
    length_bins = [b - 0.5 for b in range(max(int(e.outcome.get("turns", 0)) for e in episodes) + 2)]
    for success, colour in ((True, "tab:green"), (False, "tab:red")):
        group = [e for e in episodes if e.success == success]
        label = f"{'success' if success else 'failure'} ({len(group)})"
        ax_len.hist([e.outcome.get("turns", 0) for e in group], bins=length_bins, alpha=0.6, color=colour, label=label)
    ax_len.set(title="Dialogue length", xlabel="agent turns", ylabel="episodes")
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
