"""The app's job queue: one job at a time, a visible queue, cancel, progress, metrics, restart."""

import json
import sys
import time

import pytest

from apps.gui.jobs import JobQueue
from workbench.errors import WorkbenchError

# A stand-in for a `workbench` command: draws a tqdm bar, logs metrics to --out, sleeps SECONDS, exits CODE.
JOB = r"""
import json, pathlib, sys, time
from tqdm import tqdm
seconds, code, out = float(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)
for step in tqdm(range(4), desc="training", mininterval=0):
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")
    time.sleep(seconds / 4)
sys.exit(code)
"""


@pytest.fixture
def queue(tmp_path):
    return JobQueue(tmp_path, command=[sys.executable, "-c", JOB])


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_jobs_run_one_at_a_time_and_report_progress_and_metrics(queue):
    first = queue.submit("sft", "first", ["1.0", "0"])
    second = queue.submit("sft", "second", ["0.2", "3"])
    wait_for(lambda: queue.get(first.id).status == "running")
    assert queue.get(second.id).status == "queued" and queue.positions() == {second.id: 1}
    assert queue.wait(first.id, 30).status == "done"
    assert queue.wait(second.id, 30).status == "failed" and queue.get(second.id).returncode == 3
    assert queue.progress(first.id) == ("training", 4, 4)
    assert [m["loss"] for m in queue.metrics(first.id)] == [1.0, 0.5, 1 / 3, 0.25]
    assert queue.get(first.id).argv[-2:] == ["--out", str(queue.run_folder(first.id))]
    assert "training: 100%" in queue.log(first.id)
    assert [j.id for j in queue.jobs()] == [second.id, first.id]


def test_cancel_stops_a_running_job_and_drops_a_queued_one(queue):
    running = queue.submit("sft", "long", ["60", "0"])
    waiting = queue.submit("sft", "next", ["60", "0"])
    wait_for(lambda: queue.get(running.id).status == "running" and queue.metrics(running.id))
    assert "before it started" in queue.cancel(waiting.id)
    assert queue.get(waiting.id).status == "cancelled"
    started = time.monotonic()
    queue.cancel(running.id)
    job = queue.wait(running.id, 30)
    assert job.status == "cancelled" and job.returncode != 0 and time.monotonic() - started < 20
    assert queue.get(waiting.id).started is None  # the cancelled queued job never ran
    with pytest.raises(WorkbenchError, match="is cancelled"):
        queue.cancel(running.id)
    with pytest.raises(WorkbenchError, match="no job"):
        queue.cancel("nope")


def test_jobs_survive_a_restart_and_interrupted_ones_are_marked(tmp_path, queue):
    done = queue.submit("sft", "quick", ["0", "0"])
    queue.wait(done.id, 30)
    stuck = queue.folder("20260101-000000-999-dpo") / "job.json"
    stuck.parent.mkdir(parents=True)
    stuck.write_text(json.dumps({"id": "20260101-000000-999-dpo", "kind": "dpo", "title": "t", "argv": [],
                                 "metrics_dir": str(tmp_path), "status": "running", "created": 1.0}))
    again = JobQueue(tmp_path, command=[sys.executable, "-c", JOB])
    assert again.get(done.id).status == "done"
    assert again.get("20260101-000000-999-dpo").status == "interrupted"
    assert json.loads(stuck.read_text())["status"] == "interrupted"
