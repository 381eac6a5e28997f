"""``workbench hindsight``: regenerate finished dialogues with hindsight (Hong et al. 2024) and label
preferences after simulating their consequences (RLHS, Liang et al. 2025)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from agents.simulation import SimulationConfig, build_simulation
from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError
from workbench.splits import SPLITS

ACTIONS = {
    "regenerate": "find the poor agent turns of finished dialogues, rewrite them and let the simulator continue",
    "simulate": "preference pairs labelled right after a dialogue, with partial hindsight and with oracle hindsight "
                "(RLHS; marketplace)",
}


@dataclass
class RegenerateConfig(SimulationConfig):
    source: str = field(default="human", metadata={
        "aliases": ["--in"], "help": "finished dialogues: a run directory of episodes, or `human` for the "
                                     "environment's annotated human dialogues (--data picks the file)"})
    split: str = field(default="train", metadata={"help": "human dialogues: train, heldout or all", "choices": SPLITS})
    heldout: float = field(default=0.3, metadata={
        "help": "held-out share, as in `train ppdpp` and `evaluate`", "min": 0, "max": 1})
    mode: str = field(default="search", metadata={
        "help": "search (every other strategy at every agent turn; scripted simulators) or llm (a model names "
                "poor turns and rewrites them)"})
    model: str | None = field(default=None, metadata={
        "help": "llm mode: the hindsight model spec (critic:<folder>: a trained critic whose ACUs pick the turns)"})
    rewrites: int = field(default=2, metadata={"help": "llm mode: most rewrites per dialogue", "min": 1})
    keep: str = field(default="best", metadata={
        "help": "branches kept: best (per suboptimal turn), improving (all that beat the original) or all"})
    margin: float = field(default=0.0, metadata={"help": "least return gain that makes a turn suboptimal"})
    keep_text: bool = field(default=False, metadata={
        "help": "replay the original agent's words (else the template agent speaks each annotated strategy)"})
    out: str | None = out_field("hindsight", " of the regenerated dataset")


@dataclass
class SimulateConfig(SimulationConfig):
    env: str = field(default="marketplace", metadata={"help": "environment with satisfaction ratings"})
    split: str = field(default="train", metadata={"help": "cases: train, heldout or all", "choices": SPLITS})
    heldout: float = field(default=0.3, metadata={"help": "held-out share, as in `evaluate`", "min": 0, "max": 1})
    pairs: int = field(default=2, metadata={"help": "strategy pairs played per case", "min": 1})
    labeller: str | None = field(default=None, metadata={
        "help": "chat model spec that rates the dialogues; default: the scripted customer's own ratings"})
    out: str | None = out_field("rlhs", " (preference files go to <out>/preferences)")


def cmd_hindsight(argv: Sequence[str]) -> None:
    from apps.cli import config_class, pick
    from workbench.config import parse_config

    action = pick(argv, "workbench hindsight", "Hindsight regeneration and simulation", ACTIONS, "ACTION",
                  "`workbench hindsight ACTION --help` shows its options.")
    if action is None:
        return
    config = parse_config(config_class(f"hindsight {action}"), argv[1:], prog=f"workbench hindsight {action}",
                          description=ACTIONS[action])
    run, text = {"regenerate": run_regenerate, "simulate": run_simulate}[action](config)
    print(text)
    print(f"run directory: {run.path}")


def run_regenerate(config: RegenerateConfig):
    """Regenerate ``config.source``'s dialogues into ``config.out``; return the run and its summary."""
    from workbench.llm.resolve import CRITIC_SPEC, frozen_role_spec, load_models
    from workbench.evaluate import format_table
    from workbench.hindsight.regenerate import check_options, regenerate, summary
    from workbench.hindsight.replay import plans_from_cases, plans_from_episodes
    from workbench.runs import Run
    from workbench.splits import split_cases

    check_options(config.mode, config.keep, config.model is not None)
    config.out = resolve_out(config.out, config.resume, "hindsight")
    sim = build_simulation(config)
    if config.source == "human":
        files = [config.data] if config.data else sim.cls.sft_sources()
        cases = [c for f in files for c in sim.cls.cases(f)]
        plans = plans_from_cases(sim.cls, split_cases(cases, config.split, config.heldout),
                                 keep_text=config.keep_text, seed=config.seed)
    elif Path(config.source).exists():
        plans = plans_from_episodes(sim.cls, config.source, keep_text=config.keep_text)
    else:
        raise WorkbenchError(f"--in {config.source!r}: no such run directory (or use `human`)")
    model = load_models({"hindsight": frozen_role_spec(config.model)}, config.seed)["hindsight"] if config.model else None
    with Run.open(config.out, {**sim.settings, "source": config.source}, resume=config.resume,
                  resumable_changes=("resume", "progress")) as run:
        if config.resume and run.episodes():
            episodes = run.episodes()
        else:  # regenerated in one go: an interrupted attempt's episodes are dropped
            run.cut_back(episodes=lambda e: False)
            episodes = regenerate(sim.env, plans, mode=config.mode, model=model, keep=config.keep,
                                  margin=config.margin, k=config.rewrites, batch_size=config.batch_size,
                                  progress=config.progress,
                                  critique=bool(config.model) and config.model.startswith(CRITIC_SPEC))
            run.append_episodes(episodes)
        table = summary(episodes)
        run.cut_back(metrics=lambda r: r.get("event") != "hindsight")  # the table of these episodes, once
        run.log_metrics({"event": "hindsight", **table})
        text = f"# Hindsight regeneration: {config.env} ({config.mode})\n\n{format_table(table)}"
        run.write_summary(f"{text}\n\n```json\n{json.dumps(sim.settings, indent=2)}\n```\n")
    return run, text


