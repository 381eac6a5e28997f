"""``workbench evaluate --env E --reflection none reflexion retroformer:<folder> --trials N``: success rate by trial
for several reflection variants on the same held-out cases (Retroformer, Yao et al., ICLR 2024, Fig. 4 and 5;
Reflexion, Shinn et al. 2023).

Every variant plays the same cases with the same seeds in one lockstep (:func:`workbench.trials.run_trials`): the
frozen actor is the reflection-following strategy actor over ``--policy`` (:mod:`agents.retroformer.actor`), or
with ``--agent_model`` the prompted LLM agent with the reflections in its prompt. ``none`` retries without
reflections, ``reflexion`` reflects with the untrained ``--reflector_model``, ``retroformer:<folder>`` with a model
trained by ``workbench train retroformer`` (its ``<folder>/model``, or any model folder or LoRA adapter folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from agents.simulation import EMBEDDED, SimulationConfig, build_simulation
from apps.compare import parse_planners
from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.episodes import Episode
    from workbench.runs import Run
    from workbench.trials import TrialMemory


@dataclass
class TrialsConfig(SimulationConfig):
    data: str | None = field(default=None, metadata={
        "help": "case file; default: the environment's shared data", "aliases": ["--cases"], "path": "in"})
    reflection: list[str] = field(default_factory=lambda: ["none", "reflexion"], metadata={
        "help": "[LABEL=]VARIANT for each variant: none (retry without reflections), reflexion (the untrained "
                "--reflector_model), retroformer:<folder> (a `workbench train retroformer` run, a model folder or "
                "a LoRA adapter folder)"})
    trials: int = field(default=4, metadata={"help": "trials per case (a solved case plays no more)", "min": 1})
    memory: int = field(default=3, metadata={"help": "reflections the actor keeps in its prompt (the last K)",
                                             "min": 0})
    policy: str = field(default="most-frequent", metadata={
        "help": "the actor's strategy policy: its prior without --agent_model (random, most-frequent, fixed:<name>, "
                "planner:<folder>), the prompted agent's strategies with one (none: it speaks freely)"})
    follow: float = field(default=0.8, metadata={
        "help": "how often the strategy actor plays a strategy a reflection prefers", "min": 0, "max": 1})
    reflector_model: str = field(default=EMBEDDED, metadata={
        "help": "the untrained reflector of the reflexion variant (a model spec)"})
    reflection_tokens: int = field(default=48, metadata={"help": "new tokens per reflection", "min": 1})
    reflection_temperature: float = field(default=0.7, metadata={"help": "reflection sampling temperature", "min": 0})
    split: str = field(default="heldout", metadata={
        "help": "which cases of the file: heldout (not trained on by `train retroformer`), train or all"})
    heldout: float = field(default=0.3, metadata={"help": "held-out share, as in `train retroformer`", "min": 0,
                                                  "max": 1})
    n: int = field(default=0, metadata={"help": "cases (the first n of the split); 0: all", "aliases": ["-n"],
                                        "min": 0})
    out: str | None = out_field("evaluate")


VARIANTS = "none, reflexion or retroformer:<folder>"


def variant_spec(variant: str, reflector_model: str) -> str | None:
    """The reflector model spec of a variant (None: no reflection)."""
    if variant == "none":
        return None
    if variant == "reflexion":
        return reflector_model
    if variant.startswith("retroformer:"):
        name = variant.removeprefix("retroformer:")
        folder = Path(name)
        if not name or not folder.is_dir():
            raise WorkbenchError(f"--reflection {variant}: no folder {name!r}")
        model = folder / "model" if (folder / "model").is_dir() else folder
        if not (model / "config.json").is_file() and not (model / "adapter_config.json").is_file():
            raise WorkbenchError(f"--reflection {variant}: {folder} holds no trained reflector (no model/ folder, "
                                 "model folder or adapter folder)")
        return str(model)
    raise WorkbenchError(f"unknown reflection variant {variant!r} (use {VARIANTS})")


def run_trial_evaluation(config: TrialsConfig) -> tuple[Run, str]:
    """Play every variant's trials; write the table, ``plots/sr_by_trial.png`` and ``summary.md``."""
    from agents.retroformer.actor import make_actor
    from agents.retroformer.reflector import LLMReflector, transcript_models
    from workbench.llm.resolve import load_models
    from workbench.runs import Run
    from workbench.splits import split_cases
    from workbench.trials import run_trials

    from workbench.llm.resolve import check_spec

    variants = parse_planners(config.reflection, "reflection variant", "--reflection none reflexion")
    labels = [label for label, _ in variants]
    if len(set(labels)) < len(labels):
        raise WorkbenchError(f"--reflection: the label {next(l for l in labels if labels.count(l) > 1)!r} is given "
                             "twice (name the variants apart: LABEL=VARIANT)")
    specs = {label: variant_spec(variant, config.reflector_model) for label, variant in variants}
    for spec in {s for s in specs.values() if s}:
        check_spec(spec)
    config.out = resolve_out(config.out, config.resume, "evaluate")
    sim = build_simulation(config)
    cases = split_cases(sim.cls.cases(config.data), config.split, config.heldout)
    cases = cases[: config.n] if config.n else cases
    if not cases:
        raise WorkbenchError(f"no {config.split} cases in {config.data or sim.cls.default_source()}")
    actor = make_actor(sim, config)
    reflector_models = transcript_models(load_models(dict(specs), config.seed))
    reflectors = {label: LLMReflector(model, sim.cls, temperature=config.reflection_temperature,
                                      max_tokens=config.reflection_tokens) if model is not None else None
                  for label, model in reflector_models.items()}
    settings = sim.settings | {"reflector_specs": specs}
    resumable = ("resume", "progress", "fallback_warning")
    with Run.open(config.out, settings, resume=config.resume, resumable_changes=resumable) as run:
        memories = run_trials(sim.env, {label: actor for label, _ in variants}, reflectors, cases,
                              trials=config.trials, memory_size=config.memory, seed=config.seed,
                              batch_size=config.batch_size, run=run,
                              provenance={label: {**sim.provenance(resumable), "spec": variant}
                                          for label, variant in variants}, progress=config.progress)
        steered = [s.name for s in sim.cls.strategies] if sim.models["agent"] is None else None
        table, text = trial_table(run, memories, config.trials, steered, sim.cls.metrics)
        plot_sr_by_trial(table, config.trials, run.plot_path("sr_by_trial.png"),
                         f"{config.env}: {len(cases)} {config.split} cases, {config.trials} trials")
        run.write_summary(f"# Success rate by trial on {config.env} ({config.split} cases)\n\n{text}\n\n"
                          f"```json\n{json.dumps(settings, indent=2, default=str)}\n```\n")
        run.cut_back(metrics=lambda r: r.get("event") != "evaluate")  # a resumed run's rows once
        for label, row in table.items():
            run.log_metrics({"event": "evaluate", "variant": label, **row})
    return run, text


