"""Running tool calls in a child process: results, errors, timeouts, limits; none of it raises in the caller."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from workbench.tool_calls import ToolCall
from workbench.tool_sandbox import Limits, ToolResult, argument_error, run_calls, run_tool


def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


def fail(message: str) -> str:
    """Raise."""
    raise ValueError(f"cannot do\n{message}")


def hang() -> str:
    """Sleep for a minute."""
    time.sleep(60)
    return "woke"


def allocate(gigabytes: int) -> str:
    """Allocate memory at once, then grow a list until memory runs out."""
    block = bytearray(gigabytes * 2 ** 30)
    grown = [b" " * 2 ** 20 for _ in range(2 ** 20)]  # a terabyte
    return str(len(block) + len(grown))


def echo(n: int) -> str:
    """Return n characters."""
    return "x" * n


def inspect_process() -> dict:
    """What the tool can see of its process."""
    return {"stdin": sys.stdin.read(), "env": sorted(os.environ), "pgid": os.getpgid(0) == os.getpid()}


def write_file(path: str) -> str:
    """Write a file."""
    with open(path, "w") as f:
        f.write("data")
    return "written"


def die(how: str) -> str:
    """End the process abruptly."""
    if how == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGKILL)
    return "still alive"


def start_sleeper(pid_file: str) -> str:
    """Start a grandchild that sleeps, record its pid, then hang."""
    child = subprocess.Popen(["sleep", "60"])
    with open(pid_file, "w") as f:
        f.write(str(child.pid))
    time.sleep(60)
    return "woke"


class AddArgs(BaseModel):
    a: int
    b: int = 2


TOOLS = {f.__name__: StructuredTool.from_function(f)
         for f in (add, fail, hang, allocate, echo, inspect_process, write_file, die, start_sleeper)}
PICKLABLE_ADD = StructuredTool(name="add", description="Add two numbers.", func=add, args_schema=AddArgs)
JSON_SCHEMA_TOOL = StructuredTool(
    name="forecast", description="Weather forecast.", func=lambda city, days=1: f"{city}: {days} days of sun",
    args_schema={"type": "object", "required": ["city"],
                 "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                "units": {"type": "string", "enum": ["C", "F"]}}})


def test_a_normal_tool_returns_its_output_as_text():
    result = run_tool(TOOLS["add"], {"a": 3, "b": 4})
    assert (result.ok, result.output, result.error) == (True, "7", None)
    assert 0 < result.seconds < 2
    assert run_tool(JSON_SCHEMA_TOOL, {"city": "Paris", "days": 2}).output == "Paris: 2 days of sun"


def test_a_raising_tool_returns_its_exception_as_one_line():
    result = run_tool(TOOLS["fail"], {"message": "twice\nover"})
    assert result == ToolResult(False, "", "ValueError: cannot do twice over", result.seconds)


def test_a_hanging_tool_is_killed_at_the_timeout():
    start = time.perf_counter()
    result = run_tool(TOOLS["hang"], {}, timeout=1)
    assert (result.ok, result.error) == (False, "timed out after 1s")
    assert 1 <= result.seconds < 3 and time.perf_counter() - start < 3


def test_processes_the_tool_started_die_with_it(tmp_path):
    pid_file = tmp_path / "pid"
    result = run_tool(TOOLS["start_sleeper"], {"pid_file": str(pid_file)}, timeout=1,
                      limits=Limits(file_bytes=100))
    assert result.error == "timed out after 1s"
    sleeper = int(pid_file.read_text())
    time.sleep(0.1)
    assert not _running(sleeper)


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("tool, arguments, error", [
    ("add", {"a": "three"}, "invalid arguments: a: Input should be a valid integer, unable to parse string as an "
                            "integer"),
    ("add", {"b": 1}, "invalid arguments: a: Field required"),
    ("add", {"a": 1, "c": 2}, "invalid arguments: unexpected 'c'"),
    ("forecast", {"days": 2}, "invalid arguments: missing 'city'"),
    ("forecast", {"city": "Paris", "days": "2"}, "invalid arguments: days: expected integer, got str"),
    ("forecast", {"city": "Paris", "days": True}, "invalid arguments: days: expected integer, got bool"),
    ("forecast", {"city": "Paris", "units": "K"}, "invalid arguments: units: 'K' is not one of ['C', 'F']"),
    ("forecast", {"city": "Paris", "when": "now"}, "invalid arguments: unexpected 'when'"),
])
def test_invalid_arguments_are_refused_before_running(tool, arguments, error):
    result = run_tool(TOOLS.get(tool, JSON_SCHEMA_TOOL), arguments)
    assert (result.ok, result.output, result.error) == (False, "", error)
    assert argument_error(TOOLS.get(tool, JSON_SCHEMA_TOOL), arguments) == error.removeprefix("invalid arguments: ")


def test_run_calls_runs_each_call_and_names_unknown_tools():
    results = run_calls(TOOLS, [ToolCall("add", {"a": 1}), ToolCall("search", {"q": "x"})], timeout=2)
    assert results[0].output == "3"
    assert results[1] == ToolResult(False, "", "unknown tool 'search' (known: add, allocate, die, echo, fail, "
                                               "hang, inspect_process, start_sleeper, write_file)", 0.0)


def test_long_output_is_truncated_and_says_so():
    result = run_tool(TOOLS["echo"], {"n": 5000}, max_output=100)
    assert result.output == "x" * 100 + "\n[output truncated: showing 100 of 5000 characters]"
    assert run_tool(TOOLS["echo"], {"n": 100}, max_output=100).output == "x" * 100


@pytest.mark.parametrize("gigabytes", [64, 0])
def test_a_tool_exhausting_memory_fails_cleanly(gigabytes):
    result = run_tool(TOOLS["allocate"], {"gigabytes": gigabytes}, timeout=20, limits=Limits(memory_mb=256))
    assert (result.ok, result.error) == (False, "MemoryError")


def test_the_child_is_confined(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    seen = run_tool(TOOLS["inspect_process"], {}).output
    assert seen == str({"stdin": "", "env": sorted(k for k in os.environ if k in Limits().env), "pgid": True})
    target = tmp_path / "out.txt"
    result = run_tool(TOOLS["write_file"], {"path": str(target)})
    assert result.error.startswith("OSError: [Errno 27] File too large")
    assert run_tool(TOOLS["write_file"], {"path": str(target)}, limits=Limits(file_bytes=10)).output == "written"


def test_a_call_from_a_worker_thread_runs():
    results = []
    worker = threading.Thread(target=lambda: results.append(run_tool(TOOLS["add"], {"a": 5})))
    worker.start()
    worker.join()
    assert results[0].output == "7"


@pytest.mark.parametrize("how, error", [("exit", "tool process died (exit code 3)"),
                                        ("kill", "tool process died (signal SIGKILL)")])
def test_a_dying_tool_is_reported(how, error):
    assert run_tool(TOOLS["die"], {"how": how}).error == error


def test_spawn_needs_a_picklable_tool():
    assert run_tool(PICKLABLE_ADD, {"a": 1}, timeout=30, start_method="spawn").output == "3"
    result = run_tool(TOOLS["add"], {"a": 1}, start_method="spawn")
    assert not result.ok and result.error.startswith("tool cannot start in a spawn process: ")
