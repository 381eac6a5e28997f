"""Background training jobs: the app's ``workbench`` commands, run one at a time from a visible queue.

Each job is a ``workbench ...`` command in its own process group, so cancelling it is a Ctrl-C (the
commands save their finished work and checkpoints on it) and a crash cannot take the app down. A job
lives in ``<runs>/jobs/<id>/``: ``job.json`` (its state, written atomically), ``log.txt`` (its output,
where the progress bars are read from) and, for training commands, ``run/`` (its run directory, whose
``metrics.jsonl`` feeds the live plots). Jobs outlive a browser reload; a job that was queued or running
when the app stopped is marked interrupted when it starts again (the app stops its running job, with
Ctrl-C, as it exits).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from workbench.errors import WorkbenchError
from workbench.runs import atomic_write

JOBS = "jobs"
LIVE = ("queued", "running")
_BAR = re.compile(r"(?:([^\r\n|:]{1,60}):\s*)?(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")
CANCEL_GRACE_S = 15.0
"""Seconds a cancelled job has to stop after Ctrl-C before it is killed."""


@dataclass
class Job:
    id: str
    kind: str
    title: str
    argv: list[str]
    metrics_dir: str
    """Folder whose ``metrics.jsonl`` the job writes (its run directory, or the adapter's folder)."""
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    returncode: int | None = None


class JobQueue:
    """Jobs under ``<root>/jobs``, run one at a time by a worker thread."""

    def __init__(self, root: str | Path, command: Sequence[str] = (sys.executable, "-m", "apps.cli")):
        """``command``: what runs a job's ``argv`` (default: this Python's ``workbench``)."""
        self.root = Path(root) / JOBS
        self.command = list(command)
        self._jobs: dict[str, Job] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._cancelled: set[str] = set()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        atexit.register(self.shutdown)
        for file in sorted(self.root.glob("*/job.json")):
            job = Job(**json.loads(file.read_text()))
            if job.status in LIVE:
                job.status = "interrupted"
                self._save(job)
            self._jobs[job.id] = job

    # ----- queue -----

    def submit(self, kind: str, title: str, argv: Sequence[str], metrics_dir: str | Path | None = None, *,
               out: bool = True) -> Job:
        """Queue ``workbench ARGV``, with ``--out`` the job's own ``run/`` folder when ``out``; the job's metrics are
        read from ``metrics_dir`` (default: that folder)."""
        with self._cond:
            n = len(self._jobs) + 1
            job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{n:03d}-{kind}"
            run = self.run_folder(job_id)
            argv = [str(a) for a in argv] + (["--out", str(run)] if out else [])
            job = Job(id=job_id, kind=kind, title=title, argv=argv, metrics_dir=str(metrics_dir or run))
            self._jobs[job_id] = job
            self._save(job)
            self._ensure_worker()
            self._cond.notify_all()
        return job

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def run_folder(self, job_id: str) -> Path:
        """Where a training job started by the app writes its run (``--out``)."""
        return self.folder(job_id) / "run"

    def jobs(self) -> list[Job]:
        """Every job, newest first."""
        with self._cond:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def get(self, job_id: str) -> Job:
        with self._cond:
            if job_id not in self._jobs:
                raise WorkbenchError(f"no job {job_id!r}")
            return self._jobs[job_id]

    def positions(self) -> dict[str, int]:
        """Each queued job's place in the queue: 1 for the next to run, 2 for the one after, ..."""
        with self._cond:
            queued = sorted((j for j in self._jobs.values() if j.status == "queued"), key=lambda j: j.created)
        return {j.id: n for n, j in enumerate(queued, 1)}

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job, or stop a running one with Ctrl-C (killed after ``CANCEL_GRACE_S``)."""
        with self._cond:
            job = self.get(job_id)
            if job.status == "queued":
                job.status, job.ended = "cancelled", time.time()
                self._save(job)
                return f"cancelled {job_id} before it started"
            if job.status != "running":
                raise WorkbenchError(f"job {job_id} is {job.status}, not queued or running")
            self._cancelled.add(job_id)
            proc = self._procs.get(job_id)
        if proc is not None:
            _signal_group(proc, signal.SIGINT)
            threading.Timer(CANCEL_GRACE_S, _signal_group, (proc, signal.SIGKILL)).start()
        return f"stopping {job_id}"

    def shutdown(self) -> None:
        """Stop every running job with Ctrl-C (they save their work); called when the app exits."""
        with self._cond:
            running = [(job_id, proc) for job_id, proc in self._procs.items()]
            self._cancelled.update(job_id for job_id, _ in running)
        for _, proc in running:
            _signal_group(proc, signal.SIGINT)
        for _, proc in running:
            try:
                proc.wait(CANCEL_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)

    def wait(self, job_id: str, timeout: float) -> Job:
        """Block until the job has ended (or ``timeout`` passed); returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs[job_id].status in LIVE and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return self._jobs[job_id]

    # ----- what the page shows -----

    def _tail(self, job_id: str, chars: int) -> str:
        """The last ``chars`` bytes of the job's output ("" before it starts)."""
        file = self.folder(job_id) / "log.txt"
        if not file.exists():
            return ""
        with open(file, "rb") as f:
            f.seek(max(0, file.stat().st_size - chars))
            return f.read().decode("utf-8", errors="replace")

    def log(self, job_id: str, chars: int = 3000) -> str:
        """The end of the job's output, progress bars collapsed to their latest state."""
        text = self._tail(job_id, 4 * chars)
        lines = [line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n")]
        return "\n".join(lines)[-chars:]

    def progress(self, job_id: str) -> tuple[str, int, int] | None:
        """The latest progress bar in the job's output: (label, done, total)."""
        found = list(_BAR.finditer(self._tail(job_id, 8000)))
        if not found:
            return None
        label, _, done, total = found[-1].groups()
        return (label or "").strip(), int(done), int(total)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """The rows of the job's ``metrics.jsonl`` so far (a torn last line is skipped)."""
        file = Path(self.get(job_id).metrics_dir) / "metrics.jsonl"
        if not file.exists():
            return []
        rows = []
        for line in file.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    # ----- the worker -----

    def _save(self, job: Job) -> None:
        atomic_write(self.folder(job.id) / "job.json", json.dumps(asdict(job), indent=1))

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._serve, name="job-queue", daemon=True)
            self._worker.start()

    def _next(self) -> Job:
        with self._cond:
            while True:
                queued = sorted((j for j in self._jobs.values() if j.status == "queued"), key=lambda j: j.created)
                if queued:
                    job = queued[0]
                    job.status, job.started = "running", time.time()
                    self._save(job)
                    self._cond.notify_all()
                    return job
                self._cond.wait()

    def _serve(self) -> None:
        while True:
            job = self._next()
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "0.5"}
            with open(self.folder(job.id) / "log.txt", "ab") as log:
                log.write(f"$ workbench {' '.join(job.argv)}\n".encode())
                log.flush()
                try:
                    proc = subprocess.Popen([*self.command, *job.argv], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, env=env)
                except OSError as error:
                    log.write(f"could not start: {error}\n".encode())
                    proc = None
                if proc is not None:
                    with self._cond:
                        self._procs[job.id] = proc
                    code = proc.wait()
                else:
                    code = -1
            with self._cond:
                self._procs.pop(job.id, None)
                job.returncode, job.ended = code, time.time()
                job.status = "cancelled" if job.id in self._cancelled else "done" if code == 0 else "failed"
                self._save(job)
                self._cond.notify_all()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
