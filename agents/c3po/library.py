"""The adapter library: one folder per feedback, holding the LoRA adapter with its feedback text, data,
config, metrics and scores, plus an ``enabled`` flag that decides which adapters a model gets.

Layout of ``<library>/<name>/`` (a workbench run directory): ``adapter.json`` (feedback, rules, base
model, enabled, scores), ``adapter/`` (PEFT), ``data/`` (the generated prompts and replies),
``config.yaml``, ``metrics.jsonl``, ``plots/train.png``, ``summary.md`` and, with baselines,
``baselines/<method>/adapter``. A combination of adapters (PEFT ``add_weighted_adapter`` with
``combination_type="cat"``: the LoRA factors are concatenated, so the update is the exact weighted
sum of the adapters' updates) is stored the same way, naming its sources.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

from workbench.errors import WorkbenchError
from workbench.runs import CONFIG, atomic_dir, atomic_write

DEFAULT_LIBRARY = "runs/adapters"
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

    def __init__(self, root: str | Path):
        self.root = Path(root)

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

    def attach(self, model: Any, names: Sequence[str] | None = None, combine: bool = True) -> str | None:
        """Load ``names`` (default: the enabled adapters) onto a ``LocalChatModel``; with several (and
        ``combine``), their combination is added as ``enabled``. Returns the adapter now active (None: none)."""
        names = list(self.enabled() if names is None else names)
        for name in names:
            base = self.info(name)["model"]
            if not same_model(base, model.model_name):
                raise WorkbenchError(f"adapter {name!r} was trained for {base}, not {model.model_name}")
        for name in names:
            if name not in model.adapters:
                model.load_adapter(self.folder(name) / "adapter", name)
        if not names:
            return None
        if len(names) == 1 or not combine:
            model.set_adapter(names[0])
            return names[0]
        model.remove_adapter(ENABLED)
        model.model.add_weighted_adapter(names, [1.0] * len(names), ENABLED, combination_type="cat")
        model.set_adapter(ENABLED)
        return ENABLED

    def combine(self, model: Any, names: Sequence[str], new: str, weights: Sequence[float] | None = None) -> Path:
        """Store the ``cat`` combination of ``names`` as a new adapter ``new``."""
        if len(names) < 2:
            raise WorkbenchError("combine needs at least two adapters")
        weights = list(weights or [1.0] * len(names))
        if len(weights) != len(names):
            raise WorkbenchError(f"{len(weights)} weights for {len(names)} adapters")
        infos = [self.info(n) for n in names]
        self.check_new(new)
        bases = {i["model"] for i in infos}
        if len(bases) > 1:
            raise WorkbenchError(f"adapters of different base models cannot be combined: {', '.join(sorted(bases))}")
        self.attach(model, names, combine=False)
        model.model.add_weighted_adapter(list(names), weights, new, combination_type="cat")
        with atomic_dir(self.folder(new)) as folder:
            model.model.save_pretrained(str(folder), selected_adapters=[new])
            (folder / new).rename(folder / "adapter")
            self.write_info(new, {"name": new, "kind": "combined", "sources": list(names), "weights": weights,
                                  "feedback": " | ".join(i["feedback"] for i in infos), "model": bases.pop(),
                                  "enabled": False, "scores": {}}, folder)
        model.remove_adapter(new)
        return self.folder(new)
