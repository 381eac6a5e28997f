"""The real app (``workbench app`` in a subprocess) never leaves a job behind: killed with SIGKILL, stopped with
SIGTERM or Ctrl-C during a job, the job's processes are gone, the job is marked interrupted (at once, or when the
app starts again), queued jobs stay queued and run at the next start, and the interrupted job resumes with
``--resume``. Jobs run a stand-in for the ``workbench`` command (``tests.test_app_jobs.JOB``) that stops within a
second of Ctrl-C, so each case takes little more than the app's start."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from apps.gui.jobs import Job, JobQueue
from tests.helpers import free_port
from tests.test_app_jobs import COMMAND, JOB, ROOT, gone, wait_for

# `workbench app ARGS`, exactly as the console script runs it, with the jobs' command swapped for the stand-in.
APP = r"""
import functools, sys
import apps.app
from apps.cli import main
apps.app.run_app = functools.partial(apps.app.run_app, job_command=[sys.executable, "-c", sys.argv[1]])
sys.exit(main(["app", *sys.argv[2:]]))
"""


def serving(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_app(runs: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    with open(runs.parent / "app.log", "ab") as out:
        app = subprocess.Popen([sys.executable, "-c", APP, JOB, "--runs", str(runs), "--no_preload", "--port",
                                str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return app, port


def queued(runs: Path, *argvs: list[str]) -> list[str]:
    """Jobs queued while no app runs (a queue that has shut down starts none): the next start runs them."""
    queue = JobQueue(runs, command=COMMAND)
    queue.shutdown()
    return [queue.submit("sft", f"job {n}", argv).id for n, argv in enumerate(argvs)]


def job(runs: Path, job_id: str) -> Job:
    return Job.load(runs / "jobs" / job_id / "job.json")


def running(runs: Path, job_id: str) -> bool:
    """The job runs and has reached its training loop (so it takes Ctrl-C as a trained command does)."""
    return job(runs, job_id).status == "running" and (runs / "jobs" / job_id / "run" / "metrics.jsonl").exists()


def resumes(runs: Path, job_id: str, also_done: tuple[str, ...] = ()) -> None:
    """At the next start the queued jobs run, and the interrupted one resumes with ``--resume``."""
    queue = JobQueue(runs, command=COMMAND)
    try:
        for other in also_done:
            assert queue.wait(other, 30).status == "done"
        assert queue.get(job_id).status == "interrupted"
        queue.resume(job_id)
        again = queue.wait(job_id, 30)
        assert again.status == "done" and again.argv.count("--resume") == 1
        assert (queue.run_folder(job_id) / "resumed").exists()
    finally:
        queue.shutdown()


def stop(app: subprocess.Popen) -> None:
    if app.poll() is None:
        app.kill()
        app.wait()


def stopped_by(app: subprocess.Popen, sig: int, runs: Path, job_id: str, waiting: str) -> None:
    """Stop the app with ``sig`` during a job: it exits cleanly within the grace period, the job's processes are
    gone and it is marked interrupted at once (it saved its checkpoint), and the queued job was not started."""
    started = time.monotonic()
    app.send_signal(sig)
    assert app.wait(30) == 0 and time.monotonic() - started < 15
    left = job(runs, job_id)
    assert left.status == "interrupted" and left.returncode == 130  # not "cancelled": the user did not cancel it
    assert gone(left) and (runs / "jobs" / job_id / "run" / "saved").exists()
    assert job(runs, waiting).status == "queued" and not (runs / "jobs" / waiting / "log.txt").exists()


def test_a_job_dies_with_an_app_killed_by_sigkill_and_ctrl_c_interrupts_the_next(tmp_path):
    runs = tmp_path / "runs"
    first, short, second, last = queued(runs, ["60", "0"], ["0.2", "0"], ["60", "0"], ["0.2", "0"])
    app, _ = start_app(runs)
    try:
        wait_for(lambda: running(runs, first), timeout=120)
        app.kill()  # SIGKILL: nothing in the app runs
        app.wait()
        left = job(runs, first)
        assert left.status == "running" and left.pid  # as the dead app left it
        wait_for(lambda: gone(left), timeout=10)  # its job went with it
        assert (runs / "jobs" / first / "run" / "saved").exists()  # by Ctrl-C: it kept its checkpoint
        assert job(runs, short).status == "queued" and job(runs, short).started is None

        app, port = start_app(runs)  # the restart marks it interrupted and runs the queued jobs, not it again
        wait_for(lambda: running(runs, second) and serving(port), timeout=120)
        assert job(runs, first).status == "interrupted" and job(runs, short).status == "done"
        assert (runs / "jobs" / first / "log.txt").read_text().count("$ workbench") == 1
        stopped_by(app, signal.SIGINT, runs, second, waiting=last)
    finally:
        stop(app)
    assert "Traceback" not in (tmp_path / "app.log").read_text()
    resumes(runs, first, also_done=(last,))
    resumes(runs, second)


def test_an_app_stopped_by_sigterm_interrupts_its_job_and_starts_no_other(tmp_path):
    runs = tmp_path / "runs"
    long, short = queued(runs, ["60", "0"], ["0.2", "0"])
    app, port = start_app(runs)
    try:
        wait_for(lambda: running(runs, long) and serving(port), timeout=120)
        stopped_by(app, signal.SIGTERM, runs, long, waiting=short)
    finally:
        stop(app)
    assert "Traceback" not in (tmp_path / "app.log").read_text()
    resumes(runs, long, also_done=(short,))


def test_the_train_tab_resumes_an_interrupted_job(tmp_path):
    from apps.app import AppConfig, build_app

    runs = tmp_path / "runs"
    (first,) = queued(runs, ["60", "0"])
    queue = JobQueue(runs, command=COMMAND)
    wait_for(lambda: running(runs, first))
    queue.shutdown()  # the app stopped during the job
    app, demo = build_app(AppConfig(runs=str(runs), models=[], preload=False), job_command=COMMAND)
    try:
        button = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "resume-job")
        resume = next(f.fn for f in demo.fns.values() if (button._id, "click") in f.targets)
        assert resume(None) == "pick a job first"
        message = resume(first)
        assert message.startswith(f"queued {first} again: workbench 60 0 --out ") and message.endswith(" --resume")
        assert app.jobs.wait(first, 30).status == "done" and app.jobs.get(first).argv[-1] == "--resume"
        assert "only an interrupted job" in resume(first)
    finally:
        app.jobs.shutdown()
