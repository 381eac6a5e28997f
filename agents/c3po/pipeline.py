"""One feedback from text to an evaluated adapter in the library, and the evaluation of stored adapters."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from agents.c3po.checks import checks_from_text, parse_check
from agents.c3po.config import MAX_FEEDBACK_CHARS, FeedbackConfig
from agents.c3po.evaluate import CritiqueJudge, Judge, evaluate
from agents.c3po.generate import FeedbackData, build_data
from agents.c3po.library import AdapterLibrary, check_name, slug
from workbench.errors import WorkbenchError
from workbench.evaluate import format_rows
from workbench.runs import Run

log = logging.getLogger(__name__)

IN_CONTEXT = "Follow this feedback where it applies: {feedback}"
RETRAIN = ("resume", "baselines", "lambda_out", "lambda_near", "beta", "sft_weight", "lora_r", "lora_alpha",
           "lora_dropout", "lr", "warmup_ratio", "epochs", "batch_size", "max_length", "judge", "library")
"""Options ``--resume`` may change: it keeps the data and trains (and scores) again (the library may have moved)."""


def check_feedback(text: str) -> str:
    """The feedback with whitespace collapsed; refuses an empty or over-long one."""
    text = " ".join(text.split())
    if not text:
        raise WorkbenchError("the feedback is empty: say what the model should do differently")
    if len(text) > MAX_FEEDBACK_CHARS:
        raise WorkbenchError(f"the feedback is {len(text)} characters long; keep it under {MAX_FEEDBACK_CHARS} "
                             "(one instruction per adapter)")
    return text


def check_config(config: FeedbackConfig) -> None:
    """Refuse option values that cannot work, before anything is loaded or written."""
    positive = ("train_prompts", "eval_prompts", "revisions", "categories", "written_prompts", "batch_size",
                "max_new_tokens", "max_length", "lora_r", "epochs", "lr", "beta")
    for key in positive:
        if getattr(config, key) <= 0:
            raise WorkbenchError(f"--{key} must be positive, got {getattr(config, key)}")
    for key in ("lambda_out", "lambda_near", "sft_weight", "lora_dropout"):
        if getattr(config, key) < 0:
            raise WorkbenchError(f"--{key} must not be negative, got {getattr(config, key)}")
    if not 0 <= config.warmup_ratio < 1:
        raise WorkbenchError(f"--warmup_ratio is a share of the steps, in [0, 1); got {config.warmup_ratio}")
    if not 0 < config.threshold_out <= config.threshold_in <= 1:
        raise WorkbenchError(f"need 0 < --threshold_out <= --threshold_in <= 1; got {config.threshold_out} and "
                             f"{config.threshold_in}")


def local_model(spec: str) -> Any:
    """The ``LocalChatModel`` adapters are trained for; a remote spec gets a clear error."""
    from workbench.llm.local import LocalChatModel
    from workbench.llm.resolve import chat_model

    model = chat_model(spec)
    if not isinstance(model, LocalChatModel):
        raise WorkbenchError(f"--model {spec!r}: adapters are trained for a local model (embedded:gemma-3-270m or a "
                             "model folder); use a remote model as --writer or --judge")
    return model


def make_judge(spec: str | None, default: Any, feedback: str, checks: list[Any]) -> Judge | CritiqueJudge | None:
    """The judge of a feedback without checkable rules (``spec``, else ``default``; ``critic:<folder>``: a trained
    critic, :class:`CritiqueJudge`); None with rules."""
    from workbench.llm.resolve import CRITIC_SPEC, chat_model

    if checks:
        return None
    if spec and spec.startswith(CRITIC_SPEC):
        return CritiqueJudge(chat_model(spec), feedback)
    return Judge(chat_model(spec) if spec else default, feedback)


def add_feedback(text: str, config: FeedbackConfig) -> tuple[Path, dict[str, dict[str, float]]]:
    """Generate the data, train the C3PO adapter (and with ``baselines`` DPO-only and SFT), evaluate every
    method on the held-out prompts and store the adapter, enabled, in the library. Every option is checked
    and every model resolved before the adapter's folder is created."""
    from workbench.llm.embedded import encoder_path
    from workbench.llm.resolve import chat_model
    from workbench.registry import env_class
    from workbench.training.trainers import MetricsToRun, model_source, plot_metrics

    from agents.c3po.trainer import train_method

    text = check_feedback(text)
    check_config(config)
    checks = [parse_check(c) for c in config.check] if config.check else checks_from_text(text)
    library = AdapterLibrary(config.library)
    name = check_name(config.name or slug(text))
    if not config.resume:
        library.check_new(name)
    folder = library.folder(name)
    has_data = (folder / "data" / "feedback.json").is_file()
    model = local_model(config.model)
    source = model_source(config.model)
    writer = chat_model(config.writer) if config.writer else model
    judge = make_judge(config.judge, writer, text, checks)
    if not has_data:
        for env in config.envs or ():
            env_class(env)
        encoder_path(config.encoder)
    everything = {"feedback", *(f.name for f in dataclasses.fields(config))}
    with Run.open(folder, {"feedback": text, **dataclasses.asdict(config)}, resume=config.resume,
                  resumable_changes=RETRAIN if has_data else everything) as run:
        started = time.perf_counter()
        if has_data:
            data = FeedbackData.load(folder / "data")
            run.cut_back(metrics=lambda r: False)  # the metrics of the adapter this run replaces
        else:
            log.warning("writing data for %r (rules: %s)", text, ", ".join(map(str, checks)) or "none, judged")
            data = build_data(text, checks, config, writer=writer, model=model,
                              pool_cache=library.root / f".requests-{spec_key(config.writer or config.model)}.jsonl")
            data.save(folder / "data")
        timings = {"data_s": round(time.perf_counter() - started, 1)}
        calls: dict[str, dict[str, Any]] = {"base": {"adapter": None},
                                            "in-context": {"adapter": None, "note": IN_CONTEXT.format(feedback=text)}}
        for method in ("c3po", "dpo", "sft") if config.baselines else ("c3po",):
            out = folder if method == "c3po" else folder / "baselines" / method
            log.warning("training %s on %d in-scope pairs", method, len(data.splits["train_in"]))
            path = train_method(method, data, config, source, model.chat_mode, out,
                                callbacks=[MetricsToRun(run)] if method == "c3po" else [])
            timings[f"{method}_done_s"] = round(time.perf_counter() - started, 1)
            adapter = name if method == "c3po" else f"{name}__{method}"
            model.remove_adapter(adapter)
            model.load_adapter(path, adapter)
            calls[method] = {"adapter": adapter}
        plot_metrics(run, "c3po")
        table = evaluate(model, data, calls, judge=judge, max_tokens=config.max_new_tokens)
        timings["total_s"] = round(time.perf_counter() - started, 1)
        library.write_info(name, {"name": name, "kind": "c3po", "feedback": text,
                                  "checks": [str(c) for c in data.checks], "model": config.model, "enabled": True,
                                  "scores": table, "timings": timings, "data": data.stats})
        run.write_summary(summary(text, data, table, timings))
    return folder, table


