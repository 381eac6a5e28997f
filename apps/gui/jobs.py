"""Background training jobs: the app's ``workbench`` commands, run one at a time from a visible queue.

Each job is a ``workbench ...`` command in its own process group, so cancelling it is a Ctrl-C (the
commands save their finished work and checkpoints on it) and a crash cannot take the app down. A job
lives in ``<runs>/jobs/<id>/``: ``job.json`` (its state, written atomically), ``log.txt`` (its output,
where the progress bars are read from) and, for training commands, ``run/`` (its run directory, whose
``metrics.jsonl`` feeds the live plots).

Jobs never outlive the app. The app stops its running job with Ctrl-C (then SIGKILL after a grace period)
when it exits and marks it interrupted, and starts no job while it shuts down; queued jobs stay queued for
the next start. On Linux a job also gets Ctrl-C from the kernel when the app dies of a signal it cannot
catch (SIGKILL), and at start the queue stops any process of a job that is still running (its recorded PID
and start time tell it from a later process with the same PID) before marking it interrupted. One app at a
time runs jobs from a runs folder (a lock on ``jobs/.lock``). An interrupted job is continued with
``resume``, which queues it again with ``--resume``.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from apps.gui.progress import Progress, last_bar
from workbench.errors import WorkbenchError
from workbench.runs import atomic_write

log = logging.getLogger(__name__)

JOBS = "jobs"
LIVE = ("queued", "running")
CANCEL_GRACE_S = 15.0
"""Seconds a cancelled or stopped job has to stop after Ctrl-C before it is killed."""
STOP_SIGNAL = signal.SIGINT
"""How a job is asked to stop: Ctrl-C, on which the ``workbench`` commands save their work and checkpoints."""
_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1


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
    pid: int | None = None
    """The job's process (and process group) id while it runs, or when it last ran."""
    pid_start: int | None = None
    """That process's start time (``/proc/<pid>/stat`` field 22), which tells it from a later one with its PID."""
    queued: float | None = None
    """When it was last queued (submitted or resumed): the queue's order."""

    @classmethod
    def load(cls, file: Path) -> Job:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(file.read_text()).items() if k in known})


