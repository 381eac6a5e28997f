"""Issue 18, items 3 and 4 and the leftovers of 5: one writer per run folder (an OS lock), unique temporary
names, exactly-once resume (PPDPP RL, TRL trainers) and no folder left behind by a command that failed
before it recorded any work."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from apps.cli import main
from apps.selfplay import SelfPlayConfig, run_selfplay
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_encoder
from workbench.runs import LOCK, PARTIAL, Run, atomic_dir, atomic_write

ROOT = Path(__file__).parents[1]


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def indices(run_dir: Path) -> list[int]:
    return sorted(e.provenance["index"] for e in Run(run_dir).episodes())


# -- the lock -----------------------------------------------------------------------------------
def test_a_second_selfplay_process_is_refused_while_the_first_runs(tmp_path, capsys):
    out, n = tmp_path / "x", 400
    first = subprocess.Popen([sys.executable, "-m", "apps.cli", "selfplay", "--env", "negotiation", "-n", str(n),
                              "--seed", "3", "--out", str(out), "--no-progress"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        episodes = out / "episodes" / "episodes.jsonl"
        deadline = time.monotonic() + 120
        while not (episodes.exists() and episodes.stat().st_size) and first.poll() is None:
            assert time.monotonic() < deadline, "the first writer stored no episode"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGSTOP)  # hold it mid-run, its lock held
        try:
            argv = ["selfplay", "--env", "negotiation", "-n", str(n), "--seed", "3", "--out", str(out)]
            assert main([*argv, "--resume", "--no-progress"]) == 2
            assert error_line(capsys) == (f"error: run folder {out} is in use by another process or run "
                                          f"(pid {first.pid}); wait for it to finish or choose another --out")
            assert main([*argv, "--no-progress"]) == 2
            assert "already exists; pass --resume" in error_line(capsys)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
    assert indices(out) == list(range(n))  # every episode once
    with Run.open(out, Run(out).config(), resume=True):  # released at the first writer's exit
        pass


def test_two_selfplay_threads_on_one_run_one_is_refused(tmp_path):
    """Two app sessions starting self-play under one run name: threads of one process."""
    out, n = tmp_path / "shared", 12
    started, go_on = threading.Event(), threading.Event()

    def hold(*_):
        started.set()
        assert go_on.wait(60)

    result = {}
    config = SelfPlayConfig(env="negotiation", n=n, seed=1, out=str(out), progress=False)
    first = threading.Thread(target=lambda: result.update(first=run_selfplay(config, on_step=hold)))
    first.start()
    assert started.wait(60)
    with pytest.raises(WorkbenchError, match=r"^run folder .* is in use by another process or run \(pid "
                                             rf"{os.getpid()}\)"):
        run_selfplay(SelfPlayConfig(env="negotiation", n=n, seed=1, out=str(out), progress=False, resume=True))
    go_on.set()
    first.join(60)
    assert "first" in result and indices(out) == list(range(n))
    run_selfplay(SelfPlayConfig(env="negotiation", n=n + 3, seed=1, out=str(out), progress=False,
                                resume=True))  # the thread's run released its lock when it returned
    assert indices(out) == list(range(n + 3))


def test_runs_opened_at_the_same_moment_one_wins(tmp_path):
    out, barrier, outcomes = tmp_path / "r", threading.Barrier(8), []

    def open_run():
        barrier.wait()
        try:
            outcomes.append(Run.open(out, {"n": 1}))
        except WorkbenchError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=open_run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [o for o in outcomes if isinstance(o, Run)]
    errors = [str(o) for o in outcomes if not isinstance(o, Run)]
    assert len(runs) == 1 and len(errors) == 7
    assert all("in use by another process or run" in e or "already exists; pass --resume" in e for e in errors), errors
    with pytest.raises(WorkbenchError, match="in use"):
        Run.open(out, {"n": 1}, resume=True)  # a new open of the lock file in this same process conflicts
    runs[0].close()
    Run.open(out, {"n": 1}, resume=True).close()
    assert sorted(p.name for p in out.iterdir()) == [LOCK, "config.yaml"]


def test_readers_need_no_lock_and_a_file_is_not_a_run_folder(tmp_path):
    with Run.open(tmp_path / "r", {"n": 1}) as run:
        run.log_metrics({"step": 1})
        assert Run(tmp_path / "r").metrics() == [{"step": 1}] and Run(tmp_path / "r").config() == {"n": 1}
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkbenchError, match=r"file is a file, not a run folder; choose another --out$"):
        Run.open(tmp_path / "file", {})
    assert (tmp_path / "file").read_text() == "x"


def test_concurrent_atomic_writes_share_no_temporary_name(tmp_path):
    target, barrier, errors = tmp_path / "config.yaml", threading.Barrier(6), []

    def write(k):
        barrier.wait()
        try:
            for i in range(50):
                atomic_write(target, f"writer {k} version {i}\n")
        except Exception as e:  # noqa: BLE001 - any error is the failure under test
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and target.read_text() in {f"writer {k} version 49\n" for k in range(6)}
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    with atomic_dir(tmp_path / "ckpt") as a, atomic_dir(tmp_path / "ckpt2") as b:
        assert a.name != b.name and a.name.endswith(PARTIAL)
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "ckpt3") as c:
        raise RuntimeError("interrupted")
    assert not c.exists() and not (tmp_path / "ckpt3").exists()


# -- exactly-once resume ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return str(tiny_encoder(tmp_path_factory.mktemp("encoder")))


def test_ppdpp_rl_interrupted_before_and_after_a_checkpoint_stores_each_episode_once(encoder_dir, tmp_path,
                                                                                       monkeypatch):
    import agents.ppdpp.reinforce as reinforce

    out = tmp_path / "rl"
    argv = ["train", "ppdpp", "--env", "tutoring", "--stage", "rl", "--encoder", encoder_dir, "--rl_episodes", "16",
            "--batch_size", "4", "--update", "batch", "--rl_freeze_encoder", "--save_every", "2", "--max_length", "64",
            "--seed", "0", "--out", str(out), "--no-progress"]
    real_save, real_rollout = reinforce._save, reinforce.rollout

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reinforce, "_save", interrupted)  # killed at its first checkpoint, before it is written
    assert main(argv) == 130
    assert len(Run(out).episodes()) == 8 and not (out / "checkpoints" / "rl").exists()
    monkeypatch.setattr(reinforce, "_save", real_save)

    def rollout_then_stop(*args, provenance, **kwargs):
        episodes = real_rollout(*args, provenance=provenance, **kwargs)
        if provenance["update"] == 2:
            raise KeyboardInterrupt  # update 3's episodes stored, checkpoint at update 2
        return episodes

    monkeypatch.setattr(reinforce, "rollout", rollout_then_stop)
    assert main([*argv, "--resume"]) == 130
    assert len(Run(out).episodes()) == 12
    assert json.loads((out / "checkpoints" / "rl" / "state.json").read_text()) == {"update": 2}
    monkeypatch.setattr(reinforce, "rollout", real_rollout)
    assert main([*argv, "--resume"]) == 0
    episodes = Run(out).episodes()
    assert len(episodes) == 16 and sorted(e.provenance["index"] for e in episodes) == list(range(16))
    assert sorted(e.provenance["update"] for e in episodes) == [u for u in range(4) for _ in range(4)]
    assert [r["update"] for r in Run(out).metrics() if r.get("event") == "rl"] == [1, 2, 3, 4]


def test_sft_interrupted_after_a_checkpoint_logs_each_step_once(tmp_path, monkeypatch):
    from tests.toy_training import coin_episodes, tiny_policy
    from workbench.training.trainers import MetricsToRun

    model, data, out = tiny_policy(tmp_path / "tiny"), coin_episodes(tmp_path / "episodes", n=16), tmp_path / "sft"
    argv = ["train", "sft", "--model", str(model), "--data", str(data), "--out", str(out), "--max_steps", "6",
            "--save_steps", "2", "--batch_size", "4", "--seed", "0"]
    real = MetricsToRun.on_log

    def log_then_stop(self, args, state, control, logs=None, **kwargs):
        real(self, args, state, control, logs=logs, **kwargs)
        if state.global_step == 5:
            raise KeyboardInterrupt  # step 5 logged, the last checkpoint at step 4

    monkeypatch.setattr(MetricsToRun, "on_log", log_then_stop)
    assert main(argv) == 130
    assert [r["step"] for r in Run(out).metrics() if "loss" in r] == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    resumed = []

    def log_and_note(self, args, state, control, logs=None, **kwargs):
        resumed.extend([state.global_step] if "loss" in (logs or {}) else [])
        real(self, args, state, control, logs=logs, **kwargs)

    monkeypatch.setattr(MetricsToRun, "on_log", log_and_note)
    assert main([*argv, "--resume"]) == 0
    assert resumed == [5, 6]  # it continued from checkpoint-4
    assert [r["step"] for r in Run(out).metrics() if "loss" in r] == [1, 2, 3, 4, 5, 6]


# -- failed commands leave nothing behind -------------------------------------------------------
def test_a_failed_new_run_is_removed_and_a_resumed_or_used_one_kept(tmp_path, monkeypatch, capsys):
    import workbench.rollout as selfplay

    real = selfplay.rollout

    def fail(*args, **kwargs):
        raise WorkbenchError("the simulator broke")

    def play_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise WorkbenchError("the simulator broke late")

    argv = ["selfplay", "--env", "negotiation", "-n", "4", "--seed", "2", "--no-progress", "--out"]
    monkeypatch.setattr(selfplay, "rollout", fail)
    assert main([*argv, str(tmp_path / "new")]) == 2
    assert error_line(capsys) == "error: the simulator broke" and not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made stays, empty again
    assert main([*argv, str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []

    monkeypatch.setattr(selfplay, "rollout", real)
    assert main([*argv, str(tmp_path / "new")]) == 0  # the corrected command needs no --resume
    monkeypatch.setattr(selfplay, "rollout", fail)
    assert main([*argv, str(tmp_path / "new"), "--resume"]) == 2
    assert indices(tmp_path / "new") == [0, 1, 2, 3] and Run(tmp_path / "new").config()["n"] == 4

    monkeypatch.setattr(selfplay, "rollout", play_then_fail)  # a new run with work recorded is kept
    assert main([*argv, str(tmp_path / "used")]) == 2
    assert indices(tmp_path / "used") == [0, 1, 2, 3]
    capsys.readouterr()

    with pytest.raises(KeyboardInterrupt):
        with Run.open(tmp_path / "direct", {"n": 1}) as run:
            (run.path / "checkpoints").mkdir()  # an empty folder is no work
            raise KeyboardInterrupt
    assert not (tmp_path / "direct").exists()