def run_simulate(config: SimulateConfig):
    """Play the pairs, label them three ways and write ``<out>/preferences/<feedback>.jsonl``."""
    from workbench.llm.resolve import frozen_role_spec, load_models
    from workbench.evaluate import format_rows
    from workbench.hindsight.simulate import FEEDBACK, check_env, simulate
    from workbench.registry import env_class
    from workbench.runs import Run, atomic_write
    from workbench.splits import split_cases

    if config.pairs < 1:
        raise WorkbenchError("--pairs must be at least 1")
    config.out = resolve_out(config.out, config.resume, "rlhs")
    check_env(env_class(config.env))
    sim = build_simulation(config)
    cases = split_cases(sim.cls.cases(config.data), config.split, config.heldout)
    labeller = load_models({"labeller": frozen_role_spec(config.labeller)}, config.seed)["labeller"] if config.labeller else None
    with Run.open(config.out, sim.settings, resume=config.resume, resumable_changes=("resume", "progress")) as run:
        run.cut_back(episodes=lambda e: False, metrics=lambda r: False)  # simulated in one go: a resume starts over
        episodes, rows = simulate(sim.env, cases, pairs=config.pairs, seed=config.seed, labeller=labeller,
                                  batch_size=config.batch_size, progress=config.progress)
        run.append_episodes(episodes)
        outcomes = {e.id: e.outcome for e in episodes}
        table = {}
        for feedback in FEEDBACK:
            atomic_write(run.path / "preferences" / f"{feedback}.jsonl",
                         "".join(json.dumps(r) + "\n" for r in rows[feedback]))
            n = max(len(rows[feedback]), 1)
            table[feedback] = {
                "pairs": len(rows[feedback]),
                "chosen utility": sum(outcomes[r["chosen_id"]]["utility"] for r in rows[feedback]) / n,
                "rejected utility": sum(outcomes[r["rejected_id"]]["utility"] for r in rows[feedback]) / n}
        run.log_metrics({"event": "rlhs", **{f"{k} {m}": v for k, row in table.items() for m, v in row.items()}})
        text = (f"# Hindsight simulation: {config.env}\n\nThe true utility of the chosen and the rejected dialogue "
                f"of each pair, by the feedback that labelled it:\n\n{format_rows(table, 'feedback')}\n\n"
                f"Preference files: {run.path / 'preferences'}/{{{','.join(FEEDBACK)}}}.jsonl")
        run.write_summary(f"{text}\n\n```json\n{json.dumps(sim.settings, indent=2)}\n```\n")
    return run, text

