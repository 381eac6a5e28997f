"""Run a tool call in a child process: arguments validated first, a wall-clock timeout, resource limits.

:func:`run_tool` never raises for what the tool or its arguments do: a tool that raises, hangs, exhausts its
memory or dies comes back as a :class:`ToolResult` with ``ok=False`` and a one-line ``error``.

**Processes.** Each call starts a child with :mod:`multiprocessing`'s ``fork`` start method (POSIX only,
as this module needs :mod:`resource` and process groups; fork exists on every POSIX system, so there is no
automatic fallback). Fork copies the caller, so any tool runs, including the ``StructuredTool.from_function``
ones, whose generated argument models cannot be pickled; it costs about 10-15 ms a call on 2 cores (more
in a caller with torch loaded). ``start_method="spawn"`` or ``"forkserver"`` needs a picklable tool
(module-level function *and* schema) and costs about 0.6 s a call, the child importing the tool's modules;
choose it in a caller whose other threads may hold a lock at the fork (a forked child that needs that lock
deadlocks until the timeout). The child puts itself in its own process group, and
the whole group is killed with SIGKILL when the call ends, so processes the tool started do not outlive it.

**What is confined, in the child, before the tool runs:**

- time: the parent waits ``timeout`` seconds of wall-clock time, then kills; RLIMIT_CPU
  (``ceil(timeout) + 1`` s) backs this up for a child whose parent is gone;
- memory: RLIMIT_AS is set to the address space the child already has plus ``Limits.memory_mb`` (Linux; it
  reads ``/proc/self/statm``, elsewhere there is no memory limit), so a huge allocation raises MemoryError;
- files: RLIMIT_FSIZE is ``Limits.file_bytes`` (0 by default: no file can grow; SIGXFSZ is ignored, so the
  write fails with OSError); no core dumps;
- descriptors: every inherited file descriptor (stdin, stdout, stderr, the caller's files and sockets) is
  pointed at ``/dev/null``, except the pipe that carries the result back;
- environment: only the variables in ``Limits.env`` are kept (API keys and tokens are dropped).

**What is not confined:** the file system can still be read, and written within ``file_bytes`` (no
chroot or mount namespace); the network is open (no network namespace); the tool runs as the caller's
user and can start processes (RLIMIT_NPROC counts all of the user's processes, so it is left alone).
Confining those needs namespaces or seccomp, i.e. privileges or a container. The sandbox guards the
caller against a tool misbehaving on an LLM's arguments; it does not make untrusted tool *code* safe.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal, Mapping

from langchain_core.callbacks import CallbackManager
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from workbench.tool_calls import ToolCall

StartMethod = Literal["fork", "spawn", "forkserver"]


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one call: ``output`` (the tool's return value as text) when ``ok``, else ``error``;
    ``seconds`` of wall-clock time, process start included."""
    ok: bool
    output: str
    error: str | None
    seconds: float


@dataclass(frozen=True)
class Limits:
    """Resource limits for the tool's process (see the module docstring)."""
    memory_mb: int = 512
    file_bytes: int = 0
    env: tuple[str, ...] = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def run_tool(tool: BaseTool, arguments: dict[str, Any], timeout: float = 5.0, *, max_output: int = 2000,
             limits: Limits = Limits(), start_method: StartMethod = "fork") -> ToolResult:
    """Validate ``arguments`` against the tool's schema, then run the tool in a child process.

    Errors: ``invalid arguments: ...``, ``timed out after Ns``, ``<ExceptionType>: <message>`` for what the
    tool raised, ``tool process died (...)`` for a child killed by a signal or a limit. Output and errors
    longer than ``max_output`` characters are cut, saying so.
    """
    start = time.perf_counter()

    def result(ok: bool, text: str) -> ToolResult:
        return ToolResult(ok, text if ok else "", None if ok else text, time.perf_counter() - start)

    problem = argument_error(tool, arguments)
    if problem is not None:
        return result(False, _cut(f"invalid arguments: {problem}", max_output))
    _import_callbacks()
    context = multiprocessing.get_context(start_method)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, tool, arguments, math.ceil(timeout) + 1,
                                                   max_output, limits))
    try:
        process.start()
    except Exception as exc:  # the tool does not pickle (spawn, forkserver), or fork itself failed
        receiver.close()
        sender.close()
        return result(False, f"tool cannot start in a {start_method} process: {_one_line(exc, max_output)}")
    sender.close()
    message: tuple[bool, str] | None = None
    try:
        if receiver.poll(timeout):
            try:
                message = receiver.recv()
            except EOFError:  # the child died before it sent anything
                pass
        else:
            message = (False, f"timed out after {timeout:g}s")
    finally:
        _kill_group(process)
        process.join()
        receiver.close()
    if message is None:
        code = process.exitcode or 0
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        message = (False, f"tool process died ({cause})")
    return result(*message)


