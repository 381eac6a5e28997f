"""``workbench quickstart``: what the workbench is for, in one command of a few minutes on a CPU.

1. Train a PPDPP strategy planner (Deng et al., ICLR 2024) by self-play REINFORCE against the
   scripted user simulator, once per seed (the recipe of ``examples/ppdpp/scripted.yaml``, shortened:
   RL only, the head on frozen MiniLM features).
2. Evaluate every seed's planner against the random and most-frequent baselines on the held-out
   cases (``workbench evaluate``), and print each metric's mean and min-max over the seeds.
3. Play a few dialogues in which the embedded Gemma speaks the strategies the planner picks, so that
   an LLM is in the loop, and print them.

Every step is an ordinary run folder under ``--out`` (``planner-seedK``, ``eval-seedK``, ``dialogues``),
so each can be inspected, resumed (``--resume``) or re-run with the underlying command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # QuickstartConfig stays importable (for --help) without torch
    from workbench.episodes import Episode

EMBEDDED = "embedded:gemma-3-270m"
BASELINES = ("random", "most-frequent")
TRAINED = "trained planner"


@dataclass
class QuickstartConfig:
    env: str = field(default="negotiation", metadata={
        "help": "environment with a scripted user simulator and human dialogues (see `workbench envs`): "
                "negotiation, emotional_support, tutoring or persuasion"})
    seeds: int = field(default=3, metadata={"help": "planners trained, one per seed (0, 1, ...)", "min": 1})
    rl_episodes: int = field(default=384, metadata={
        "help": "self-play episodes of each planner's training (32 per update)", "min": 32})
    eval_episodes: int = field(default=100, metadata={
        "help": "held-out episodes per planner and seed", "min": 1})
    encoder: str = field(default="embedded:minilm", metadata={
        "help": "planner encoder: embedded:minilm or a transformers encoder folder"})
    dialogues: int = field(default=2, metadata={
        "help": "dialogues spoken by --agent_model with the first planner's strategies (0: no LLM)", "min": 0})
    dialogue_turns: int = field(default=4, metadata={"help": "agent turns of those dialogues", "min": 1})
    agent_model: str = field(default=EMBEDDED, metadata={"help": "the chat model that speaks those dialogues"})
    max_new_tokens: int = field(default=32, metadata={"help": "new tokens per spoken turn", "min": 1})
    out: str | None = out_field("quickstart")
    resume: bool = field(default=False, metadata={"help": "continue an interrupted quick start in --out"})
    progress: bool = field(default=True, metadata={"help": "show progress bars", "no_help": "hide the progress bars"})


def run_quickstart(config: QuickstartConfig) -> str:
    """Train, evaluate and speak (see the module docstring); write ``summary.md`` and the plots; return the
    text to print."""
    from workbench.registry import env_class, env_names

    if config.env not in env_names():
        raise WorkbenchError(f"unknown environment {config.env!r} (use {', '.join(env_names())})")
    env = env_class(config.env)
    usable = [n for n in env_names() if "scripted" in env_class(n).simulator_names and env_class(n).sft_sources()]
    if config.env not in usable:
        raise WorkbenchError(f"the quick start needs a scripted simulator to train against and human dialogues for the "
                             f"most-frequent baseline, which {config.env} lacks (use {', '.join(usable)})")
    if config.dialogues:
        from workbench.llm.resolve import check_spec

        check_spec(config.agent_model)
    from workbench.llm.embedded import encoder_path

    encoder_path(config.encoder)
    out = Path(resolve_out(config.out, config.resume, "quickstart"))
    planners = [_train(config, seed, out / f"planner-seed{seed}") for seed in range(config.seeds)]
    per_seed = [_evaluate(config, seed, planner, out / f"eval-seed{seed}") for seed, planner in enumerate(planners)]
    per_seed_rows = [rows for rows, _ in per_seed]
    rows = spread_rows(per_seed_rows)
    plots = [_plot_sr_by_turn(config, env, [episodes for _, episodes in per_seed], out),
             _plot_training(planners, out)]
    text = [f"PPDPP planner on {config.env}: {config.seeds} seeds x {config.rl_episodes} self-play episodes against "
            f"the scripted {env.user_role.lower()}; {config.eval_episodes} held-out episodes per planner and seed. "
            "Each cell: mean over the seeds (min to max).", "", spread_table(rows), "", verdict(per_seed_rows), ""]
    text += [f"plot: {p}" for p in plots]
    if config.dialogues:
        text += ["", *_speak(config, planners[0], out / "dialogues")]
    from workbench.runs import atomic_write

    atomic_write(out / "summary.md", "# Quick start\n\n" + "\n".join(text) + "\n")
    text.append(f"\nrun directory: {out}")
    return "\n".join(text)


def _train(config: QuickstartConfig, seed: int, out: Path) -> Path:
    """One planner: PPDPP's RL stage, the head on frozen, standardised MiniLM features (docs/ppdpp.md says
    why both knobs), a per-turn baseline, one update per batch of 32 lockstep episodes."""
    from agents.ppdpp.run import PPDPPConfig, run_ppdpp

    run, _ = run_ppdpp(PPDPPConfig(
        env=config.env, stage="rl", encoder=config.encoder, max_length=64, rl_episodes=config.rl_episodes, batch_size=32, update="batch",
        normalise="turn", rl_freeze_encoder=True, rl_standardise_features=True, rl_head_lr=1e-2, save_every=4, seed=seed,
        out=str(out), resume=config.resume and out.exists(), progress=config.progress))
    return run.path


def _evaluate(config: QuickstartConfig, seed: int, planner: Path,
              out: Path) -> tuple[dict[str, dict[str, float]], dict[str, list[Episode]]]:
    """The baselines and one trained planner on the held-out cases with episode seeds from ``seed``: each
    label's metrics and episodes."""
    from apps.compare import EvaluateConfig, run_comparison

    run, _ = run_comparison(EvaluateConfig(
        env=config.env, planners=[*BASELINES, f"{TRAINED}=planner:{planner / 'rl'}"], n=config.eval_episodes,
        seed=seed, out=str(out), resume=config.resume and out.exists(), progress=config.progress))
    rows = {r["planner"]: {k: v for k, v in r.items() if k not in ("event", "planner", "episodes")}
            for r in run.metrics() if r.get("event") == "evaluate"}
    episodes: dict[str, list[Episode]] = {label: [] for label in rows}
    for episode in run.episodes():
        episodes[episode.provenance["planner"]].append(episode)
    return rows, episodes


