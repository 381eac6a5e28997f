"""``workbench evaluate --env moba --agents ...``: agent teams beside scripted human partners in a vector game (the
comparison of RLHG, Gao et al., ICLR 2024, Sec. 5: the win rate and each human goal per agent).

Every agent team plays the same matches (same seeds) with every persona. An ``--agents`` entry is ``[LABEL=]SPEC``
(:func:`agents.rlhg.team.load_team`: ``scripted``, ``follow`` or a ``workbench train rlhg`` run folder); a label
given to several run folders (three seeds) pools them: the table shows the mean over their matches and, beside it,
the spread (standard deviation) of the per-run means. The run folder gets ``summary.md`` (the table),
``metrics.jsonl`` (one row per persona, label and run) and ``plots/human_goals.png`` (bars per persona: win
rate and each human goal per agent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import mean, pstdev
from typing import Any

from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

GOAL_COLUMNS = {"win_rate": "win %", "human_kills": "kills", "human_gold": "gold", "human_towers": "towers",
                "human_deaths": "deaths"}


@dataclass
class GameEvaluateConfig:
    env: str = field(default="moba", metadata={"help": "the game (a name in the workbench.games entry points)"})
    agents: list[str] = field(default_factory=lambda: ["scripted", "follow"], metadata={
        "help": "[LABEL=]SPEC for each agent team: scripted, follow, or a `workbench train rlhg` run folder; a "
                "repeated LABEL pools its runs (seeds)"})
    personas: list[str] = field(default_factory=list, metadata={
        "help": "the human partners (default: every persona of the game)"})
    matches: int = field(default=128, metadata={"help": "matches per persona, agent team and run", "min": 1})
    seed: int = field(default=1000, metadata={"help": "seed of the matches (the same for every team)"})
    greedy: bool = field(default=False, metadata={
        "help": "trained teams take their most likely actions", "no_help": "trained teams sample, as in training"})
    out: str | None = out_field("evaluate")


def parse_agents(specs: list[str]) -> list[tuple[str, str]]:
    """``(label, spec)`` pairs from ``[LABEL=]SPEC`` strings; the label defaults to the spec."""
    from apps.compare import parse_planners

    return parse_planners(specs, "agent team", "--agents scripted follow RUN_DIR")


def run_game_evaluation(config: GameEvaluateConfig):
    """Play every team with every persona; write the table, the rows and the bar chart. Returns the run
    and the table (Markdown)."""
    from agents.rlhg.team import evaluate_team, load_team
    from workbench.registry import game_class
    from workbench.runs import Run

    game = game_class(config.env)
    personas = config.personas or list(game.personas)
    unknown = [p for p in personas if p not in game.personas]
    if unknown:
        raise WorkbenchError(f"unknown persona {unknown[0]!r} (known: {', '.join(game.personas)})")
    pairs = parse_agents(config.agents)
    teams = [(label, spec, load_team(spec, config.greedy, config.seed)) for label, spec in pairs]  # fail early
    out = resolve_out(config.out, False, "evaluate")
    rows = []
    with Run.open(out, {"command": "evaluate", **asdict(config), "out": out}) as run:
        for persona in personas:
            for label, spec, team in teams:
                env = game(config.matches, persona=persona, seed=config.seed)
                rows.append({"persona": persona, "agents": label, "source": spec,
                             **evaluate_team(team, env, config.seed)})
                run.log_metrics(rows[-1])
        table = format_comparison(rows)
        plot = plot_comparison(rows, run.plot_path("human_goals.png"), f"{config.env}: human goals per agent team")
        text = (f"# {config.env}: agent teams with scripted human partners\n\n{config.matches} matches per persona, "
                f"team and run (seed {config.seed}); a ± is the spread over a label's runs.\n\n{table}\n\n"
                f"plot: {plot}\n")
        run.write_summary(text)
    return run, text


def pooled(rows: list[dict[str, Any]], key: str) -> tuple[float, float | None]:
    """Mean of ``key`` over the runs' matches (each run plays as many) and the spread of the runs' means."""
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return float("nan"), None
    return mean(values), (pstdev(values) if len(values) > 1 else None)


def groups(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Rows by persona, then by agent label (in the order given)."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        out.setdefault(r["persona"], {}).setdefault(r["agents"], []).append(r)
    return out


def format_comparison(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: one row per persona and agent label; win % and the human goals, mean ± spread."""
    from workbench.evaluate import format_rows

    table: dict[str, dict[str, str]] = {}
    for persona, by_label in groups(rows).items():
        for label, runs in by_label.items():
            cells = {"runs": str(len(runs))}
            for key, column in GOAL_COLUMNS.items():
                scale = 100 if key == "win_rate" else 1
                value, spread = pooled(runs, key)
                digits = 0 if key == "human_gold" else 1 if key == "win_rate" else 2
                cells[column] = f"{value * scale:.{digits}f}" + (
                    f" ± {spread * scale:.{digits}f}" if spread is not None else "")
            table[f"{persona} / {label}"] = cells
    return format_rows(table, first="persona / agents")


def plot_comparison(rows: list[dict[str, Any]], path, title: str):
    """Bars: one panel per metric (win rate, each human goal), a group per persona, a bar per agent label, error
    bars the spread over a label's runs."""
    from workbench.evaluate import plot_bars

    by_persona = groups(rows)
    personas = list(by_persona)
    labels = list(dict.fromkeys(r["agents"] for r in rows))
    panels = []
    for key, column in GOAL_COLUMNS.items():
        bars = {}
        for label in labels:
            stats = [pooled(by_persona[p].get(label, []), key) for p in personas]
            spreads = [s[1] for s in stats]
            bars[label] = ([s[0] for s in stats], None if all(x is None for x in spreads) else
                           [x or 0.0 for x in spreads])
        panels.append({"title": "win rate" if key == "win_rate" else f"human {column}",
                       "ylabel": "per match" if key != "win_rate" else "share of matches",
                       "groups": personas, "bars": bars})
    return plot_bars(panels, path, title)
