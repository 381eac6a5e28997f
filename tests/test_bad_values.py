"""Bad option values are refused at start (issue 18, item 5): one line ``error: ...`` naming the option,
exit status 2, no folder made and no model loaded.

Every command gets a model spec that does not exist (``--model``/``--agent_model``), so that a value
passing validation would fail later with a different message about the model; the tests assert the
message names the bad option, and that the working folder holds only the files the test put there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from apps.cli import main
from workbench.config import check_host, check_out_path, check_text_file, check_values, load_yaml
from workbench.data import read_jsonl
from workbench.errors import WorkbenchError

NO_MODEL = "/nonexistent/model"
BINARY = bytes(range(128, 256)) * 8  # not UTF-8 from its first byte


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a plain file, a binary data file, a binary YAML file and episode data."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.txt").write_text("not a folder\n")
    (tmp_path / "binary.jsonl").write_bytes(BINARY)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe" + BINARY)
    (tmp_path / "episodes.jsonl").write_text("{}\n")
    return tmp_path


@pytest.fixture
def read_only(work: Path) -> str:
    """A folder this process cannot create folders in (a read-only folder; as root, /proc)."""
    if os.geteuid() == 0:
        return "/proc/workbench-run"
    folder = work / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder / "run")


def refused(argv: list[str], option: str, capsys: pytest.CaptureFixture, work: Path, *words: str) -> str:
    """Run ``workbench argv``; assert status 2, one stderr line ``error: ...`` naming ``option`` (and ``words``),
    and no new file or folder in ``work``; return the line."""
    before = sorted(p.name for p in work.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert option in lines[0] and all(w in lines[0] for w in words), lines[0]
    assert sorted(p.name for p in work.iterdir()) == before
    return lines[0]


SELFPLAY = ["selfplay", "-n", "2", "--agent_model", NO_MODEL, "--policy", "random"]
SFT = ["train", "sft", "--model", NO_MODEL, "--data", "episodes.jsonl"]
DPO = ["train", "dpo", "--model", NO_MODEL, "--data", "episodes.jsonl"]


# -- the 13 tracebacks of the issue, now one-line errors -------------------------------------------------
@pytest.mark.parametrize("argv", [SELFPLAY, SFT, ["chat", "--agent_model", NO_MODEL]],
                         ids=["selfplay", "train-sft", "chat"])
def test_out_naming_an_existing_file(argv, work, capsys):
    refused(argv + ["--out", "plain.txt"], "--out", capsys, work, "existing file")
    refused(argv + ["--out", "plain.txt/run"], "--out", capsys, work, "not a folder")


def test_chat_out_file_refused_before_the_chat(work, capsys, monkeypatch):
    """``chat --out <file>`` used to play the whole chat, then lose it: now no line is read at all."""
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("the chat started"))
    refused(["chat", "--out", "plain.txt"], "--out", capsys, work, "existing file")


def test_out_in_a_read_only_folder(work, read_only, capsys):
    refused(SELFPLAY + ["--out", read_only], "--out", capsys, work, "cannot write")
    refused(SFT + ["--out", read_only], "--out", capsys, work, "cannot write")


def test_out_name_too_long(work, capsys):
    refused(SELFPLAY + ["--out", "a" * 300], "--out", capsys, work, "300 bytes", "at most")
    refused(SFT + ["--out", f"runs/{'b' * 256}"], "--out", capsys, work, "256 bytes")


def test_binary_data_file(work, capsys):
    refused(["selfplay", "--data", "binary.jsonl", *SELFPLAY[1:]], "--data binary.jsonl", capsys, work, "UTF-8")
    refused(["train", "sft", "--model", NO_MODEL, "--data", "binary.jsonl"], "--data binary.jsonl", capsys, work,
            "UTF-8")
    refused(["chat", "--data", "binary.jsonl"], "--data", capsys, work, "UTF-8")


def test_binary_config_file(work, capsys):
    refused(["selfplay", "--config", "binary.yaml"], "--config binary.yaml", capsys, work, "UTF-8")
    refused(["train", "sft", "--config", "binary.yaml"], "--config binary.yaml", capsys, work, "UTF-8")


def test_loss_type_refused_before_the_model_loads(work, capsys):
    line = refused(DPO + ["--loss_type", "nosuch"], "--loss_type", capsys, work, "'nosuch'")
    assert "sigmoid" in line  # the allowed values are listed
    refused(DPO + ["--loss_type", "sigmoid", "nosuch"], "--loss_type", capsys, work, "'nosuch'")
    refused(["train", "kto", "--model", NO_MODEL, "--data", "episodes.jsonl", "--loss_type", "nosuch"],
            "--loss_type", capsys, work, "apo_zero_unpaired")


@pytest.mark.parametrize("argv,option,words", [
    (["--port", "99999"], "--port", ("at most 65535", "99999")),
    (["--port", "-1"], "--port", ("at least 1", "-1")),
    (["--port", "0"], "--port", ("at least 1",)),
    (["--runs", "plain.txt"], "--runs", ("existing file",)),
    (["--host", "999.1.1.1"], "--host", ("999.1.1.1",)),
    (["--host", "bad_name"], "--host", ("not an IP address or a host name",)),
])
def test_app_options(argv, option, words, work, capsys, monkeypatch):
    monkeypatch.setattr("apps.app.run_app", lambda config: pytest.fail("the app started"))
    refused(["app", "--models", NO_MODEL, *argv], option, capsys, work, *words)


# -- the 5 bad values that were accepted ---------------------------------------------------------------
@pytest.mark.parametrize("turns", ["0", "-1"])
def test_max_turns_below_one(turns, work, capsys):
    refused(SELFPLAY + ["--max_turns", turns], "--max_turns", capsys, work, f"must be at least 1, got {turns}")
    refused(["chat", "--max_turns", turns], "--max_turns", capsys, work, "at least 1")


def test_epochs_and_beta_must_be_positive(work, capsys):
    refused(SFT + ["--epochs", "-1"], "--epochs", capsys, work, "must be positive, got -1.0")
    refused(SFT + ["--epochs", "0"], "--epochs", capsys, work, "positive")
    refused(DPO + ["--beta", "-1"], "--beta", capsys, work, "must be positive, got -1.0")
    refused(DPO + ["--trl", "beta=-1"], "--trl beta", capsys, work, "positive")
    refused(DPO + ["--trl", "loss_type=nosuch"], "--trl loss_type", capsys, work, "'nosuch'")


@pytest.mark.parametrize("argv", [SELFPLAY, SFT, ["chat"]], ids=["selfplay", "train-sft", "chat"])
def test_empty_out(argv, work, capsys):
    refused(argv + ["--out", ""], "--out", capsys, work, "must not be empty")
    refused(argv + ["--out", "   "], "--out", capsys, work, "must not be empty")


# -- more ranges and choices, from every config -----------------------------------------------------------
@pytest.mark.parametrize("argv,option,words", [
    (SELFPLAY + ["-n", "0"], "--n", ("at least 1",)),
    (SELFPLAY + ["--batch_size", "0"], "--batch_size", ("at least 1",)),
    (SELFPLAY + ["--critic_samples", "0"], "--critic_samples", ("at least 1",)),
    (SELFPLAY + ["--temperature", "-0.5"], "--temperature", ("at least 0",)),
    (SELFPLAY + ["--max_new_tokens", "0"], "--max_new_tokens", ("at least 1",)),
    (SELFPLAY + ["--critic", "oracle"], "--critic", ("'oracle'", "ground-truth")),
    (SFT + ["--lr", "0"], "--lr", ("positive",)),
    (SFT + ["--epochs", "nan"], "--epochs", ("must be a number",)),
    (SFT + ["--batch_size", "0"], "--batch_size", ("at least 1",)),
    (SFT + ["--lora_r", "0"], "--lora_r", ("at least 1",)),
    (["train", "ppdpp", "--agent_model", NO_MODEL, "--rl_episodes", "0"], "--rl_episodes", ("at least 1",)),
    (["train", "ppdpp", "--agent_model", NO_MODEL, "--gamma", "1.5"], "--gamma", ("at most 1",)),
    (["train", "ppdpp", "--agent_model", NO_MODEL, "--out", ""], "--out", ("empty",)),
    (["train", "offline-rl", "--lr", "-1"], "--lr", ("positive",)),
    (["train", "offline-rl", "--method", "sarsa"], "--method", ("'sarsa'",)),
    (["train", "grpo", "--model", NO_MODEL, "--env", "negotiation", "--temperature", "0"], "--temperature",
     ("positive",)),
    (["train", "ppo", "--model", NO_MODEL, "--env", "negotiation", "--lam", "2"], "--lam", ("at most 1",)),
    (["evaluate", "--agent_model", NO_MODEL, "--out", "plain.txt"], "--out", ("existing file",)),
    (["hindsight", "regenerate", "--agent_model", NO_MODEL, "--split", "test"], "--split", ("'test'",)),
    (["hindsight", "simulate", "--agent_model", NO_MODEL, "--pairs", "0"], "--pairs", ("at least 1",)),
    (["feedback", "add", "be brief", "--model", NO_MODEL, "--epochs", "0"], "--epochs", ("positive",)),
    (["feedback", "add", "be brief", "--model", NO_MODEL, "--library", "plain.txt"], "--library",
     ("existing file",)),
])
def test_ranges_and_choices(argv, option, words, work, capsys):
    refused(argv, option, capsys, work, *words)


def test_yaml_values_are_checked_too(work, capsys):
    (work / "bad.yaml").write_text("max_turns: 0\n")
    line = refused(SELFPLAY + ["--config", "bad.yaml"], "--max_turns", capsys, work, "at least 1")
    assert "bad.yaml" in line


# -- exact option names: no abbreviations ----------------------------------------------------------------
@pytest.mark.parametrize("argv,option", [
    (["train", "sft", "--mode", NO_MODEL, "--data", "episodes.jsonl"], "--mode"),  # was read as --model
    (["selfplay", "--agent_mod", NO_MODEL], "--agent_mod"),
    (["feedback", "add", "be brief", "--librar", "elsewhere"], "--librar"),  # was read as --library
    (["selfplay", "--conf", "binary.yaml"], "--conf"),
])
def test_no_abbreviations(argv, option, work, capsys):
    refused(argv, option, capsys, work, "unknown option")


def test_small_parsers_take_no_abbreviations(work, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["feedback", "list", "--lib", "elsewhere"])
    assert exit_.value.code == 2 and "--lib" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["envs", "--count"])
    assert exit_.value.code == 2 and "--count" in capsys.readouterr().err
    assert not (work / "elsewhere").exists()


# -- the checks themselves ---------------------------------------------------------------------------------
def test_good_values_pass(work):
    from apps.selfplay import SelfPlayConfig

    check_values(SelfPlayConfig(out="runs/new", max_turns=1, n=1, temperature=0.0, data="episodes.jsonl"))
    check_out_path("--out", ".")
    check_out_path("--out", "runs/a/b/c")
    check_text_file("--data", "missing.jsonl")  # its reader reports a missing file
    for host in ("127.0.0.1", "0.0.0.0", "::1", "localhost", "my-host.example.org"):
        check_host("--host", host)
    assert sorted(p.name for p in work.iterdir()) == ["binary.jsonl", "binary.yaml", "episodes.jsonl", "plain.txt"]


def test_shared_readers_name_the_file(work):
    with pytest.raises(WorkbenchError, match="binary.jsonl: not UTF-8 text"):
        list(read_jsonl(work / "binary.jsonl"))
    from apps.selfplay import SelfPlayConfig

    with pytest.raises(WorkbenchError, match="--config binary.yaml: not UTF-8 text"):
        load_yaml("binary.yaml", SelfPlayConfig)


def test_help_still_works(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["selfplay", "--help"])
    assert exit_.value.code == 0 and "--max_turns" in capsys.readouterr().out
