"""The adapter library: one folder per feedback, holding the LoRA adapter with its feedback text, data,
config, metrics and scores, plus an ``enabled`` flag that decides which adapters a model gets.

Layout of ``<library>/<name>/`` (a workbench run directory): ``adapter.json`` (feedback, rules, base
model, enabled, scores), ``adapter/`` (PEFT), ``data/`` (the generated prompts and replies),
``config.yaml``, ``metrics.jsonl``, ``plots/train.png``, ``summary.md`` and, with baselines,
``baselines/<method>/adapter``. A combination of adapters is stored the same way, naming its sources,
in one of two kinds:

- ``cat``: PEFT ``add_weighted_adapter`` with ``combination_type="cat"``; the LoRA factors are
  concatenated, so the update is the exact weighted sum of the adapters' updates, on every prompt.
- ``routed``: no new weights; each conversation gets the source adapter whose scope it falls in (by the
  rule and sentence encoder its data were made with), or the base model (``scope.ScopeRouter``), in
  PEFT mixed-adapter batches. Summed updates interfere (each was trained, and anchored, alone); routed
  ones do not, and the model stays the base model outside every scope.

Several enabled adapters are routed when each has its scope data, else summed (``cat``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

from agents.c3po.config import COMBINATIONS, FeedbackConfig
from agents.c3po.scope import Scope, ScopeRouter
from workbench.errors import WorkbenchError
from workbench.runs import CONFIG, Run, atomic_dir, atomic_write

INFO = "adapter.json"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ENABLED = "enabled"
"""Name of the combination of every enabled adapter when more than one is enabled."""


def slug(text: str, words: int = 6) -> str:
    """An adapter name from the feedback's first words: ``"Don't use emojis"`` -> ``dont-use-emojis``."""
    cleaned = re.sub(r"[^a-z0-9 ]+", "", text.lower().replace("-", " "))
    return "-".join(cleaned.split()[:words])[:64].strip("-") or "feedback"


def same_model(spec: str, name: str) -> bool:
    """Whether model spec ``spec`` names the loaded model called ``name`` (a spec, or a resolved folder)."""
    return spec == name or Path(spec).expanduser().resolve() == Path(name).expanduser().resolve()


def check_name(name: str) -> str:
    """``name`` if it can name an adapter folder, else a clear error."""
    if not _NAME.fullmatch(name) or name == ENABLED:
        raise WorkbenchError(f"adapter name {name!r}: use 1-64 lower-case letters, digits, '-' or '_' "
                             f"(not {ENABLED!r})")
    return name


