"""Tool calls in an LLM's text: parse them, write them back, count what did not parse.

Accepted forms (one text may hold several calls):

- JSON: ``{"name": ..., "arguments": {...}}`` (the arguments key may also be ``"parameters"`` or
  ``"args"``; the arguments may be a JSON string holding the object), a list of such objects, OpenAI's
  ``{"tool_calls": [{"function": {"name": ..., "arguments": ...}}]}``, or several objects one after another;
- Python call syntax as BFCL models write it: ``f(a=1)``, ``math.factorial(n=5)``,
  ``[f(a=1), g(b=[1, 2])]``, or one call per line. Read with :mod:`ast`; only keyword arguments whose values
  are literals (:func:`ast.literal_eval` on each value node), so nothing is ever evaluated;
- either of these inside ```` ``` ```` fences (any language tag) or ``<tool_call>...</tool_call>`` tags
  (Qwen/Hermes). A missing closing fence or tag at the end of the text is accepted, because generation is
  often stopped at exactly that marker.

**When does a text attempt a call?** When it holds a ``<tool_call>`` tag; else when it holds a fence
whose body starts like a call; else when the whole stripped text starts like a call. "Starts like a call"
means: begins with ``{`` or ``[``, or with a dotted name directly followed by ``(`` (``get_weather(city=``;
``Sure (see below)`` is prose). Prose that mentions a call mid-sentence is a plain answer; prose that
begins with a bracket (``[1] Smith et al.``) counts as a failed attempt. An attempt that yields no calls
is a failure with one of the short reasons below, never an exception; an empty text is a failure too
("empty text"), being neither a call nor an answer. :class:`CallStats` counts the outcomes, as
:class:`workbench.critics.LLMCritic` counts unparsable samples, so an environment can show them.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal

EMPTY = "empty text"
UNBALANCED = "unbalanced brackets"
BAD_JSON = "invalid JSON"
BAD_PYTHON = "invalid Python call"
NOT_A_CALL = "not a tool call"
BAD_NAME = "missing or invalid name"
BAD_ARGUMENTS = "arguments are not an object"
POSITIONAL = "positional arguments"
NON_LITERAL = "non-literal arguments"
NO_CALLS = "empty call list"

_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_CALL_START = re.compile(r"[\[{]|[A-Za-z_][\w.]*\(")
_JSON_START = re.compile(r"\[?\s*\{")  # a JSON object, or a list that opens with one
_ARGUMENT_KEYS = ("arguments", "parameters", "args")


@dataclass(frozen=True)
class ToolCall:
    """One call: the tool's name and its keyword arguments."""
    name: str
    arguments: dict[str, Any]


@dataclass
class ParsedCalls:
    """What one text held: calls, or why an attempted call failed, or a plain answer (exactly one is set)."""
    calls: list[ToolCall] = field(default_factory=list)
    failure: str | None = None
    answer: str | None = None


class _Failure(Exception):
    """Internal: a call attempt that failed, with its reason."""


def parse_calls(text: str) -> ParsedCalls:
    """Parse ``text`` (see the module docstring for the forms and the rule for an attempted call)."""
    stripped = text.strip()
    if not stripped:
        return ParsedCalls(failure=EMPTY)
    if "<tool_call>" in stripped:
        bodies = _TAG.findall(stripped)
    else:
        bodies = [b for b in _FENCE.findall(stripped) if _CALL_START.match(b.strip())]
        if not bodies:
            if not _CALL_START.match(stripped):
                return ParsedCalls(answer=stripped)
            bodies = [stripped]
    try:
        calls = [call for body in bodies for call in _parse_body(body.strip())]
    except _Failure as failure:
        return ParsedCalls(failure=str(failure))
    if not calls:
        return ParsedCalls(failure=NO_CALLS)
    return ParsedCalls(calls=calls)


