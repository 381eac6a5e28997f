"""One feedback from text to an evaluated adapter in the library, and the evaluation of stored adapters."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from agents.c3po.checks import checks_from_text, parse_check
from agents.c3po.config import MAX_FEEDBACK_CHARS, FeedbackConfig
from agents.c3po.evaluate import Judge, evaluate
from agents.c3po.generate import FeedbackData, build_data
from agents.c3po.library import AdapterLibrary, slug
from workbench.errors import WorkbenchError
from workbench.evaluate import format_rows
from workbench.runs import METRICS, Run, atomic_write

log = logging.getLogger(__name__)

IN_CONTEXT = "Follow this feedback where it applies: {feedback}"
RETRAIN = ("resume", "baselines", "lambda_out", "lambda_near", "beta", "lora_r", "lora_alpha", "lora_dropout", "lr",
           "warmup_ratio", "epochs", "batch_size", "max_length", "judge")
"""Options ``--resume`` may change: it keeps the data and trains (and scores) again."""


def check_feedback(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise WorkbenchError("the feedback is empty: say what the model should do differently")
    if len(text) > MAX_FEEDBACK_CHARS:
        raise WorkbenchError(f"the feedback is {len(text)} characters long; keep it under {MAX_FEEDBACK_CHARS} "
                             "(one instruction per adapter)")
    return text


def local_model(spec: str) -> Any:
    from workbench.llm.local import LocalChatModel
    from workbench.llm.resolve import chat_model

    model = chat_model(spec)
    if not isinstance(model, LocalChatModel):
        raise WorkbenchError(f"--model {spec!r}: adapters are trained for a local model (embedded:gemma-3-270m or a "
                             "model folder); use a remote model as --writer or --judge")
    return model


def add_feedback(text: str, config: FeedbackConfig) -> tuple[Path, dict[str, dict[str, float]]]:
    """Generate the data, train the C3PO adapter (and with ``baselines`` DPO-only and SFT), evaluate every
    method on the held-out prompts and store the adapter, enabled, in the library."""
    from workbench.llm.resolve import chat_model
    from workbench.training.methods import MetricsToRun, model_source, plot_metrics

    from agents.c3po.trainer import train_method

    text = check_feedback(text)
    checks = [parse_check(c) for c in config.check] if config.check else checks_from_text(text)
    library = AdapterLibrary(config.library)
    name = config.name or slug(text)
    if not config.resume:
        library.check_new(name)
    source = model_source(config.model)
    folder = library.folder(name)
    run = Run.open(folder, {"feedback": text, **dataclasses.asdict(config)}, resume=config.resume,
                   resumable_changes=RETRAIN)
    started = time.perf_counter()
    model = local_model(config.model)
    writer = chat_model(config.writer) if config.writer else model
    if config.resume and (folder / "data" / "feedback.json").is_file():
        data = FeedbackData.load(folder / "data")
        atomic_write(folder / METRICS, "")  # the metrics of the adapter this run replaces
    else:
        log.warning("writing data for %r (rules: %s)", text, ", ".join(map(str, checks)) or "none, judged")
        data = build_data(text, checks, config, writer=writer, model=model,
                          pool_cache=library.root / f".requests-{slug(config.writer or config.model, 12)}.jsonl")
        data.save(folder / "data")
    timings = {"data_s": round(time.perf_counter() - started, 1)}
    methods = ("c3po", "dpo", "sft") if config.baselines else ("c3po",)
    adapters = {}
    for method in methods:
        out = folder if method == "c3po" else folder / "baselines" / method
        log.warning("training %s on %d in-scope pairs", method, len(data.splits["train_in"]))
        adapters[method] = train_method(method, data, config, source, out, callbacks=[MetricsToRun(run)]
                                        if method == "c3po" else [])
        timings[f"{method}_done_s"] = round(time.perf_counter() - started, 1)
    plot_metrics(run, "c3po")
    calls: dict[str, dict[str, Any]] = {"base": {"adapter": None},
                                        "in-context": {"adapter": None, "note": IN_CONTEXT.format(feedback=text)}}
    for method, path in adapters.items():
        adapter = name if method == "c3po" else f"{name}__{method}"
        if adapter in model.adapters:
            model.model.delete_adapter(adapter)
        model.load_adapter(path, adapter)
        calls[method] = {"adapter": adapter}
    judge = None if data.checks else Judge(chat_model(config.judge) if config.judge else writer, text)
    table = evaluate(model, data, calls, judge=judge, max_tokens=config.max_new_tokens)
    timings["total_s"] = round(time.perf_counter() - started, 1)
    library.write_info(name, {"name": name, "kind": "c3po", "feedback": text, "checks": [str(c) for c in data.checks],
                              "model": config.model, "enabled": True, "scores": table, "timings": timings,
                              "data": data.stats})
    run.write_summary(summary(text, data, table, timings))
    return folder, table


def summary(text: str, data: FeedbackData, table: dict[str, dict[str, float]], timings: dict[str, float]) -> str:
    rules = ", ".join(map(str, data.checks)) or "none (LLM judge)"
    return (f"# Feedback adapter\n\nFeedback: {text}\n\nRules: {rules}\n\n"
            f"In-scope categories: {'; '.join(data.categories)}\n\nNear-scope: {'; '.join(data.near_categories)}\n\n"
            f"Data: {data.stats}\n\nTimings (s): {timings}\n\n{format_rows(table, 'method')}\n")


def evaluate_adapter(library: AdapterLibrary, name: str, spec: str | None = None, judge_spec: str | None = None,
                     max_tokens: int = 40) -> dict[str, dict[str, float]]:
    """Score ``name`` against the base model on its held-out prompts; a combination is scored on each
    source's prompts next to that source alone (rows ``<source>: base|alone|combined``)."""
    from workbench.llm.resolve import chat_model

    info = library.info(name)
    model = local_model(spec or info["model"])
    sources = info.get("sources") or [name]
    library.attach(model, sorted(set(sources) | {name}), combine=False)
    table: dict[str, dict[str, float]] = {}
    for source in sources:
        data = FeedbackData.load(library.folder(source) / "data")
        judge = None if data.checks else Judge(chat_model(judge_spec) if judge_spec else model, data.feedback)
        calls = {"base": {"adapter": None}, name: {"adapter": name}}
        if source != name:
            calls = {"base": {"adapter": None}, "alone": {"adapter": source}, "combined": {"adapter": name}}
        rows = evaluate(model, data, calls, judge=judge, max_tokens=max_tokens)
        table.update(rows if len(sources) == 1 else {f"{source}: {k}": v for k, v in rows.items()})
    library.update(name, scores=table)
    return table
