"""The places new environments and methods plug in: one method registry, one-way imports, `--help` everywhere."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apps.cli import COMMANDS, main
from apps.feedback import ACTIONS as FEEDBACK_ACTIONS
from apps.hindsight import ACTIONS as HINDSIGHT_ACTIONS
from workbench.errors import WorkbenchError
from workbench.methods import Method, methods, register, unregister
from workbench.runs import Run

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("workbench", "agents", "simulators", "apps")
FORBIDDEN = {"workbench": {"agents", "simulators", "apps"}, "agents": {"apps", "simulators"},
             "simulators": {"apps", "agents"}, "apps": set()}
"""What each layer must never import: the arrows point apps -> agents, simulators -> workbench."""


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports, wherever the import statement stands (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value.split(".")[0])
    return found


def test_imports_point_one_way():
    offences = []
    for layer in LAYERS:
        modules = sorted((ROOT / layer).rglob("*.py"))
        assert modules, layer
        for path in modules:
            bad = imported_packages(path) & FORBIDDEN[layer]
            offences += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    assert offences == []


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from agents.policies import make_policy\n"
                      "    importlib.import_module('apps.cli')\n")
    assert imported_packages(module) == {"os", "agents", "apps"}


def help_exit(argv: list[str], capsys) -> tuple[int, str]:
    """``workbench ARGV`` in this process: its exit code (a parser's SystemExit or main's return) and stdout."""
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    return code, capsys.readouterr().out


def every_help_command() -> list[list[str]]:
    commands = [[c, "--help"] for c in COMMANDS] + [["--help"]]
    commands += [["feedback", a, "--help"] for a in FEEDBACK_ACTIONS]
    commands += [["hindsight", a, "--help"] for a in HINDSIGHT_ACTIONS]
    return commands + [["train", name, "--help"] for name in methods()]


def test_help_of_every_command_and_registered_method_exits_cleanly(capsys):
    commands = every_help_command()
    assert len([c for c in commands if c[0] == "train"]) >= 12  # ten chat-model methods, ppdpp, offline-rl
    for argv in commands:
        code, out = help_exit(argv, capsys)
        assert code == 0, argv
        assert "usage: workbench" in out, argv
        if argv[0] == "train" and len(argv) == 3:
            assert methods()[argv[1]].help.split(";")[0][:30] in " ".join(out.split()), argv


def test_help_runs_as_a_process_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "apps.cli", "train", "offline-rl", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "--quantile" in done.stdout


def test_an_option_the_method_does_not_take_is_an_error_naming_the_method(capsys):
    assert main(["train", "sft", "--beta", "0.1", "--data", "x"]) == 2
    assert "unknown option '--beta' for workbench train sft" in capsys.readouterr().err
    assert main(["train", "dpo", "--num_generations", "4", "--data", "x"]) == 2
    assert "workbench train dpo" in capsys.readouterr().err


@dataclass
class ThrowawayConfig:
    out: str = field(default="runs/throwaway", metadata={"help": "run directory"})
    env: str = field(default="negotiation", metadata={"help": "environment"})
    data: str | None = field(default=None, metadata={"help": "data"})
    steps: int = field(default=3, metadata={"help": "how many lines it writes (the throwaway's own option)"})


def run_throwaway(config: ThrowawayConfig) -> tuple[Run, str]:
    if config.steps < 1:
        raise WorkbenchError("--steps must be at least 1")
    with Run.open(config.out, {"steps": config.steps}) as run:
        for step in range(config.steps):
            run.log_metrics({"step": step})
    return run, f"wrote {config.steps} steps"


THROWAWAY = Method("throwaway", "a method registered by a test and nowhere else", f"{__name__}:ThrowawayConfig",
                   f"{__name__}:run_throwaway", "nothing", inputs=("env",))


@pytest.fixture
def throwaway():
    register(THROWAWAY)
    yield THROWAWAY
    unregister(THROWAWAY.name)


def test_a_method_registered_once_appears_in_train_help_and_runs(throwaway, capsys, tmp_path):
    code, out = help_exit(["train", "--help"], capsys)
    assert code == 0 and "throwaway" in out and throwaway.help in out
    code, out = help_exit(["train", "throwaway", "--help"], capsys)
    assert code == 0 and "--steps" in out
    assert main(["train", "throwaway", "--steps", "2", "--out", str(tmp_path / "t")]) == 0
    assert "wrote 2 steps" in capsys.readouterr().out
    assert [r["step"] for r in Run(tmp_path / "t").metrics()] == [0, 1]
    assert main(["train", "throwaway", "--steps", "0", "--out", str(tmp_path / "u")]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err and not (tmp_path / "u").exists()
    unregister("throwaway")
    assert "throwaway" not in methods()


def test_a_method_registered_once_appears_in_the_apps_method_list(throwaway, tmp_path):
    from apps.app import AppConfig, build_app
    from apps.gui.ui import start_job

    register(Method("console-only", "a method the app must not start", THROWAWAY.config, THROWAWAY.run, "nothing",
                    app=False))
    try:
        app, demo = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[], preload=False))
        try:
            dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "method")
            names = [choice[0] if isinstance(choice, tuple) else choice for choice in dropdown.choices]
            assert "throwaway" in names and "console-only" not in names
            assert names[:len(methods()) - 1] == [n for n in methods() if n != "console-only"]
            listing = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "method-list")
            assert throwaway.help in listing.value
            queued = start_job(app, "throwaway", "tutoring", "embedded:gemma-3-270m", "", "--steps 1")
            assert "workbench train throwaway --env tutoring --steps 1" in queued  # its inputs: env only
            with pytest.raises(WorkbenchError, match="unknown method 'console-only'"):
                start_job(app, "console-only", "tutoring", "", "", "")
        finally:
            app.jobs.shutdown()
    finally:
        unregister("console-only")


def test_the_training_docs_list_every_registered_method_once():
    text = (ROOT / "docs" / "training.md").read_text()
    table = text[text.index("# Training methods"):text.index("## Train a policy")]
    listed = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert sorted(listed) == sorted(methods()) and len(listed) == len(set(listed))