def spec_key(spec: str) -> str:
    """A short file-name-safe key of a model spec (the writer's cached requests are kept per writer)."""
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def dropped_note(stats: dict[str, Any]) -> str:
    """What the data generation dropped (``FeedbackData.stats``), in one line."""
    dropped, revisions = stats.get("dropped", {}), stats.get("revisions", {})
    return (f"Dropped: {dropped.get('categories', 0)} proposed categories and {dropped.get('requests', 0)} written "
            f"requests (empty, too short or repeated); {revisions.get('dropped', 0)} of "
            f"{sum(revisions.values())} revisions (none usable)")


def summary(text: str, data: FeedbackData, table: dict[str, dict[str, float]], timings: dict[str, float]) -> str:
    rules = ", ".join(map(str, data.checks)) or "none (LLM judge)"
    return (f"# Feedback adapter\n\nFeedback: {text}\n\nRules: {rules}\n\n"
            f"In-scope categories: {'; '.join(data.categories)}\n\nNear-scope: {'; '.join(data.near_categories)}\n\n"
            f"Data: {data.stats}\n\n{dropped_note(data.stats)}\n\nTimings (s): {timings}\n\n"
            f"{format_rows(table, 'method')}\n")


def evaluate_adapter(library: AdapterLibrary, name: str, judge_spec: str | None = None) -> dict[str, dict[str, float]]:
    """Score ``name`` against the base model on its held-out prompts, with the reply length it was trained
    with; a combination is scored on each source's prompts next to that source alone (rows
    ``<source>: base|alone|combined``). The rows are merged into the adapter's stored scores."""
    info = library.info(name)
    model = local_model(info["model"])
    sources = info.get("sources") or [name]
    library.attach(model, sorted(set(sources) | {name}), combine=False)
    table: dict[str, dict[str, float]] = {}
    for source in sources:
        data = FeedbackData.load(library.folder(source) / "data")
        calls = ({"base": {"adapter": None}, "c3po": {"adapter": name}} if source == name else
                 {"base": {"adapter": None}, "alone": {"adapter": source}, "combined": {"adapter": name}})
        max_tokens = Run(library.folder(source)).config().get("max_new_tokens", FeedbackConfig.max_new_tokens)
        rows = evaluate(model, data, calls, judge=make_judge(judge_spec, model, data.feedback, data.checks),
                        max_tokens=max_tokens)
        table.update(rows if len(sources) == 1 else {f"{source}: {k}": v for k, v in rows.items()})
    library.update(name, scores={**info.get("scores", {}), **table})
    return table