class JobQueue:
    """Jobs under ``<root>/jobs``, run one at a time by a worker thread."""

    def __init__(self, root: str | Path, command: Sequence[str] = (sys.executable, "-m", "apps.cli"),
                 grace_s: float = CANCEL_GRACE_S):
        """``command``: what runs a job's ``argv`` (default: this Python's ``workbench``); ``grace_s``: how long a
        job has to stop after Ctrl-C before it is killed. Stops what is left of jobs the last app left running."""
        self.root = Path(root) / JOBS
        self.command = list(command)
        self.grace_s = grace_s
        self._jobs: dict[str, Job] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._stopping: dict[str, str] = {}
        """Running jobs being stopped, with the status each gets if it does not finish: cancelled or interrupted."""
        self._closing = False
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] | None = _hold_lock(self.root / ".lock")
        atexit.register(self.shutdown)
        for file in sorted(self.root.glob("*/job.json")):
            job = Job.load(file)
            if job.status == "running":
                self._recover(job)
            self._jobs[job.id] = job
        if any(job.status == "queued" for job in self._jobs.values()):
            self._ensure_worker()

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
            job.queued = job.created
            self._jobs[job_id] = job
            self._save(job)
            self._ensure_worker()
            self._cond.notify_all()
        return job

    def resume(self, job_id: str) -> str:
        """Queue an interrupted job again, at the back of the queue, with ``--resume`` (once) if it had started."""
        with self._cond:
            job = self.get(job_id)
            if job.status != "interrupted":
                raise WorkbenchError(f"job {job_id} is {job.status}; only an interrupted job can be resumed")
            if job.started is not None and "--resume" not in job.argv:
                job.argv = [*job.argv, "--resume"]
            job.status, job.queued = "queued", time.time()
            job.ended = job.returncode = None
            self._save(job)
            self._ensure_worker()
            self._cond.notify_all()
        return f"queued {job_id} again: workbench {' '.join(job.argv)}"

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
            return {j.id: n for n, j in enumerate(self._queued(), 1)}

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job, or stop a running one with Ctrl-C (killed after ``grace_s``)."""
        with self._cond:
            job = self.get(job_id)
            if job.status == "queued":
                job.status, job.ended = "cancelled", time.time()
                self._save(job)
                return f"cancelled {job_id} before it started"
            if job.status != "running":
                raise WorkbenchError(f"job {job_id} is {job.status}, not queued or running")
            self._stopping[job_id] = "cancelled"
            proc = self._procs.get(job_id)
        if proc is not None:
            _signal_group(proc, STOP_SIGNAL)
            timer = threading.Timer(self.grace_s, _signal_group, (proc, signal.SIGKILL))
            timer.daemon = True
            timer.start()
        return f"stopping {job_id}"

    def shutdown(self) -> None:
        """Start no more jobs and stop the running one with Ctrl-C (it saves its work; SIGKILL after ``grace_s``),
        marking it interrupted; queued jobs stay queued for the next start. Called when the app exits."""
        with self._cond:
            self._closing = True
            running = [(self._jobs[job_id], proc) for job_id, proc in self._procs.items()]
            for job, _ in running:
                self._stopping.setdefault(job.id, "interrupted")
            self._cond.notify_all()
        for _, proc in running:
            _signal_group(proc, STOP_SIGNAL)
        deadline = time.monotonic() + self.grace_s
        for job, proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            self._finish(job, proc.returncode)
            _kill_group(job.pid, job.pid_start, signal.SIGKILL)  # anything it started and left behind
        with self._cond:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def kill_now(self) -> None:
        """SIGKILL every running job's process group at once (no locks taken: safe in a signal handler)."""
        for proc in list(self._procs.values()):
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

    def progress(self, job_id: str) -> Progress | None:
        """The latest progress bar in the job's output (label, steps, elapsed time and ETA), or None."""
        return last_bar(self._tail(job_id, 8000))

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

    def _queued(self) -> list[Job]:
        return sorted((j for j in self._jobs.values() if j.status == "queued"), key=lambda j: j.queued or j.created)

    def _recover(self, job: Job) -> None:
        """A job the last app left running: stop what is left of it (its process group, if its recorded process
        is still the same one), then mark it interrupted."""
        if _group_left(job.pid, job.pid_start):
            log.warning("stopping job %s (process %s), still running after its app exited", job.id, job.pid)
            _kill_group(job.pid, job.pid_start, STOP_SIGNAL)
            if not _wait_gone(job.pid, job.pid_start, self.grace_s):
                _kill_group(job.pid, job.pid_start, signal.SIGKILL)
                _wait_gone(job.pid, job.pid_start, 5.0)
        job.status, job.ended = "interrupted", job.ended or time.time()
        self._save(job)

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._serve, name="job-queue", daemon=True)
            self._worker.start()

    def _serve(self) -> None:
        """Run queued jobs one at a time until the queue shuts down. Jobs start from this thread, which lives as
        long as the app: on Linux the kernel sends a job Ctrl-C when the thread that started it ends."""
        while True:
            with self._cond:
                while not self._closing and not self._queued():
                    self._cond.wait()
                if self._closing:
                    return
                job, proc = self._start(self._queued()[0])
            self._finish(job, proc.wait() if proc is not None else -1)

    def _start(self, job: Job) -> tuple[Job, subprocess.Popen | None]:
        """Start a queued job (under the queue's lock, so that a shutdown sees it or it never starts)."""
        job.status, job.started, job.ended, job.returncode = "running", time.time(), None, None
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "0.5"}
        proc = None
        with open(self.folder(job.id) / "log.txt", "ab") as out:
            out.write(f"$ workbench {' '.join(job.argv)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen([*self.command, *job.argv], stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                                        preexec_fn=_stop_with_parent(os.getpid()))
            except (OSError, subprocess.SubprocessError) as error:
                out.write(f"could not start: {error}\n".encode())
        if proc is not None:
            job.pid, job.pid_start = proc.pid, _start_time(proc.pid)
            self._procs[job.id] = proc
        self._save(job)
        self._cond.notify_all()
        return job, proc

    def _finish(self, job: Job, code: int) -> None:
        """Record how a job ended (once: the worker and a shutdown may both report it)."""
        with self._cond:
            self._procs.pop(job.id, None)
            if job.status != "running":
                return
            stop = self._stopping.pop(job.id, None)
            job.returncode, job.ended = code, time.time()
            job.status = "done" if code == 0 else stop or "failed"
            self._save(job)
            self._cond.notify_all()


def _hold_lock(file: Path) -> IO[str]:
    """An exclusive lock on ``file`` for as long as the returned file stays open (released if the process dies)."""
    handle = open(file, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise WorkbenchError(f"another app is running the jobs in {file.parent}; stop it first, or pass another "
                             f"--runs folder") from None
    return handle


def _stop_with_parent(parent: int) -> Callable[[], None] | None:
    """On Linux, what a job's child process runs before ``exec``: Ctrl-C is its default (a backgrounded app may
    ignore SIGINT, which children inherit), and the kernel sends it Ctrl-C when the thread that started it ends,
    so that even an app killed with SIGKILL takes its job with it."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    prctl, set_handler = libc.prctl, libc.signal
    set_handler.restype, set_handler.argtypes = ctypes.c_void_p, (ctypes.c_int, ctypes.c_void_p)
    sig, pdeathsig, default = int(STOP_SIGNAL), ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_void_p(0)
    arg, zero = ctypes.c_ulong(int(STOP_SIGNAL)), ctypes.c_ulong(0)

    def before_exec() -> None:
        set_handler(sig, default)
        if prctl(pdeathsig, arg, zero, zero, zero) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the app died before the line above
            os._exit(130)

    return before_exec


def _stat(pid: int) -> tuple[str, int, int] | None:
    """A process's state, process group and start time (``/proc/<pid>/stat`` fields 3, 5, 22), or None."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    rest = text[text.rindex(")") + 2:].split()
    return rest[0], int(rest[2]), int(rest[19])


def _start_time(pid: int) -> int | None:
    found = _stat(pid)
    return found[2] if found else None


def _group_left(pgid: int | None, start: int | None) -> list[int]:
    """The live processes of the job whose process group leader was ``pgid``, started at ``start``: those in its
    process group, unless a later process has the leader's PID, which means nothing is left (Linux gives no process
    the id of a group that still has members)."""
    if pgid is None or start is None:
        return []
    if not _PROC.is_dir():  # no /proc: the PID alone
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    leader = _stat(pgid)
    if leader is not None and leader[2] != start:
        return []
    members = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) and found[1] == pgid and found[0] != "Z":
            members.append(int(entry.name))
    return members


def _kill_group(pgid: int | None, start: int | None, sig: int) -> None:
    if pgid is not None and _group_left(pgid, start):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pgid: int | None, start: int | None, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for a job's processes to end; whether they did."""
    deadline = time.monotonic() + timeout
    while _group_left(pgid, start):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