def trial_table(run: Run, memories: dict[str, list[TrialMemory]], trials: int,
                strategies: Sequence[str] | None = None,
                metrics: Callable[[Sequence[Episode]], dict[str, float]] | None = None
                ) -> tuple[dict[str, dict[str, Any]], str]:
    """Per variant: ``SR@k`` for k = 1..trials, the cases, the environment's own ``metrics`` (beyond SR and AT) over
    each case's last trial, the reflections written and the share of them that are fallbacks, with the strategy
    actor (its ``strategies``) the share that name no strategy (so the actor played its prior), and the episodes'
    own fallback rates; with the Markdown table."""
    from agents.retroformer.actor import directives
    from workbench.evaluate import fallback_legend, fallback_rates, format_rows
    from workbench.trials import reflection_fallback_rate, success_by_trial

    episodes, reflections = run.episodes(), run.reflections()
    table: dict[str, dict[str, Any]] = {}
    for label, memory in memories.items():
        rows = [r for r in reflections if r["variant"] == label]
        last = metrics([m.episodes[-1] for m in memory if m.episodes]) if metrics else {}
        table[label] = {"cases": len(memory),
                        **{f"SR@{k}": v for k, v in enumerate(success_by_trial(memory, trials), 1)},
                        **{f"{name} (last trial)": v for name, v in last.items() if name not in ("SR", "AT")},
                        "reflections": len(rows), **({"reflection fallbacks": reflection_fallback_rate(rows)}
                                                     if rows else {}),
                        **({"no directive": sum(directives([r["text"]], strategies).empty for r in rows) / len(rows)}
                           if rows and strategies else {}),
                        **fallback_rates([e for e in episodes if e.provenance.get("variant") == label])}
    columns = {c for row in table.values() for c in row}
    legend = fallback_legend(columns)
    notes = ["SR@k: share of cases solved within k trials",
             "reflection fallbacks: share of reflections that stand in for an empty reflector output"]
    if any(c.endswith("(last trial)") for c in columns):
        notes.append("(last trial): over each case's last trial played")
    if "no directive" in columns:
        notes.append("no directive: share of reflections that name no strategy, on which the strategy actor plays its "
                     "prior")
    note = "; ".join(notes)
    return table, format_rows(table, "variant") + f"\n\n{note}" + (f"\n{legend}" if legend else "")


def plot_sr_by_trial(table: dict[str, dict[str, Any]], trials: int, path: Any, title: str) -> Any:
    """Retroformer's figure: success rate by trial, one line per variant."""
    from workbench.evaluate import plot_lines

    xs = list(range(1, trials + 1))
    return plot_lines([{"title": "Success rate by trial", "xlabel": "trial", "ylabel": "SR (solved within k trials)",
                        "lines": {label: (xs, [row[f"SR@{k}"] for k in xs]) for label, row in table.items()}}],
                      path, title)