class AdapterLibrary:
    """The adapters under one folder (module docstring); every write is atomic."""

    def __init__(self, root: str | Path, encoder: Any = None):
        self.root = Path(root)
        self.encoder = encoder
        """The sentence encoder routed combinations use; None: the one the sources were made with, when needed."""

    def folder(self, name: str) -> Path:
        return self.root / name

    def names(self) -> list[str]:
        """The complete adapters, sorted (a folder without ``adapter.json`` is an unfinished ``add``)."""
        return sorted(p.parent.name for p in self.root.glob(f"*/{INFO}")) if self.root.is_dir() else []

    def check_new(self, name: str) -> None:
        """Refuse a bad name, or one whose folder exists."""
        if self.folder(check_name(name)).exists():
            raise WorkbenchError(f"adapter {name!r} already exists in {self.root}; choose another --name, continue "
                                 "it with --resume or remove it")

    def info(self, name: str) -> dict[str, Any]:
        """The adapter's ``adapter.json`` (feedback, rules, base model, enabled, scores, timings)."""
        file = self.folder(name) / INFO
        if not file.is_file():
            known = ", ".join(self.names()) or "none"
            raise WorkbenchError(f"unknown adapter {name!r} in {self.root} (known: {known})")
        return json.loads(file.read_text())

    def write_info(self, name: str, info: dict[str, Any], folder: Path | None = None) -> None:
        atomic_write((folder or self.folder(name)) / INFO, json.dumps(info, indent=2))

    def update(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change fields of ``adapter.json``; returns the new info."""
        info = {**self.info(name), **changes}
        self.write_info(name, info)
        return info

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.update(name, enabled=enabled)

    def remove(self, name: str) -> None:
        """Delete an adapter, or the folder an unfinished ``add`` left; refused while a combination uses it."""
        folder = self.folder(check_name(name))
        unfinished = (folder / CONFIG).is_file() and not (folder / INFO).is_file()
        if not unfinished:
            self.info(name)  # a clear error for an unknown name
        users = [n for n in self.names() if name in self.info(n).get("sources", [])]
        if users:
            raise WorkbenchError(f"adapter {name!r} is part of {', '.join(users)}; remove those first")
        shutil.rmtree(folder)

    def enabled(self) -> list[str]:
        """The names of the enabled adapters."""
        return [n for n in self.names() if self.info(n).get("enabled")]

    def config(self, name: str) -> dict[str, Any]:
        """The options the adapter was made with (empty for a combination)."""
        return Run(self.folder(name)).config() if (self.folder(name) / CONFIG).is_file() else {}

    def scope(self, name: str) -> Scope | None:
        """Where adapter ``name`` applies, from its stored data (None: it has none, e.g. a combination)."""
        meta = self.folder(name) / "data" / "feedback.json"
        if not meta.is_file():
            return None
        data = json.loads(meta.read_text())
        threshold = self.config(name).get("threshold_in", FeedbackConfig.threshold_in)
        return Scope(data["categories"], data["near_categories"], threshold)

    def router(self, names: Sequence[str]) -> ScopeRouter:
        """The router between ``names`` (each needs its scope data)."""
        scopes = {n: self.scope(n) for n in names}
        missing = [n for n, scope in scopes.items() if scope is None]
        if missing:
            raise WorkbenchError(f"adapter(s) {', '.join(missing)} have no scope data to route by (a combination "
                                 "cannot be routed); combine them with --kind cat")
        if self.encoder is None:
            from workbench.llm.embedded import SentenceEncoder

            self.encoder = SentenceEncoder(self.config(names[0]).get("encoder", FeedbackConfig.encoder))
        return ScopeRouter(self.encoder, scopes)  # type: ignore[arg-type]

    def attach(self, model: Any, names: Sequence[str] | None = None, combine: bool = True) -> str | None:
        """Load ``names`` (default: the enabled adapters) onto a ``LocalChatModel``, with the sources of routed
        combinations; with several (and ``combine``), their combination is added as ``enabled``: routed when
        each has scope data, else ``cat``. Returns the adapter (or router) to call with (None: none)."""
        names = list(self.enabled() if names is None else names)
        infos = {name: self.info(name) for name in names}
        for name, info in infos.items():
            if not same_model(info["model"], model.model_name):
                raise WorkbenchError(f"adapter {name!r} was trained for {info['model']}, not {model.model_name}")
        for name, info in infos.items():
            if info.get("kind") == "routed":
                self.attach(model, info["sources"], combine=False)
                if name not in model.adapters + model.routers:
                    model.add_router(name, self.router(info["sources"]))
            elif name not in model.adapters:
                model.load_adapter(self.folder(name) / "adapter", name)
        if not names:
            return None
        if len(names) == 1 or not combine:
            if infos[names[0]].get("kind") != "routed":
                model.set_adapter(names[0])
            return names[0]
        model.remove_adapter(ENABLED)
        routed = [s for n in names for s in (infos[n]["sources"] if infos[n].get("kind") == "routed" else [n])]
        if all(self.scope(n) for n in routed):
            model.add_router(ENABLED, self.router(list(dict.fromkeys(routed))))
            return ENABLED
        if len(routed) > len(names):
            raise WorkbenchError("a routed combination cannot be summed with adapters that have no scope data")
        model.model.add_weighted_adapter(names, [1.0] * len(names), ENABLED, combination_type="cat")
        model.set_adapter(ENABLED)
        return ENABLED

    def combine(self, model: Any, names: Sequence[str], new: str, weights: Sequence[float] | None = None,
                kind: str = "routed") -> Path:
        """Store the combination of ``names`` (``kind``: module docstring) as a new adapter ``new``; ``model``
        (the sources' ``LocalChatModel``) is only needed for ``cat``."""
        if kind not in COMBINATIONS:
            raise WorkbenchError(f"unknown combination kind {kind!r} (known: {', '.join(COMBINATIONS)})")
        if len(names) < 2:
            raise WorkbenchError("combine needs at least two adapters")
        if kind == "routed" and weights:
            raise WorkbenchError("a routed combination takes no --weights: each prompt gets one adapter whole")
        weights = list(weights or [1.0] * len(names))
        if len(weights) != len(names):
            raise WorkbenchError(f"{len(weights)} weights for {len(names)} adapters")
        infos = [self.info(n) for n in names]
        self.check_new(new)
        bases = {i["model"] for i in infos}
        if len(bases) > 1:
            raise WorkbenchError(f"adapters of different base models cannot be combined: {', '.join(sorted(bases))}")
        info = {"name": new, "kind": kind if kind == "routed" else "combined", "sources": list(names),
                "feedback": " | ".join(i["feedback"] for i in infos), "model": bases.pop(), "enabled": False,
                "scores": {}}
        if kind == "routed":
            self.router(names)  # refuses sources without scope data
            with atomic_dir(self.folder(new)) as folder:
                self.write_info(new, info, folder)
            return self.folder(new)
        self.attach(model, names, combine=False)
        model.model.add_weighted_adapter(list(names), weights, new, combination_type="cat")
        with atomic_dir(self.folder(new)) as folder:
            model.model.save_pretrained(str(folder), selected_adapters=[new])
            (folder / new).rename(folder / "adapter")
            self.write_info(new, info | {"weights": weights}, folder)
        model.remove_adapter(new)
        return self.folder(new)
