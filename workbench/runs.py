"""Run directories: ``config.yaml``, ``episodes/``, ``metrics.jsonl``, ``checkpoints/``, ``plots/``,
``summary.md``, and for multi-trial runs ``reflections.jsonl``.

Whole files are written atomically (a uniquely named temporary file, then rename). Episodes and metrics
are appended one JSON line at a time and flushed to disk, so an interrupted run loses only the work in
flight; ``Run.open(..., resume=True)`` drops a torn last line and carries on, and each resumable command
then cuts the stored episodes and metric rows back to its last checkpoint (:meth:`Run.cut_back`), so
that every episode and row is stored exactly once.

A writer holds an exclusive OS lock (``flock``) on ``<run>/.lock`` from :meth:`Run.open` until
:meth:`Run.close` (or the end of its ``with`` block, or its process: the OS releases the lock on exit
or crash); a second writer, in another process or in another thread of this one, is refused with
a one-line error. Readers (``Run(path)``) take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Callable, Iterable, Iterator

import yaml

from workbench.episodes import Episode
from workbench.errors import WorkbenchError

CONFIG = "config.yaml"
EPISODES = "episodes/episodes.jsonl"
METRICS = "metrics.jsonl"
REFLECTIONS = "reflections.jsonl"
LOCK = ".lock"
PARTIAL = ".partial"  # the suffix of temporary files and folders (see :func:`_temporary_name`)


def default_out(kind: str, root: str | Path = "runs") -> str:
    """A new run folder for a command run without ``--out``: ``runs/<kind>-YYYY-MM-DD-HHMM`` (local time),
    with ``-2``, ``-3``, ... when that name is taken, so that no command writes into another run's folder."""
    stem = Path(root) / f"{kind}-{time.strftime('%Y-%m-%d-%H%M')}"
    path, n = stem, 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}")
    return str(path)


