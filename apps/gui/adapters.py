"""The verbal-feedback page's views of the adapter library: the adapters with their scores, and one
adapter's replies next to the base model's on its own held-out in-scope and out-of-scope prompts."""

from __future__ import annotations

from typing import Any

from agents.c3po.config import FeedbackConfig
from agents.c3po.generate import FeedbackData, baselines
from agents.c3po.library import AdapterLibrary
from workbench.runs import Run

SCORE_COLUMNS = ("S_in", "S_out", "S_overall", "S_out_near", "S_out_out")


def adapter_rows(library: AdapterLibrary) -> list[list[Any]]:
    """One row per adapter: name, enabled, kind, feedback, and its S_in / S_out where it was scored."""
    rows = []
    for name in library.names():
        info = library.info(name)
        scores = info.get("scores", {}).get("c3po") or {}
        rows.append([name, "yes" if info.get("enabled") else "no", info.get("kind", "c3po"), info["feedback"],
                     scores.get("S_in", ""), scores.get("S_out", "")])
    return rows


def score_rows(library: AdapterLibrary, name: str) -> list[list[Any]]:
    """The adapter's stored score table: one row per method (base, in-context, c3po, baselines)."""
    scores = library.info(name).get("scores", {})
    return [[method, *(row.get(c, "") for c in SCORE_COLUMNS)] for method, row in scores.items()]


def compare(model: Any, local: Any, library: AdapterLibrary, name: str, per_scope: int = 4) -> list[list[str]]:
    """Greedy replies without and with adapter ``name`` on up to ``per_scope`` held-out prompts of each scope
    (in, near, out), with the reply length the adapter was trained with. ``model`` is the shared (batched)
    chat model and ``local`` the ``LocalChatModel`` behind it, which the adapter is attached to."""
    sources = library.info(name).get("sources") or [name]
    with local.lock:
        library.attach(local, [name], combine=False)
        local.disable_adapters()
    rows = []
    for source in sources:
        data = FeedbackData.load(library.folder(source) / "data")
        max_tokens = Run(library.folder(source)).config().get("max_new_tokens", FeedbackConfig.max_new_tokens)
        for scope in ("in", "near", "out"):
            prompts = [e.prompt for e in data.splits[f"eval_{scope}"][:per_scope]]
            if not prompts:
                continue
            without = baselines(model, prompts, max_tokens, adapter=None)
            with_adapter = baselines(model, prompts, max_tokens, adapter=name)
            rows += [[scope, p.messages[-1]["content"], a, b] for p, a, b in zip(prompts, without, with_adapter)]
    return rows
