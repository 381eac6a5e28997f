"""``workbench evaluate --env E --planners ...``: PPDPP's interactive evaluation (Deng et al., ICLR
2024, Sec. 4) of several planners under one harness.

Every planner plays the same cases with the same episode seeds (so a scripted user draws the same
hidden persona for each), against the same simulator and critic, in one lockstep: the simulator
and critic calls of all planners share batches. A label given to several planners
(``RL=planner:seed0 RL=planner:seed1``) pools their episodes, e.g. to average over training seeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.simulation import SimulationConfig, build_simulation
from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # EvaluateConfig stays importable (for --help) without LangChain or torch
    from workbench.episodes import Episode
    from workbench.runs import Run


@dataclass
class EvaluateConfig(SimulationConfig):
    data: str | None = field(default=None, metadata={
        "help": "case file; default: the environment's shared data", "aliases": ["--cases"], "path": "in"})
    planners: list[str] = field(default_factory=lambda: ["random", "most-frequent"], metadata={
        "help": "[LABEL=]SPEC for each planner: random, most-frequent, fixed:<strategy>, planner:<folder>, "
                "procot or none (procot and none need --agent_model); a repeated LABEL pools episodes"})
    split: str = field(default="heldout", metadata={
        "help": "which cases of the file: heldout (not used by `train ppdpp`), train or all"})
    heldout: float = field(default=0.3, metadata={"help": "held-out share, as in `train ppdpp`", "min": 0, "max": 1})
    n: int = field(default=0, metadata={"help": "episodes per planner (cycling over the cases); 0: one per case",
                                        "aliases": ["-n"], "min": 0})
    greedy: bool = field(default=True, metadata={
        "help": "planners take their most likely strategy", "no_help": "planners sample their strategy"})
    out: str | None = out_field("evaluate")


def parse_planners(specs: list[str], kind: str = "planner",
                   example: str = "--planners random most-frequent") -> list[tuple[str, str]]:
    """``(label, spec)`` pairs from ``[LABEL=]SPEC`` strings (``kind``, ``example``: what the errors call them)."""
    if not specs:
        raise WorkbenchError(f"give at least one {kind} ({example} ...)")
    pairs = []
    for item in specs:
        label, _, spec = item.rpartition("=") if "=" in item.split(":", 1)[0] else ("", "", item)
        if not spec:
            raise WorkbenchError(f"empty {kind} spec in {item!r}")
        pairs.append((label or spec, spec))
    return pairs


def run_comparison(config: EvaluateConfig) -> tuple[Run, str]:
    """Play every planner, write the table, ``plots/sr_by_turn.png`` and ``summary.md``; return the run
    and the table as Markdown."""
    from agents.policies import make_policy
    from workbench.evaluate import (fallback_legend, fallback_rates, format_rows, metrics_table, plot_lines,
                                    sr_by_turn, warn_fallbacks)
    from workbench.rollout import rollout_many
    from workbench.runs import Run
    from workbench.splits import split_cases

    planners = parse_planners(config.planners)
    if config.n < 0:
        raise WorkbenchError("n must be at least 0")
    config.out = resolve_out(config.out, config.resume, "evaluate")
    sim = build_simulation(config)
    cases = split_cases(sim.cls.cases(config.data), config.split, config.heldout)
    policies = [make_policy(spec, sim.cls, sim.models["agent"], greedy=config.greedy) for _, spec in planners]
    agents = [sim.agent(policy, config) for policy in policies]  # fail on a bad spec before any episode
    n = config.n or len(cases)
    resumable = ("resume", "progress", "fallback_warning")
    with Run.open(config.out, sim.settings, resume=config.resume, resumable_changes=resumable) as run:
        stored = run.episodes()
        provenance = sim.provenance(resumable)
        new = rollout_many(sim.env, dict(enumerate(agents)), cases, n=n, seed=config.seed, batch_size=config.batch_size,
                           run=run, skip=[(e.provenance["slot"], e.provenance["index"]) for e in stored],
                           provenance={slot: {**provenance, "planner": label, "spec": spec, "slot": slot}
                                       for slot, (label, spec) in enumerate(planners)}, progress=config.progress)
        episodes: dict[str, list[Episode]] = {label: [] for label, _ in planners}
        for e in stored + [e for eps in new.values() for e in eps]:
            episodes[e.provenance["planner"]].append(e)
        for (label, spec), policy in zip(planners, policies):
            if hasattr(policy, "unparsed"):
                run.log_metrics({"event": "unparsed_plans", "planner": label, "spec": spec, "count": policy.unparsed})
        rows = {label: metrics_table(sim.cls, eps) for label, eps in episodes.items()}
        for label, row in rows.items():
            run.log_metrics({"event": "evaluate", "planner": label, **row})
        turns = list(range(1, sim.env.max_turns + 1))
        plot_lines([{"title": "Success rate by turn", "xlabel": "agent turn", "ylabel": "SR (succeeded by this turn)",
                     "lines": {label: (turns, sr_by_turn(eps, sim.env.max_turns)) for label, eps in episodes.items()}}],
                   run.plot_path("sr_by_turn.png"),
                   f"{config.env}: {len(cases)} {config.split} cases, {n} episodes each")
        table = format_rows(rows)
        legend = fallback_legend(c for row in rows.values() for c in row)
        run.write_summary(f"# Evaluation on {config.env} ({config.split} cases)\n\n{table}\n\n"
                          + (f"{legend}\n\n" if legend else "")
                          + f"```json\n{json.dumps(sim.settings, indent=2)}\n```\n")
        warn_fallbacks({f"{label} {name}": rate for label, eps in episodes.items()
                        for name, rate in fallback_rates(eps).items()}, config.fallback_warning, str(run.path))
    return run, table
