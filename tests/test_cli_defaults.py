"""What every command does by default: a quick `--help` that imports nothing heavy, `--no_*` flags that say what
they do, quiet libraries unless `--verbose`, a new run folder per run, and trackers only when asked for."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from apps.cli import CONFIGS, COMMANDS, config_class, is_library_warning, main
from tests.test_extension_points import every_help_command, help_exit
from workbench.config import build_parser
from workbench.methods import methods

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "gradio", "langchain_core", "trl")


def config_classes() -> dict[str, type]:
    """Every command's and method's options class, from the CLI's table and the method registry."""
    return {**{name: config_class(name) for name in CONFIGS},
            **{f"train {name}": method.config_class() for name, method in methods().items()}}


def workbench(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apps.cli", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_every_command_and_method_has_an_options_class_or_its_own_parser():
    assert set(COMMANDS) - {c.split()[0] for c in CONFIGS} == {"envs", "train"}  # argparse, or the registry
    assert len([c for c in config_classes() if c.startswith("train ")]) >= 12


def test_help_runs_as_a_process_for_every_command_and_method():
    for argv in every_help_command():
        done = workbench(*argv)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (argv, done.stderr[-2000:])
        assert "usage: workbench" in done.stdout and "--verbose" in done.stdout, argv


def test_help_lists_verbose_everywhere(capsys):
    for argv in every_help_command():
        code, out = help_exit(argv, capsys)
        assert code == 0 and "--verbose" in out, argv


def test_the_options_modules_import_nothing_heavy():
    modules = sorted({target.partition(":")[0] for target in CONFIGS.values()}
                     | {method.config.partition(":")[0] for method in methods().values()} | {"apps.cli"})
    for module in modules:
        done = subprocess.run([sys.executable, "-c", f"import {module}, sys; "
                               f"print([m for m in {HEAVY!r} if m in sys.modules])"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]", f"importing {module} loads {done.stdout.strip()}"


def test_every_negated_flag_says_what_it_does():
    seen = 0
    for command, cls in config_classes().items():
        parser = build_parser(cls, prog=f"workbench {command}", description="")
        helps = {s: a.help for a in parser._actions for s in a.option_strings}
        for option, text in helps.items():
            if option.startswith("--no_"):
                seen += 1
                assert text and not text.lower().startswith(("show", "load")), (command, option, text)
                assert text != helps[f"--{option[5:]}"], (command, option)
        parser.format_help()  # every help string renders (a bare % would raise here)
    assert seen >= 5  # progress (simulation commands, offline-rl), greedy, preload, freeze_encoder


def test_no_progress_turns_progress_off_and_keeps_the_default(tmp_path):
    from apps.selfplay import SelfPlayConfig
    from workbench.config import parse_config

    assert parse_config(SelfPlayConfig, [], prog="t", description="").progress is True
    assert parse_config(SelfPlayConfig, ["--no_progress"], prog="t", description="").progress is False
    assert parse_config(SelfPlayConfig, ["--progress", "false"], prog="t", description="").progress is False


def test_library_warnings_are_quiet_and_the_workbench_own_are_kept():
    assert is_library_warning(FutureWarning, "transformers.generation.utils")
    assert is_library_warning(UserWarning, "torch")
    assert is_library_warning(DeprecationWarning, "trl.trainer")
    assert not is_library_warning(FutureWarning, "workbench.training.trainers")
    assert not is_library_warning(RuntimeWarning, "transformers.x")  # only the notes to developers
    assert not is_library_warning(FutureWarning, "transformers_fork")


EMIT = textwrap.dedent("""
    import sys, warnings
    from apps.cli import quiet_libraries

    warnings.simplefilter("always")
    quiet_libraries(verbose=sys.argv[1] == "verbose")

    def module(name):
        namespace = {"__name__": name}
        exec("import warnings\\ndef warn(text, stacklevel):\\n    warnings.warn(text, FutureWarning, stacklevel)",
             namespace)
        return namespace["warn"]

    module("transformers.x")("library note", 1)
    module("transformers.x")("library note blaming its caller", 2)
    module("workbench.x")("workbench warning", 1)
""")


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_the_installed_filter_hides_library_warnings_unless_verbose(mode, tmp_path):
    done = subprocess.run([sys.executable, "-c", EMIT, mode], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "workbench warning" in done.stderr
    assert ("library note" in done.stderr) == (mode == "verbose")
    assert ("blaming its caller" in done.stderr) == (mode == "verbose")


def test_verbose_is_taken_before_or_after_the_command(capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_VERBOSE", raising=False)
    assert main(["--verbose", "envs"]) == 0 and main(["envs", "--verbose"]) == 0
    assert "negotiation" in capsys.readouterr().out


def test_runs_without_out_land_in_new_folders(tmp_path):
    for _ in range(2):
        done = workbench("selfplay", "-n", "2", "--no_progress", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    folders = sorted(p for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 2 and all(p.name.startswith("selfplay-") for p in folders), folders
    for folder in folders:  # the resolved folder is what the run's config records
        assert f"out: runs/{folder.name}\n" in (folder / "config.yaml").read_text()


@pytest.mark.parametrize("argv", [["selfplay", "--resume", "-n", "2"], ["evaluate", "--env", "negotiation",
                                                                         "--resume"],
                                  ["train", "offline-rl", "--data", "x", "--resume"]])
def test_resume_without_out_is_a_one_line_error(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "error: --resume needs --out (the run folder to continue)"
    assert not (tmp_path / "runs").exists()


def test_an_unknown_tracker_stops_at_parse_time(capsys):
    assert main(["train", "sft", "--data", "x", "--report_to", "notebook"]) == 2
    assert "unknown --report_to 'notebook'" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("swanlab") is not None, reason="swanlab is installed")
def test_a_tracker_that_is_not_installed_names_its_package(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "sft", "--data", "x", "--report_to", "swanlab"]) == 2
    assert capsys.readouterr().err.strip() == "error: --report_to swanlab needs swanlab: pip install swanlab"
    assert main(["train", "ppo", "--env", "negotiation", "--report_to", "wandb"]) == 2
    assert "ppo logs to tensorboard only" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_sft_reports_to_tensorboard_in_the_run_folder(tmp_path, capsys):
    from tests.toy_training import coin_episodes, tiny_policy

    model, episodes = tiny_policy(tmp_path / "tiny"), coin_episodes(tmp_path / "episodes", n=16)
    out = tmp_path / "run"
    code = main(["train", "sft", "--model", str(model), "--data", str(episodes), "--out", str(out), "--max_steps", "2",
                 "--batch_size", "4", "--report_to", "tensorboard"])
    assert code == 0, capsys.readouterr().err
    assert list((out / "checkpoints" / "runs").glob("*/events.out.tfevents.*"))


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_ppo_reports_to_tensorboard_where_the_trl_trainers_do(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.toy_training import tiny_policy

    out = tmp_path / "run"
    code = main(["train", "ppo", "--model", str(tiny_policy(tmp_path / "tiny")), "--env", "marketplace", "--max_turns",
                 "2", "--prompts", "4", "--batch_size", "2", "--num_generations", "2", "--max_new_tokens", "4",
                 "--max_steps", "2", "--out", str(out), "--report_to", "tensorboard"])
    assert code == 0, capsys.readouterr().err
    [folder] = (out / "checkpoints" / "runs").iterdir()
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [e.step for e in events.Scalars("train/return")] == [1, 2]