def spread_rows(per_seed: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """For each label and metric, (mean, min, max) over the seeds' rows."""
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for label in per_seed[0]:
        columns = dict.fromkeys(c for rows in per_seed for c in rows[label])
        out[label] = {}
        for column in columns:
            values = [rows[label][column] for rows in per_seed if column in rows[label]]
            out[label][column] = (sum(values) / len(values), min(values), max(values))
    return out


def verdict(per_seed: list[dict[str, dict[str, float]]]) -> str:
    """In how many seeds the trained planner beat both baselines, on success rate and on return."""
    def wins(metric: str) -> int:
        return sum(all(rows[TRAINED][metric] > rows[b][metric] for b in BASELINES) for rows in per_seed)

    return (f"The trained planner beat both baselines in {wins('SR')} of {len(per_seed)} seeds on SR and in "
            f"{wins('return')} of {len(per_seed)} on return.")


def spread_table(rows: dict[str, dict[str, tuple[float, float, float]]]) -> str:
    """A Markdown table of ``mean (min to max)`` cells, one row per label."""
    from workbench.evaluate import rounded

    def cell(mean: float, low: float, high: float) -> str:
        if rounded(low, 2) == rounded(high, 2):
            return f"{rounded(mean, 2)}"
        return f"{rounded(mean, 2)} ({rounded(low, 2)} to {rounded(high, 2)})"

    columns = list(dict.fromkeys(c for metrics in rows.values() for c in metrics))
    lines = ["| planner | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 1)]
    lines += [f"| {label} | " + " | ".join(cell(*metrics[c]) if c in metrics else "n/a" for c in columns) + " |"
              for label, metrics in rows.items()]
    return "\n".join(lines)


def _plot_sr_by_turn(config: QuickstartConfig, env: Any, per_seed: list[dict[str, list[Episode]]],
                     out: Path) -> Path:
    from workbench.evaluate import plot_lines, sr_by_turn

    turns = list(range(1, env.default_max_turns + 1))
    lines = {label: (turns, sr_by_turn([e for seed in per_seed for e in seed[label]], env.default_max_turns))
             for label in per_seed[0]}
    return plot_lines([{"title": "Success rate by turn (held-out cases, seeds pooled)", "xlabel": "agent turn",
                        "ylabel": "SR (succeeded by this turn)", "lines": lines}],
                      out / "plots" / "sr_by_turn.png", f"{config.env}: trained planner vs baselines")


def _plot_training(planners: list[Path], out: Path) -> Path:
    from workbench.evaluate import plot_lines
    from workbench.runs import Run

    curves = {f"seed {seed}": [r for r in Run(path).metrics() if r.get("event") == "rl"]
              for seed, path in enumerate(planners)}
    return plot_lines([{"title": title, "xlabel": "self-play episodes", "ylabel": key,
                        "lines": {label: ([r["episodes"] for r in rows], [r[key] for r in rows])
                                  for label, rows in curves.items()}}
                       for key, title in (("SR", "Success rate of each batch"), ("return", "Mean return of each batch"))],
                      out / "plots" / "training.png", "PPDPP self-play training")


def _speak(config: QuickstartConfig, planner: Path, out: Path) -> list[str]:
    """A few dialogues in which ``config.agent_model`` speaks the planner's strategies; their transcripts."""
    from apps.selfplay import SelfPlayConfig, run_selfplay

    run, table = run_selfplay(SelfPlayConfig(
        env=config.env, agent_model=config.agent_model, policy=f"planner:{planner / 'rl'}", n=config.dialogues,
        max_turns=config.dialogue_turns, max_new_tokens=config.max_new_tokens, out=str(out),
        resume=config.resume and out.exists(), progress=config.progress))
    from workbench.evaluate import fallback_legend, format_table

    episodes = run.episodes()
    lines = [f"{len(episodes)} dialogue{'s' * (len(episodes) != 1)} spoken by {config.agent_model} with the first "
             f"planner's strategies (at most {config.dialogue_turns} agent turns; the scripted user reacts to the "
             "strategy):"]
    for episode in episodes:
        lines += ["", *transcript(episode)]
    lines += ["", format_table(table)]  # with the share of the model's replies replaced by a template line
    if legend := fallback_legend(table):
        lines.append(legend)
    return lines


def transcript(episode: Episode) -> list[str]:
    """An episode as lines: each turn with its strategy, then the outcome."""
    from workbench.evaluate import rounded

    lines = [f"--- {episode.id}"]
    for turn in episode.turns:
        strategy = f" [{turn.strategy}]" if turn.strategy else ""
        lines.append(f"{turn.role}{strategy}: {turn.text}")
    shown = {k: rounded(v) for k, v in episode.outcome.items() if isinstance(v, (bool, int, float, str))}
    lines.append(f"outcome: {json.dumps(shown)}; return {episode.total_reward:+.2f}")
    return lines
