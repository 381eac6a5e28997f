"""The app's job queue: one job at a time, a visible queue, cancel, progress, metrics, restart; jobs never outlive
the queue's process (Ctrl-C on shutdown, a parent-death signal on SIGKILL, orphans stopped at start) and an
interrupted job resumes with ``--resume``."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from apps.gui.jobs import Job, JobQueue, _group_left, _start_time
from workbench.errors import WorkbenchError

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for a `workbench` command: draws a tqdm bar, logs metrics to --out, sleeps SECONDS, exits CODE; on
# Ctrl-C it "saves a checkpoint" (writes out/saved) and exits 130 as the CLI does; with --resume it writes
# out/resumed and ends at once.
JOB = r"""
import json, pathlib, sys, time
from tqdm import tqdm
seconds, code, out = float(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)
if "--resume" in sys.argv:
    (out / "resumed").write_text(" ".join(sys.argv[1:]))
    sys.exit(0)
try:
    for step in tqdm(range(4), desc="training", mininterval=0):
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")
        time.sleep(seconds / 4)
except KeyboardInterrupt:
    (out / "saved").write_text("checkpoint")
    sys.exit(130)
sys.exit(code)
"""
COMMAND = [sys.executable, "-c", JOB]


@pytest.fixture
def queue(tmp_path):
    jobs = JobQueue(tmp_path, command=COMMAND, grace_s=5)
    yield jobs
    jobs.shutdown()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def gone(job: Job) -> bool:
    """No process of the job is left: neither its recorded process nor anything in its process group."""
    return not _group_left(job.pid, job.pid_start)


def test_jobs_run_one_at_a_time_and_report_progress_and_metrics(queue):
    first = queue.submit("sft", "first", ["1.0", "0"])
    second = queue.submit("sft", "second", ["0.2", "3"])
    wait_for(lambda: queue.get(first.id).status == "running")
    assert queue.get(second.id).status == "queued" and queue.positions() == {second.id: 1}
    assert queue.wait(first.id, 30).status == "done"
    assert queue.wait(second.id, 30).status == "failed" and queue.get(second.id).returncode == 3
    bar = queue.progress(first.id)
    assert (bar.label, bar.done, bar.total) == ("training", 4, 4)
    assert re.fullmatch(r"training 100% · 4/4 · took 0:0\d", bar.text())
    assert [m["loss"] for m in queue.metrics(first.id)] == [1.0, 0.5, 1 / 3, 0.25]
    assert queue.get(first.id).argv[-2:] == ["--out", str(queue.run_folder(first.id))]
    assert "training: 100%" in queue.log(first.id)
    assert [j.id for j in queue.jobs()] == [second.id, first.id]


def test_a_tqdm_bar_reads_as_share_steps_and_eta():
    from apps.gui.progress import Progress, clock, last_bar

    log = "loading\nplanner SFT:  36%|###6      | 36/100 [00:30<01:20,  1.2it/s]\r" \
          "planner SFT:  37%|###7      | 37/100 [00:31<01:19,  1.2it/s]"
    assert last_bar(log) == Progress("planner SFT", 37, 100, 31.0, 79.0)
    assert last_bar(log).text() == "planner SFT 37% · 37/100 · ETA 1:19"
    assert last_bar("  0%|          | 0/4 [00:00<?, ?it/s]").text() == "0% · 0/4"
    assert last_bar("no bar here") is None
    assert Progress.estimate("episodes", 1, 4, 10.0).text() == "episodes 25% · 1/4 · ETA 0:30"
    assert clock(3725) == "1:02:05"


def test_cancel_stops_a_running_job_and_drops_a_queued_one(queue):
    running = queue.submit("sft", "long", ["60", "0"])
    waiting = queue.submit("sft", "next", ["60", "0"])
    wait_for(lambda: queue.get(running.id).status == "running" and queue.metrics(running.id))
    assert "before it started" in queue.cancel(waiting.id)
    assert queue.get(waiting.id).status == "cancelled"
    started = time.monotonic()
    queue.cancel(running.id)
    job = queue.wait(running.id, 30)
    assert job.status == "cancelled" and job.returncode == 130 and time.monotonic() - started < 20
    assert (queue.run_folder(running.id) / "saved").exists()  # stopped with Ctrl-C: it kept its checkpoint
    assert queue.get(waiting.id).started is None  # the cancelled queued job never ran
    with pytest.raises(WorkbenchError, match="is cancelled"):
        queue.cancel(running.id)
    with pytest.raises(WorkbenchError, match="no job"):
        queue.cancel("nope")
    with pytest.raises(WorkbenchError, match="only an interrupted job"):
        queue.resume(running.id)


def test_jobs_survive_a_restart_and_interrupted_ones_are_marked(tmp_path, queue):
    done = queue.submit("sft", "quick", ["0", "0"])
    queue.wait(done.id, 30)
    queue.shutdown()
    stuck = queue.folder("20260101-000000-999-dpo") / "job.json"
    stuck.parent.mkdir(parents=True)
    stuck.write_text(json.dumps({"id": "20260101-000000-999-dpo", "kind": "dpo", "title": "t", "argv": [],
                                 "metrics_dir": str(tmp_path), "status": "running", "created": 1.0}))
    again = JobQueue(tmp_path, command=COMMAND)
    try:
        assert again.get(done.id).status == "done"
        assert again.get("20260101-000000-999-dpo").status == "interrupted"
        assert json.loads(stuck.read_text())["status"] == "interrupted"
    finally:
        again.shutdown()


def test_one_queue_per_runs_folder(tmp_path, queue):
    with pytest.raises(WorkbenchError, match="another app is running the jobs"):
        JobQueue(tmp_path, command=COMMAND)
    queue.shutdown()  # releases the folder
    JobQueue(tmp_path, command=COMMAND).shutdown()


def test_shutdown_interrupts_the_running_job_and_starts_no_other(tmp_path, queue):
    running = queue.submit("sft", "long", ["60", "0"])
    waiting = queue.submit("sft", "next", ["0.2", "0"])
    wait_for(lambda: queue.get(running.id).status == "running" and queue.metrics(running.id))
    started = time.monotonic()
    queue.shutdown()
    job = queue.get(running.id)
    assert time.monotonic() - started < 5 and job.status == "interrupted" and job.returncode == 130
    assert (queue.run_folder(running.id) / "saved").exists() and gone(job)
    assert json.loads((queue.folder(running.id) / "job.json").read_text())["status"] == "interrupted"
    time.sleep(0.5)  # the worker must not pick up the queued job while (or after) the queue shuts down
    assert queue.get(waiting.id).status == "queued" and not (queue.folder(waiting.id) / "log.txt").exists()

    again = JobQueue(tmp_path, command=COMMAND)  # the next start runs the queued job, not the interrupted one
    try:
        assert again.wait(waiting.id, 30).status == "done"
        assert again.get(running.id).status == "interrupted"
    finally:
        again.shutdown()


def test_an_interrupted_job_resumes_once_with_resume(tmp_path, queue):
    job = queue.submit("sft", "long", ["60", "0"])
    wait_for(lambda: queue.get(job.id).status == "running" and queue.metrics(job.id))
    queue.shutdown()
    again = JobQueue(tmp_path, command=COMMAND)
    try:
        assert "queued" in again.resume(job.id)
        resumed = again.wait(job.id, 30)
        assert resumed.status == "done" and resumed.argv.count("--resume") == 1 and resumed.argv[-1] == "--resume"
        assert (again.run_folder(job.id) / "resumed").exists()
        assert again.log(job.id).count("$ workbench") == 2  # the second run's output follows the first's
        with pytest.raises(WorkbenchError, match="is done; only an interrupted job"):
            again.resume(job.id)
        resumed.status = "interrupted"  # interrupted again: resuming does not add a second --resume
        again.resume(job.id)
        assert again.wait(job.id, 30).argv.count("--resume") == 1
    finally:
        again.shutdown()


def orphan(tmp_path: Path, pid: int, start: int | None, status: str = "running") -> str:
    """Write the job.json a dead app left behind for a job running as process ``pid``."""
    job = Job(id=f"20260101-000000-{pid}-sft", kind="sft", title="left behind", argv=["60", "0", "--out", "x"],
              metrics_dir=str(tmp_path), status=status, started=1.0, pid=pid, pid_start=start)
    folder = tmp_path / "jobs" / job.id
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps(asdict(job)))
    return job.id


LEFT_BEHIND = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
               " time.sleep(60)")
"""A job left running, with a child of its own in its process group."""


def test_a_start_stops_a_job_the_last_app_left_running_and_never_duplicates_it(tmp_path):
    left = subprocess.Popen([sys.executable, "-c", LEFT_BEHIND], start_new_session=True)
    wait_for(lambda: len(_group_left(left.pid, _start_time(left.pid))) == 2)  # the job and its child
    left_id = orphan(tmp_path, left.pid, _start_time(left.pid))
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    reused_id = orphan(tmp_path, reused.pid, _start_time(reused.pid) - 1)  # same PID, another process
    queued = JobQueue(tmp_path, command=COMMAND, grace_s=5)
    try:
        assert left.wait(5) is not None and not _group_left(left.pid, queued.get(left_id).pid_start)
        assert queued.get(left_id).status == "interrupted" and queued.get(reused_id).status == "interrupted"
        assert reused.poll() is None  # a process that merely has a recorded PID is left alone
        job = queued.submit("sft", "next", ["0", "0"])
        assert queued.wait(job.id, 30).status == "done"
        assert queued.get(left_id).status == "interrupted"  # not restarted beside or after it
    finally:
        queued.shutdown()
        reused.kill()
        reused.wait()


# An app's process that only runs the queue: it submits a long job, then waits to be killed.
APP = r"""
import sys, time
from apps.gui.jobs import JobQueue
queue = JobQueue(sys.argv[1], command=[sys.executable, "-c", sys.argv[2]])
queue.submit("sft", "long", ["60", "0"])
time.sleep(120)
"""


def test_a_job_dies_with_an_app_killed_by_sigkill(tmp_path):
    app = subprocess.Popen([sys.executable, "-c", APP, str(tmp_path), JOB], cwd=ROOT)
    try:
        file = lambda: next((tmp_path / "jobs").glob("*/job.json"), None)  # noqa: E731
        wait_for(lambda: file() and json.loads(file().read_text())["pid"] and
                 (file().parent / "run" / "metrics.jsonl").exists())
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
        job = Job.load(file())
        assert job.status == "running"  # as the app left it
        wait_for(lambda: gone(job), timeout=10)
        assert (file().parent / "run" / "saved").exists()  # the kernel's Ctrl-C: it kept its checkpoint
    finally:
        app.kill()
        app.wait()
    queue = JobQueue(tmp_path, command=COMMAND)
    try:
        assert queue.get(job.id).status == "interrupted"
        queue.resume(job.id)
        assert queue.wait(job.id, 30).status == "done" and queue.get(job.id).argv[-1] == "--resume"
    finally:
        queue.shutdown()
