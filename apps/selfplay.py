"""Self-play: an agent against a user simulator, judged by a critic, written to a run directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.simulation import ModelLoader, SimulationConfig, build_simulation
from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # SelfPlayConfig stays importable (for --help) without LangChain or torch
    from workbench.progress import ProgressFn
    from workbench.rollout import StepHook
    from workbench.runs import Run


@dataclass
class SelfPlayConfig(SimulationConfig):
    policy: str = field(default="random", metadata={
        "help": "strategy policy: random, most-frequent, fixed:<strategy>, planner:<folder>, procot or none"})
    n: int = field(default=100, metadata={"help": "number of episodes", "aliases": ["-n"], "min": 1})
    out: str | None = out_field("selfplay")


def run_selfplay(config: SelfPlayConfig, load: ModelLoader | None = None, on_step: StepHook | None = None,
                 on_progress: ProgressFn | None = None) -> tuple[Run, dict[str, float]]:
    """Play ``config.n`` episodes into ``config.out``; return the run and its metrics table (``load``,
    ``on_step`` and ``on_progress``: see ``build_simulation`` and ``rollout``)."""
    from agents.policies import make_policy
    from workbench.evaluate import (fallback_legend, fallback_rates, format_table, metrics_table, plot_outcomes,
                                    warn_fallbacks)
    from workbench.rollout import rollout
    from workbench.runs import Run

    if config.n < 1:
        raise WorkbenchError("n must be at least 1")
    config.out = resolve_out(config.out, config.resume, "selfplay")
    sim = build_simulation(config, load)
    cases = sim.cls.cases(config.data)
    agent = sim.agent(make_policy(config.policy, sim.cls, sim.models["agent"]), config)
    resumable = ("resume", "n", "progress", "fallback_warning")
    with Run.open(config.out, sim.settings, resume=config.resume, resumable_changes=resumable) as run:
        stored = run.episodes()
        new = rollout(sim.env, agent, cases, n=config.n, seed=config.seed, batch_size=config.batch_size, run=run,
                      skip=[e.provenance["index"] for e in stored], provenance=sim.provenance(resumable),
                      progress=config.progress, on_step=on_step, on_progress=on_progress)
        episodes = sorted(stored + new, key=lambda e: e.provenance["index"])[: config.n]
        table = metrics_table(sim.cls, episodes)
        run.log_metrics({"event": "selfplay", **table})
        plot_outcomes(episodes, sim.cls.agent_role, run.plot_path("outcomes.png"), f"{config.env} self-play")
        legend = fallback_legend(table)
        run.write_summary(f"# Self-play: {config.env}\n\n{format_table(table)}\n\n"
                          + (f"{legend}\n\n" if legend else "")
                          + f"```json\n{json.dumps(sim.settings, indent=2)}\n```\n")
        warn_fallbacks(fallback_rates(episodes), config.fallback_warning, str(run.path))
    return run, table
