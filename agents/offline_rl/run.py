"""``workbench train offline-rl``: a strategy planner from stored dialogues by BC, filtered BC, AWR, or DPO
on preference labels.

The data are episodes in a run directory: a hindsight-regenerated dataset (``workbench hindsight
regenerate``) or self-play. ``--subset original`` keeps only a regenerated dataset's original dialogues,
the "unaltered dialogues" baseline at the same budget (``--steps``). ``--method dpo`` reads the pairs of a
``workbench hindsight simulate`` run (``<data>/preferences/<--feedback>.jsonl``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agents.offline_rl.weights import METHODS
from agents.ppdpp.config import POOLING
from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # OfflineRLConfig stays importable (for --help) without torch
    from workbench.runs import Run

SUBSETS = ("all", "original")
FEEDBACK = ("immediate", "partial", "oracle")


@dataclass
class OfflineRLConfig:
    env: str = field(default="persuasion", metadata={"help": "environment the planner plays (its strategy set)"})
    data: str | None = field(default=None, metadata={
        "help": "run directory (or episode file) to learn from, e.g. of `workbench hindsight regenerate`",
        "path": "in"})
    method: str = field(default="awr", metadata={
        "help": "bc (behaviour cloning), fbc (filtered BC: dialogues at or above the --quantile of returns), awr "
                "(advantage-weighted regression with Monte-Carlo advantages from hindsight branches) or dpo (on the "
                "--feedback preference pairs of a `hindsight simulate` run)", "choices": (*METHODS, "dpo")})
    feedback: str = field(default="oracle", metadata={
        "help": "dpo: which labels: immediate, partial (hindsight) or oracle (hindsight)", "choices": FEEDBACK})
    dpo_beta: float = field(default=0.1, metadata={"help": "dpo: beta of the DPO loss", "gt": 0})
    subset: str = field(default="all", metadata={
        "help": "all episodes, or only the original dialogues of a regenerated dataset", "choices": SUBSETS})
    quantile: float = field(default=0.5, metadata={
        "help": "fbc: least return quantile a dialogue needs", "min": 0, "max": 1})
    beta: float = field(default=0.2, metadata={
        "help": "awr: temperature of exp(A / beta), in return units", "gt": 0})
    max_weight: float = field(default=20.0, metadata={
        "help": "awr: largest example weight (Peng et al.: 20)", "gt": 0})
    steps: int = field(default=300, metadata={"help": "training batches (the budget)", "min": 1})
    batch_size: int = field(default=32, metadata={"help": "examples per batch", "min": 1})
    lr: float = field(default=1e-3, metadata={
        "help": "learning rate (AdamW, warm-up over the first tenth of the steps, linear decay)", "gt": 0})
    encoder: str = field(default="embedded:minilm", metadata={"help": "planner encoder"})
    max_length: int = field(default=256, metadata={
        "help": "encoder tokens kept from the end of the history", "min": 1})
    pooling: str = field(default="mean", metadata={"help": "mean or cls", "choices": POOLING})
    freeze_encoder: bool = field(default=True, metadata={
        "help": "train only the planner's head on the frozen encoder's features, which are kept in "
                "<data>/features/ for the next run on the same data (fast on a CPU)",
        "no_help": "train the encoder too (slow on a CPU)"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    out: str | None = out_field("offline-rl")
    resume: bool = field(default=False, metadata={"help": "replace an earlier run's planner in --out"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})


def run_offline_rl(config: OfflineRLConfig) -> tuple[Run, str]:
    """Train the planner into ``<out>/planner``; return the run and its summary."""
    from agents.offline_rl.preferences import strategy_pairs, train_planner_dpo
    from agents.offline_rl.train import feature_cache, precompute_features, train_weighted
    from agents.offline_rl.weights import weighted_examples
    from agents.ppdpp.planner import StrategyPlanner
    from workbench.episodes import load_episodes
    from workbench.evaluate import format_table, plot_lines
    from workbench.llm.embedded import encoder_path
    from workbench.registry import env_class
    from workbench.runs import Run

    cls = env_class(config.env)
    for key, allowed in (("method", (*METHODS, "dpo")), ("subset", SUBSETS), ("feedback", FEEDBACK)):
        if getattr(config, key) not in allowed:
            raise WorkbenchError(f"unknown --{key} {getattr(config, key)!r} (use {', '.join(allowed)})")
    if config.steps < 1 or config.batch_size < 1:
        raise WorkbenchError("--steps and --batch_size must be positive")
    if config.data is None:
        raise WorkbenchError("offline-rl needs --data: a run directory of episodes (e.g. of `workbench hindsight "
                             "regenerate`)")
    config.out = resolve_out(config.out, config.resume, "offline-rl")
    encoder_path(config.encoder)
    source = Path(config.data)
    episodes = load_episodes(source / "episodes" if (source / "episodes").is_dir() else source)
    if config.subset == "original":
        episodes = [e for e in episodes if e.provenance.get("hindsight", "original") == "original"]
    names = [s.name for s in cls.strategies]
    if config.method == "dpo":
        rows = _preference_rows(source, config.feedback)
        items = strategy_pairs(rows, episodes, cls.agent_role, names)
        histories = [p.history for p in items]
        stats = {"episodes": len(episodes), "preference rows": len(rows), "pairs": len(items)}
    else:
        items = weighted_examples(episodes, cls.agent_role, names, config.method, q=config.quantile,
                                  beta=config.beta, max_weight=config.max_weight)
        histories = [e.history for e in items if e.weight > 0]
        stats = {"episodes": len(episodes), "examples": len(items), "weighted": len(histories),
                 "mean weight": sum(e.weight for e in items) / len(items)}
    with Run.open(config.out, asdict(config), resume=config.resume, resumable_changes=("resume", "progress")) as run:
        run.cut_back(metrics=lambda r: False)  # no checkpoint: a resumed run trains (and logs) from the start again
        planner = StrategyPlanner.from_encoder(names, config.encoder, config.max_length, config.pooling)
        if config.freeze_encoder:
            planner.freeze_encoder()
            folder = source if source.is_dir() else source.parent
            precompute_features(planner, histories, feature_cache(folder, planner, config.encoder),
                                progress=config.progress)
        run.log_metrics({"event": "offline_rl_data", **stats})
        if config.method == "dpo":
            train_planner_dpo(planner, items, beta=config.dpo_beta, steps=config.steps, batch_size=config.batch_size,
                              lr=config.lr, seed=config.seed, log=run.log_metrics, progress=config.progress)
            planner.save(run.path / "planner")
        else:
            train_weighted(planner, items, steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                           seed=config.seed, save_to=run.path / "planner", log=run.log_metrics,
                           progress=config.progress)
        event = "planner_dpo" if config.method == "dpo" else "offline_rl"
        records = [r for r in run.metrics() if r.get("event") == event][-config.steps:]
        plot_lines([{"title": "Training loss", "xlabel": "step", "ylabel": "cross-entropy of the sampled batch",
                     "lines": {config.method: ([r["step"] for r in records], [r["loss"] for r in records])}}],
                   run.plot_path("loss.png"), f"Offline RL ({config.method}) on {config.env}")
        text = (f"# Offline RL ({config.method}) on {config.env}\n\n{format_table(stats)}\n\n"
                f"Planner: `{run.path / 'planner'}` (use `planner:{run.path / 'planner'}`)")
        run.write_summary(f"{text}\n\n```json\n{json.dumps(asdict(config), indent=2)}\n```\n")
    return run, text


def _preference_rows(source: Path, feedback: str) -> list[dict]:
    path = source / "preferences" / f"{feedback}.jsonl"
    if not path.is_file():
        raise WorkbenchError(f"no preference file {path} (make one with `workbench hindsight simulate`)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
