"""Run directories: ``config.yaml``, ``episodes/``, ``metrics.jsonl``, ``checkpoints/``, ``plots/``,
``summary.md``.

Whole files are written atomically (temporary file, then rename). Episodes and metrics are
appended one JSON line at a time and flushed to disk, so an interrupted run loses only the work
in flight; ``Run.open(..., resume=True)`` drops a torn last line and carries on.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from workbench.episodes import Episode
from workbench.errors import WorkbenchError

CONFIG = "config.yaml"
EPISODES = "episodes/episodes.jsonl"
METRICS = "metrics.jsonl"


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Write a folder atomically: fill the yielded temporary folder; on success it replaces ``path``
    (the old folder is kept as ``.NAME.old`` until the new one is in place, see :func:`settled_dir`)."""
    path = Path(path)
    tmp, old = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def settled_dir(path: str | Path) -> Path | None:
    """The folder :func:`atomic_dir` last completed at ``path`` (its ``.old`` copy when an interrupt
    fell between the two renames), or None."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    return path if path.exists() else old if old.exists() else None


def append_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _drop_torn_line(path: Path) -> None:
    """Cut a file back to its last complete line (an interrupt can leave half a line)."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)


class Run:
    """One run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | Path, config: dict[str, Any], *, resume: bool = False,
             resumable_changes: Iterable[str] = ("resume",)) -> "Run":
        """Create a run directory, or with ``resume`` continue one whose config matches
        (keys in ``resumable_changes`` may differ, e.g. a larger episode count)."""
        run = cls(path)
        config_file = run.path / CONFIG
        if config_file.exists():
            if not resume:
                raise WorkbenchError(f"run directory {run.path} already exists; pass --resume to continue it "
                                     "or choose another --out")
            old = yaml.safe_load(config_file.read_text()) or {}
            changed = sorted(k for k in set(old) | set(config)
                             if k not in resumable_changes and old.get(k) != config.get(k))
            if changed:
                raise WorkbenchError(f"cannot resume {run.path}: config differs in {', '.join(changed)}")
            for name in (EPISODES, METRICS):
                _drop_torn_line(run.path / name)
        elif run.path.exists() and any(run.path.iterdir()):
            raise WorkbenchError(f"{run.path} exists and is not a run directory; choose another --out")
        atomic_write(config_file, yaml.safe_dump(config, sort_keys=True))
        return run

    # -- episodes --------------------------------------------------------------------------
    def append_episodes(self, episodes: Iterable[Episode]) -> None:
        append_lines(self.path / EPISODES, (e.to_row() for e in episodes))

    def keep_episodes(self, keep: Callable[[Episode], bool]) -> None:
        """Rewrite the episode file with only the episodes ``keep`` accepts (atomically)."""
        kept = [e.to_row() for e in self.episodes() if keep(e)]
        atomic_write(self.path / EPISODES, "".join(json.dumps(row) + "\n" for row in kept))

    def episodes(self) -> list[Episode]:
        from workbench.episodes import load_episodes

        file = self.path / EPISODES
        return load_episodes(file) if file.exists() else []

    # -- metrics, plots, summary -------------------------------------------------------------
    def log_metrics(self, record: dict[str, Any]) -> None:
        append_lines(self.path / METRICS, [record])

    def metrics(self) -> list[dict[str, Any]]:
        file = self.path / METRICS
        return [json.loads(l) for l in file.read_text().splitlines() if l.strip()] if file.exists() else []

    def config(self) -> dict[str, Any]:
        file = self.path / CONFIG
        if not file.exists():
            raise WorkbenchError(f"{self.path} is not a run directory (no {CONFIG})")
        return yaml.safe_load(file.read_text()) or {}

    def plot_path(self, name: str) -> Path:
        (self.path / "plots").mkdir(parents=True, exist_ok=True)
        return self.path / "plots" / name

    def write_summary(self, text: str) -> Path:
        return atomic_write(self.path / "summary.md", text)