def run_calls(tools: Mapping[str, BaseTool], calls: list[ToolCall], timeout: float = 5.0, *,
              max_output: int = 2000, limits: Limits = Limits(),
              start_method: StartMethod = "fork") -> list[ToolResult]:
    """Run ``calls`` one after another, each with :func:`run_tool`; an unknown name is an error result."""
    results = []
    for call in calls:
        tool = tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(tools)) or "none"
            results.append(ToolResult(False, "", f"unknown tool {call.name!r} (known: {known})", 0.0))
        else:
            results.append(run_tool(tool, call.arguments, timeout, max_output=max_output, limits=limits,
                                    start_method=start_method))
    return results


@functools.cache
def _import_callbacks() -> None:
    """Make ``tool.invoke``'s lazy imports (tracers, about 12 ms) once here, not again in every forked child."""
    CallbackManager.configure()


def argument_error(tool: BaseTool, arguments: dict[str, Any]) -> str | None:
    """Why ``arguments`` do not fit the tool's schema (one line), or None when they do.

    A pydantic schema (what ``StructuredTool.from_function`` and ``@tool`` make) validates fully. A JSON
    schema dict is checked for required and unexpected names, each value's ``type`` and ``enum``; nested
    constraints are left to the tool. Unexpected names are rejected unless the schema allows extra fields
    (pydantic ``extra="allow"``, JSON ``additionalProperties``), since the tool would never see them.
    """
    schema = tool.args_schema
    if isinstance(schema, dict):
        return _json_schema_error(schema, arguments)
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return None
    names = {n for name, f in schema.model_fields.items() for n in (name, f.alias) if n}
    unexpected = sorted(set(arguments) - names)
    if unexpected and schema.model_config.get("extra") != "allow":
        return "unexpected " + ", ".join(map(repr, unexpected))
    try:
        schema.model_validate(arguments)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
    return None


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": (list, tuple),
    "object": dict, "null": type(None)}


def _json_schema_error(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    properties = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if name not in arguments]
    if missing:
        return "missing " + ", ".join(map(repr, missing))
    unexpected = sorted(set(arguments) - set(properties))
    if unexpected and not schema.get("additionalProperties"):
        return "unexpected " + ", ".join(map(repr, unexpected))
    for name, value in arguments.items():
        spec = properties.get(name, {})
        types = [spec["type"]] if isinstance(spec.get("type"), str) else spec.get("type", [])
        if types and not any(_is_json_type(value, t) for t in types):
            return f"{name}: expected {' or '.join(types)}, got {type(value).__name__}"
        if "enum" in spec and value not in spec["enum"]:
            return f"{name}: {value!r} is not one of {spec['enum']}"
    return None


def _is_json_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES.get(name, object))


def _child(sender: Connection, tool: BaseTool, arguments: dict[str, Any], cpu_seconds: int, max_output: int,
           limits: Limits) -> None:
    """The child process: confine itself, run the tool, send ``(ok, text)``, exit without cleanup."""
    try:
        os.setpgid(0, 0)
        _confine(limits, cpu_seconds, keep_fd=sender.fileno())
        message = (True, _cut(str(tool.invoke(arguments)), max_output))
    except BaseException as exc:  # whatever the tool raises, SystemExit and MemoryError included
        message = (False, _one_line(exc, max_output))
    try:
        sender.send(message)
    finally:
        os._exit(0)


def _confine(limits: Limits, cpu_seconds: int, keep_fd: int) -> None:
    for name in set(os.environ) - set(limits.env):
        del os.environ[name]
    null = os.open(os.devnull, os.O_RDWR)
    for fd in map(int, os.listdir("/dev/fd")):
        if fd not in (keep_fd, null):
            try:
                os.dup2(null, fd)  # not close: a stale object's close must not hit a descriptor the tool opened
            except OSError:  # the listing's own, now closed, descriptor
                pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set_limit(resource.RLIMIT_CPU, cpu_seconds)
    try:
        with open("/proc/self/statm") as statm:
            address_space = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:
        return
    _set_limit(resource.RLIMIT_AS, address_space + limits.memory_mb * 2 ** 20)


def _set_limit(which: int, value: int) -> None:
    """Set the soft and hard limit to ``value`` (never above the current hard limit)."""
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    """SIGKILL the child's process group (the child and whatever it started), or the child alone if it has
    not made its group yet."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if process.is_alive():
            process.kill()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[output truncated: showing {limit} of {len(text)} characters]"


def _one_line(exc: BaseException, limit: int) -> str:
    message = " ".join(str(exc).split())
    return _cut(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, limit)