def _temporary_name(path: Path) -> Path:
    """A name beside ``path`` that no other writer uses at the same time."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}")


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Write a folder atomically: fill the yielded temporary folder (a unique name beside ``path``); on
    success it replaces ``path`` (the old folder is kept as ``.NAME.old`` until the new one is in place,
    see :func:`settled_dir`); on an error it is removed."""
    path = Path(path)
    tmp, old = _temporary_name(path), path.with_name(f".{path.name}.old")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def _lock(folder: Path) -> IO[bytes]:
    """Take the exclusive lock on ``folder/.lock`` (making the folder if need be) and write this process's
    id into it; refuse with a one-line error while another writer holds it. The lock lives as long as the
    returned file is open (each ``open`` is its own lock, so a second open in this process conflicts too)."""
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            file = open(folder / LOCK, "a+b")
        except OSError as e:
            raise WorkbenchError(f"cannot write the run folder {folder}: {e.strerror or e}") from None
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            file.seek(0)
            pid = file.read().decode(errors="replace").strip() or "unknown"
            file.close()
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise WorkbenchError(f"run folder {folder} is in use by another process or run (pid {pid}); "
                                     "wait for it to finish or choose another --out") from None
            raise WorkbenchError(f"cannot lock the run folder {folder}: {e.strerror or e}") from None
        try:  # a writer that failed may have removed the folder between our open and our lock: start again
            same = os.stat(folder / LOCK).st_ino == os.fstat(file.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            file.truncate(0)
            file.write(f"{os.getpid()}\n".encode())
            file.flush()
            return file
        file.close()


class Run:
    """One run directory. ``Run(path)`` reads (and takes no lock); :meth:`open` makes a writer, which is
    used as a context manager (or closed with :meth:`close`) to release its lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock: IO[bytes] | None = None
        self._new = False  # this writer made the run (no config.yaml before it)
        self._folder_existed = True

    @classmethod
    def open(cls, path: str | Path, config: dict[str, Any], *, resume: bool = False,
             resumable_changes: Iterable[str] = ("resume",)) -> "Run":
        """Create a run directory, or with ``resume`` continue one whose config matches
        (keys in ``resumable_changes`` may differ, e.g. a larger episode count), and lock it for this
        writer. Closing the writer after a failure removes a run it created that holds no work yet."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise WorkbenchError(f"{run.path} is a file, not a run folder; choose another --out")
        run._check(config, resume, resumable_changes)  # the clear message first, before touching anything
        run._folder_existed = run.path.exists()
        run._lock = _lock(run.path)
        try:
            run._new = not (run.path / CONFIG).exists()
            run._check(config, resume, resumable_changes)  # again under the lock: another writer may have been first
            if not run._new:
                for name in (EPISODES, METRICS, REFLECTIONS):
                    _drop_torn_line(run.path / name)
            for leftover in sorted(run.path.rglob(f"*{PARTIAL}"), reverse=True):  # from writers that died
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
            atomic_write(run.path / CONFIG, yaml.safe_dump(config, sort_keys=True))
        except BaseException:
            run.close(failed=True)
            raise
        return run

    def _check(self, config: dict[str, Any], resume: bool, resumable_changes: Iterable[str]) -> None:
        config_file = self.path / CONFIG
        if config_file.exists():
            if not resume:
                raise WorkbenchError(f"run directory {self.path} already exists; pass --resume to continue it "
                                     "or choose another --out")
            old = yaml.safe_load(config_file.read_text()) or {}
            changed = sorted(k for k in set(old) | set(config)
                             if k not in resumable_changes and old.get(k) != config.get(k))
            if changed:
                raise WorkbenchError(f"cannot resume {self.path}: config differs in {', '.join(changed)}")
        elif self.path.is_dir() and any(p.name not in (LOCK, CONFIG) and not p.name.endswith(PARTIAL)
                                        for p in self.path.iterdir()):  # a config written since: checked under the lock
            raise WorkbenchError(f"{self.path} exists and is not a run directory; choose another --out")

    def close(self, *, failed: bool = False) -> None:
        """Release the writer's lock. With ``failed``, a run this writer created that holds no work (no
        file but its config with any content: no episode, metric row, checkpoint, ...) is removed, so the
        corrected command can run again without ``--resume``. Closing a reader or a closed run does nothing."""
        if self._lock is None:
            return
        try:
            if failed and self._new and not self.has_work():
                for entry in list(self.path.iterdir()):
                    if entry.name != LOCK:
                        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                (self.path / LOCK).unlink(missing_ok=True)
                if not self._folder_existed:
                    self.path.rmdir()
        finally:
            self._lock.close()
            self._lock = None

    def has_work(self) -> bool:
        """Whether the run holds anything but its config: a non-empty file anywhere in it."""
        return any(p.is_file() and p.stat().st_size > 0 and p.name not in (CONFIG, LOCK)
                   and not p.name.endswith(PARTIAL) for p in self.path.rglob("*"))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(failed=kind is not None)

    # -- episodes --------------------------------------------------------------------------
    def append_episodes(self, episodes: Iterable[Episode]) -> None:
        """Append episodes to ``episodes/episodes.jsonl``, one :meth:`Episode.to_row` line each (nested JSON)."""
        append_lines(self.path / EPISODES, (e.to_row() for e in episodes))

    def keep_episodes(self, keep: Callable[[Episode], bool]) -> None:
        """Rewrite the episode file with only the episodes ``keep`` accepts (atomically)."""
        self.cut_back(episodes=keep)

    def cut_back(self, *, episodes: Callable[[Episode], bool] | None = None,
                 metrics: Callable[[dict[str, Any]], bool] | None = None) -> tuple[int, int]:
        """Keep only the stored episodes and metric rows the predicates accept (each file rewritten
        atomically; None leaves it as is); return how many episodes and rows were dropped. Resuming
        commands call it with "covered by the checkpoint I resume from", so that the work an interrupted
        attempt did after its last checkpoint, which the resumed attempt does again, is stored once."""
        dropped = [0, 0]
        if episodes is not None and (self.path / EPISODES).exists():
            stored = self.episodes()
            kept = [e.to_row() for e in stored if episodes(e)]
            dropped[0] = len(stored) - len(kept)
            if dropped[0]:
                atomic_write(self.path / EPISODES, "".join(json.dumps(row) + "\n" for row in kept))
        if metrics is not None and (self.path / METRICS).exists():
            lines = [l for l in (self.path / METRICS).read_text().splitlines() if l.strip()]
            kept_lines = [l for l in lines if metrics(json.loads(l))]
            dropped[1] = len(lines) - len(kept_lines)
            if dropped[1]:
                atomic_write(self.path / METRICS, "".join(l + "\n" for l in kept_lines))
        return dropped[0], dropped[1]

    def episodes(self) -> list[Episode]:
        from workbench.episodes import load_episodes

        file = self.path / EPISODES
        return load_episodes(file) if file.exists() else []

    # -- reflections (multi-trial runs: workbench.trials) -------------------------------------------
    def append_reflections(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append reflection rows to ``reflections.jsonl`` (one JSON line each)."""
        append_lines(self.path / REFLECTIONS, rows)

    def reflections(self) -> list[dict[str, Any]]:
        file = self.path / REFLECTIONS
        return [json.loads(l) for l in file.read_text().splitlines() if l.strip()] if file.exists() else []

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