def _parse_body(body: str) -> list[ToolCall]:
    """Calls in one body: JSON first, then Python syntax."""
    try:
        values = _json_values(body)
    except (ValueError, RecursionError):
        if _JSON_START.match(body):
            raise _Failure(UNBALANCED if _unbalanced(body) else BAD_JSON) from None
    else:
        return [call for value in values for call in _json_calls(value)]
    try:
        module = ast.parse(body, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Failure(UNBALANCED if _unbalanced(body) else BAD_PYTHON) from None
    return [_python_call(node) for statement in module.body for node in _call_nodes(statement)]


def _json_values(body: str) -> list[Any]:
    """All JSON values in ``body``, one after another; ValueError when anything else is there."""
    decoder, values, end = json.JSONDecoder(), [], 0
    while end < len(body):
        value, end = decoder.raw_decode(body, end)
        values.append(value)
        end = len(body) - len(body[end:].lstrip())
    return values


def _json_calls(value: Any) -> list[ToolCall]:
    if isinstance(value, list):
        return [call for item in value for call in _json_calls(item)]
    if not isinstance(value, dict):
        raise _Failure(NOT_A_CALL)
    if "tool_calls" in value:
        return _json_calls(value["tool_calls"])
    if isinstance(value.get("function"), dict):
        value = value["function"]
    if "name" not in value:
        raise _Failure(NOT_A_CALL)
    name = value["name"]
    if not isinstance(name, str) or not name.strip():
        raise _Failure(BAD_NAME)
    arguments = next((value[k] for k in _ARGUMENT_KEYS if k in value), None)
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise _Failure(BAD_ARGUMENTS) from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _Failure(BAD_ARGUMENTS)
    return [ToolCall(name.strip(), arguments)]


def _call_nodes(statement: ast.stmt) -> list[ast.expr]:
    """The call expressions of one statement: a call, or a list/tuple of them."""
    if not isinstance(statement, ast.Expr):
        raise _Failure(NOT_A_CALL)
    node = statement.value
    return list(node.elts) if isinstance(node, (ast.List, ast.Tuple)) else [node]


def _python_call(node: ast.expr) -> ToolCall:
    if not isinstance(node, ast.Call):
        raise _Failure(NOT_A_CALL)
    name = _dotted_name(node.func)
    if node.args:
        raise _Failure(POSITIONAL)
    arguments = {}
    for kw in node.keywords:
        if kw.arg is None:  # **kwargs
            raise _Failure(NON_LITERAL)
        try:
            arguments[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise _Failure(NON_LITERAL) from None
    return ToolCall(name, arguments)


def _dotted_name(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise _Failure(BAD_NAME)
    return ".".join([node.id, *reversed(parts)])


class CodeScanner:
    """Iterate over ``(index, char)`` of the characters of ``text`` outside string literals (``'`` or ``"``, with
    backslash escapes; the quotes themselves are not yielded). After the walk, :attr:`open_quote` is the quote of
    a string left open at the end ("" when none). Shared by the call parser and the MCTS step cutter
    (:mod:`agents.itool.mcts`)."""

    def __init__(self, text: str):
        self.text = text
        self.open_quote = ""

    def __iter__(self) -> Iterator[tuple[int, str]]:
        quote, escaped = "", False
        for i, ch in enumerate(self.text):
            if quote:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            else:
                yield i, ch
        self.open_quote = quote


def _unbalanced(text: str) -> bool:
    """Whether brackets outside string literals fail to pair up (or a string is left open)."""
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    scanner = CodeScanner(text)
    for _, ch in scanner:
        if ch in "([{":
            stack.append(ch)
        elif ch in closing and (not stack or stack.pop() != closing[ch]):
            return True
    return bool(stack or scanner.open_quote)


def format_calls(calls: Iterable[ToolCall], style: Literal["json", "python"] = "json") -> str:
    """Write calls as a training target; :func:`parse_calls` reads them back unchanged.

    ``json``: one ``{"name", "arguments"}`` object for one call, a JSON list for several.
    ``python``: BFCL's list ``[f(a=1), g(b='x')]``, values as Python literals (``repr``).
    ValueError for no calls, or in the python style for a name or argument that is not an identifier.
    """
    calls = list(calls)
    if not calls:
        raise ValueError("format_calls needs at least one call")
    if style == "json":
        objects = [{"name": c.name, "arguments": c.arguments} for c in calls]
        return json.dumps(objects[0] if len(objects) == 1 else objects, ensure_ascii=False)
    if style == "python":
        return "[" + ", ".join(map(_python_text, calls)) + "]"
    raise ValueError(f"unknown style {style!r} (known: json, python)")


def _python_text(call: ToolCall) -> str:
    for word in [*call.name.split("."), *call.arguments]:
        if not word.isidentifier() or keyword.iskeyword(word):
            raise ValueError(f"{word!r} in call {call.name!r} is not a Python identifier")
    return f"{call.name}({', '.join(f'{k}={v!r}' for k, v in call.arguments.items())})"


@dataclass
class CallStats:
    """Counts of parse outcomes: texts with calls, calls, plain answers, and failures per reason."""
    parsed: int = 0
    calls: int = 0
    answers: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def add(self, result: ParsedCalls) -> ParsedCalls:
        """Count one parse result and return it (``stats.add(parse_calls(text))``)."""
        if result.failure is not None:
            self.failures[result.failure] += 1
        elif result.calls:
            self.parsed += 1
            self.calls += len(result.calls)
        else:
            self.answers += 1
        return result

    def as_dict(self) -> dict[str, int]:
        """Flat counts for a metrics table: ``parsed``, ``calls``, ``answers``, ``failed`` and
        ``failed: <reason>`` for each reason seen."""
        counts = {"parsed": self.parsed, "calls": self.calls, "answers": self.answers,
                  "failed": sum(self.failures.values())}
        counts.update({f"failed: {reason}": n for reason, n in sorted(self.failures.items())})
        return counts
