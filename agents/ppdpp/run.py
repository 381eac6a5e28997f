"""``workbench train ppdpp``: PPDPP's protocol (Deng et al., ICLR 2024) as one command.

Stage ``sft`` fine-tunes the planner on the human strategy labels (``<out>/sft``, best validation
macro-F1); stage ``rl`` trains it by self-play REINFORCE against the user simulator and critic
(``<out>/rl``), starting from ``--init``, from ``<out>/sft`` after the SFT stage, or from a fresh
encoder; ``both`` runs one after the other. RL plays the training split of the case file; the
held-out split is left for ``workbench evaluate``.
"""

from __future__ import annotations

import json
import random

from agents.ppdpp.config import STAGES, PPDPPConfig
from agents.ppdpp.data import annotated_examples
from agents.ppdpp.planner import PlannerPolicy, StrategyPlanner
from agents.ppdpp.reinforce import check_rl_options, train_rl
from agents.ppdpp.sft import train_sft
from agents.simulation import build_simulation
from workbench.config import resolve_out
from workbench.errors import WorkbenchError
from workbench.evaluate import FALLBACK_RATES, fallback_legend, fallback_rates, format_table, plot_lines, warn_fallbacks
from workbench.llm.embedded import encoder_path
from workbench.runs import Run
from workbench.splits import split_cases, validation_split


def run_ppdpp(config: PPDPPConfig) -> tuple[Run, str]:
    """Run the configured stages into ``config.out``; return the run and its summary (Markdown tables)."""
    if config.stage not in STAGES:
        raise WorkbenchError(f"unknown stage {config.stage!r} (use {', '.join(STAGES)})")
    if config.stage == "sft" and config.init:
        raise WorkbenchError("--init starts the RL stage; it has no use with --stage sft")
    check_rl_options(config.normalise, config.update)
    config.out = resolve_out(config.out, config.resume, "ppdpp")
    encoder_path(config.encoder)
    init = StrategyPlanner.load(config.init) if config.init else None
    sim = build_simulation(config)
    if init is not None:
        init.check(sim.cls)
    with Run.open(config.out, sim.settings, resume=config.resume,
                  resumable_changes=("resume", "progress", "rl_episodes", "fallback_warning")) as run:
        summary = [f"# PPDPP on {config.env} (stage {config.stage})"]
        planner = None
        if config.stage in ("sft", "both"):
            planner, scores = _sft_stage(config, sim.cls, run)
            summary.append(f"## SFT (best epoch {scores['epoch']}, validation)\n\n"
                           + format_table({k: v for k, v in scores.items() if k != "epoch"}))
        if config.stage in ("rl", "both"):
            planner = planner or init or _fresh_planner(config, sim.cls)
            cases = split_cases(sim.cls.cases(config.data), "train", config.heldout)
            agent = sim.agent(PlannerPolicy(planner, sim.cls), config)
            train_rl(planner, sim.env, agent, cases, episodes=config.rl_episodes, batch_size=config.batch_size,
                     lr=config.rl_lr, head_lr=config.rl_head_lr, gamma=config.gamma, normalise=config.normalise,
                     entropy_coef=config.entropy_coef, update=config.update, max_grad_norm=config.max_grad_norm,
                     freeze_encoder=config.rl_freeze_encoder, standardise_features=config.rl_standardise_features,
                     seed=config.seed, run=run,
                     checkpoint=run.path / "checkpoints" / "rl", save_every=config.save_every,
                     provenance=sim.provenance(("resume", "progress")), progress=config.progress)
            planner.save(run.path / "rl")
            records = [r for r in run.metrics() if r.get("event") == "rl"]  # one per update (train_rl cuts back)
            plot_lines([{"title": "Success rate", "xlabel": "episodes", "ylabel": "SR of the update's batch",
                         "lines": {"SR": ([r["episodes"] for r in records], [r["SR"] for r in records])}},
                        {"title": "Return", "xlabel": "episodes", "ylabel": "mean episode return",
                         "lines": {"return": ([r["episodes"] for r in records], [r["return"] for r in records])}}],
                       run.plot_path("rl.png"), f"PPDPP self-play RL on {config.env}")
            last = records[-1]
            table = {k: last[k] for k in ("SR", "AT", "return", *FALLBACK_RATES) if k in last}
            summary.append(f"## RL ({last['episodes']} episodes, last batch)\n\n{format_table(table)}"
                           + (f"\n\n{legend}" if (legend := fallback_legend(table)) else ""))
        text = "\n\n".join(summary)
        run.write_summary(f"{text}\n\n```json\n{json.dumps(sim.settings, indent=2)}\n```\n")
        if config.stage in ("rl", "both"):
            warn_fallbacks(fallback_rates(run.episodes()), config.fallback_warning, str(run.path))
    return run, text


def _fresh_planner(config: PPDPPConfig, cls) -> StrategyPlanner:
    return StrategyPlanner.from_encoder([s.name for s in cls.strategies], config.encoder, config.max_length,
                                        config.pooling)


def _sft_stage(config: PPDPPConfig, cls, run: Run) -> tuple[StrategyPlanner, dict[str, float]]:
    """Fine-tune on the annotated strategies (or, on resume, reuse a finished SFT stage)."""
    done = [r for r in run.metrics() if r.get("event") == "sft_done"]
    target = run.path / "sft"
    if done and (target / "planner.json").is_file():
        return StrategyPlanner.load(target), done[-1]["best"]
    examples = annotated_examples(cls, config.sft_data, case_file=config.data or cls.default_source(),
                                  heldout=config.heldout)
    train, val = validation_split(examples, [e.case_id for e in examples], config.sft_val_fraction)
    if not train or not val:
        raise WorkbenchError(f"SFT needs training and validation dialogues; got {len(train)} and {len(val)} "
                             f"examples (adjust --sft_val_fraction)")
    if 0 < config.sft_max_examples < len(train):
        train = random.Random(config.seed).sample(train, config.sft_max_examples)
    planner = _fresh_planner(config, cls)
    run.cut_back(metrics=lambda r: r.get("event") not in ("sft_data", "sft"))  # an unfinished attempt's epochs
    run.log_metrics({"event": "sft_data", "train": len(train), "validation": len(val)})
    best = train_sft(planner, train, val, save_to=target, epochs=config.sft_epochs, lr=config.sft_lr,
                     batch_size=config.sft_batch_size, seed=config.seed, log=run.log_metrics,
                     progress=config.progress)
    run.log_metrics({"event": "sft_done", "best": best})
    records = [r for r in run.metrics() if r.get("event") == "sft"]
    epochs = [r["epoch"] for r in records]
    plot_lines([{"title": "Training loss", "xlabel": "epoch", "ylabel": "cross-entropy",
                 "lines": {"train": (epochs, [r["train_loss"] for r in records])}},
                {"title": "Validation (macro)", "xlabel": "epoch", "ylabel": "score",
                 "lines": {k: (epochs, [r[f"val_{k}"] for r in records]) for k in ("precision", "recall", "f1")}}],
               run.plot_path("sft.png"), f"PPDPP planner SFT on {config.env}")
    return StrategyPlanner.load(target), best
