"""The executable tools the workbench ships for tool-use tasks (after OpenAGI's RLTF, Ge et al., NeurIPS 2023
Datasets and Benchmarks, and iTool, Zeng et al. 2025): deterministic, offline and pure, so that a task's answer
is computed by running its calls and an agent's calls are checked by running them too.

Every tool takes typed arguments, returns text and raises :class:`ValueError` with a one-line message on bad
input. Numbers come back through :func:`format_number` (integers without a decimal point, others with ten
significant digits), so a later call can reuse an earlier result's text exactly. The tables and the knowledge
base are package data (``data/tables.json``, ``data/kb.json``), read once.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import math
import operator
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from langchain_core.tools import StructuredTool

DATA = Path(__file__).parent / "data"

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "round": round, "abs": abs, "floor": math.floor, "ceil": math.ceil, "log": math.log,
    "exp": math.exp, "min": min, "max": max}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_EXPONENT = 1000
_MAX_BITS = 4096
_MAX_EXPRESSION = 500


def format_number(x: float | int) -> str:
    """A number as tool output: ``12`` for integral values below 1e15, else ten significant digits."""
    if isinstance(x, bool) or not math.isfinite(x):
        raise ValueError(f"result {x!r} is not a finite number")
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression: numbers, + - * / ** % //, parentheses, the constants pi and e and
    the functions sqrt, round, abs, floor, ceil, log, exp, min, max. Parsed with :mod:`ast`, never evaluated
    as Python."""
    if len(expression) > _MAX_EXPRESSION:
        raise ValueError(f"expression longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    try:
        return format_number(_evaluate(tree.body))
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"cannot evaluate {expression!r}: {exc}") from None


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > _MAX_EXPONENT or (
                isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > _MAX_BITS)):
            raise ValueError(f"power {left} ** {right} is too large")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise ValueError("result is not a real number")
        return result
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords and node.args):
        try:
            return _FUNCTIONS[node.func.id](*map(_evaluate, node.args))
        except ValueError as exc:
            raise ValueError(f"{node.func.id}: {exc}") from None
    raise ValueError(f"unsupported element {ast.unparse(node)!r} (allowed: numbers, + - * / ** % //, "
                     f"{', '.join(_FUNCTIONS)}, pi, e)")


# unit symbol -> (dimension, factor to the dimension's base unit, names the tool also accepts)
UNITS: dict[str, tuple[str, float, tuple[str, ...]]] = {
    "m": ("length", 1.0, ("metre", "metres", "meter", "meters")),
    "km": ("length", 1000.0, ("kilometre", "kilometres", "kilometer", "kilometers")),
    "cm": ("length", 0.01, ("centimetre", "centimetres", "centimeter", "centimeters")),
    "mm": ("length", 0.001, ("millimetre", "millimetres", "millimeter", "millimeters")),
    "mi": ("length", 1609.344, ("mile", "miles")),
    "yd": ("length", 0.9144, ("yard", "yards")),
    "ft": ("length", 0.3048, ("foot", "feet")),
    "in": ("length", 0.0254, ("inch", "inches")),
    "kg": ("mass", 1.0, ("kilogram", "kilograms")),
    "g": ("mass", 0.001, ("gram", "grams")),
    "mg": ("mass", 1e-6, ("milligram", "milligrams")),
    "t": ("mass", 1000.0, ("tonne", "tonnes")),
    "lb": ("mass", 0.45359237, ("pound", "pounds", "lbs")),
    "oz": ("mass", 0.028349523125, ("ounce", "ounces")),
    "s": ("time", 1.0, ("second", "seconds", "sec")),
    "min": ("time", 60.0, ("minute", "minutes")),
    "h": ("time", 3600.0, ("hour", "hours", "hr")),
    "day": ("time", 86400.0, ("days", "d")),
    "week": ("time", 604800.0, ("weeks",)),
    "C": ("temperature", 1.0, ("celsius", "degC", "°C", "degrees celsius")),
    "F": ("temperature", 1.0, ("fahrenheit", "degF", "°F", "degrees fahrenheit")),
    "K": ("temperature", 1.0, ("kelvin", "kelvins")),
}
_UNIT_NAMES = {name.lower(): symbol for symbol, (_, _, names) in UNITS.items() for name in (symbol, *names)}
_TO_KELVIN = {"C": lambda x: x + 273.15, "F": lambda x: (x - 32) * 5 / 9 + 273.15, "K": lambda x: x}
_FROM_KELVIN = {"C": lambda k: k - 273.15, "F": lambda k: (k - 273.15) * 9 / 5 + 32, "K": lambda k: k}


def unit_symbol(unit: str) -> str:
    """The symbol of a unit written as a symbol or a name (case-insensitive); ValueError when unknown."""
    symbol = _UNIT_NAMES.get(unit.strip().lower())
    if symbol is None:
        raise ValueError(f"unknown unit {unit!r} (known: {', '.join(UNITS)})")
    return symbol


def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert ``value`` between units of length, mass, time or temperature; returns the number in
    ``to_unit``."""
    source, target = unit_symbol(from_unit), unit_symbol(to_unit)
    dimension = UNITS[source][0]
    if UNITS[target][0] != dimension:
        raise ValueError(f"cannot convert {dimension} ({from_unit}) to {UNITS[target][0]} ({to_unit})")
    if dimension != "temperature":
        return format_number(value * UNITS[source][1] / UNITS[target][1])
    kelvin = _TO_KELVIN[source](value)
    if kelvin < 0:
        raise ValueError(f"{value} {from_unit} is below absolute zero")
    return format_number(round(_FROM_KELVIN[target](kelvin), 10))


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def date_add(date: str, days: int) -> str:
    """The ISO date ``days`` days after ``date`` (before it when ``days`` is negative)."""
    try:
        return (_date(date, "date") + dt.timedelta(days=days)).isoformat()
    except OverflowError:
        raise ValueError(f"{date} plus {days} days is out of the supported range") from None


def days_between(start: str, end: str) -> str:
    """The number of days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return str((_date(end, "end") - _date(start, "start")).days)


@functools.cache
def load_tables() -> dict[str, Any]:
    """The shipped tables: ``{table: {"description", "columns": {column: {"kind", "phrase", ...}},
    "rows": {key: {column: value}}}}``."""
    return json.loads((DATA / "tables.json").read_text(encoding="utf-8"))


@functools.cache
def load_kb() -> list[dict[str, Any]]:
    """The shipped knowledge base: ``[{"title", "text", "facts": [{"kind", "value", "phrase", ...}]}]``."""
    return json.loads((DATA / "kb.json").read_text(encoding="utf-8"))


def _find(name: str, options: list[str], what: str) -> str:
    matches = [option for option in options if option.casefold() == name.strip().casefold()]
    if not matches:
        raise ValueError(f"unknown {what} {name!r} (known: {', '.join(options)})")
    return matches[0]


def lookup_table(table: str, key: str, column: str) -> str:
    """The value in ``column`` of the row ``key`` of a shipped table (names match case-insensitively)."""
    tables = load_tables()
    name = _find(table, list(tables), "table")
    rows = tables[name]["rows"]
    row = rows[_find(key, list(rows), f"key in table {name}")]
    value = row[_find(column, list(tables[name]["columns"]), f"column of table {name}")]
    return value if isinstance(value, str) else format_number(value)


_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset("a an and are as at by for from in is it of on or the to was were what when where which "
                       "who with how did does do".split())


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``, accents removed, without stop words."""
    return [t for t in _TOKEN.findall(fold(text)) if t not in _STOPWORDS]


def fold(text: str) -> str:
    """``text`` lower-cased, accents removed (NFKD, ASCII only)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@functools.cache
def _kb_index() -> tuple[list[tuple[set[str], set[str]]], dict[str, float]]:
    passages = [(set(tokens(p["title"] + " " + p["text"])), set(tokens(p["title"]))) for p in load_kb()]
    counts = Counter(t for words, _ in passages for t in words)
    idf = {t: math.log((1 + len(passages)) / (1 + n)) + 1 for t, n in counts.items()}
    return passages, idf


def search_kb(query: str) -> str:
    """The best passage of the local knowledge base for ``query`` as ``"<title>: <text>"``. Ranking: the
    summed inverse document frequency of the query's words found in a passage, words of its title counting
    twice; ties go to the earlier passage."""
    words = set(tokens(query))
    if not words:
        raise ValueError(f"query {query!r} has no searchable words")
    passages, idf = _kb_index()
    scores = [sum(idf[w] for w in words & body) + sum(idf[w] for w in words & title) for body, title in passages]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    if scores[best] == 0:
        raise ValueError(f"no passage matches {query!r}")
    passage = load_kb()[best]
    return f"{passage['title']}: {passage['text']}"


def make_tools() -> dict[str, StructuredTool]:
    """The shipped tools by name, as LangChain structured tools with typed arguments."""
    tables = load_tables()
    table_help = "; ".join(f"{name} (columns: {', '.join(t['columns'])}; e.g. key {next(iter(t['rows']))!r})"
                           for name, t in tables.items())
    unit_help = ", ".join(f"{symbol} ({dimension})" for symbol, (dimension, _, _) in UNITS.items())
    described: list[tuple[Callable[..., str], str]] = [
        (calculator, "Evaluate an arithmetic expression, e.g. '(3 + 4) * sqrt(2)'. Supports + - * / ** % //, "
                     "parentheses, pi, e, sqrt, round, abs, floor, ceil, log, exp, min, max."),
        (convert_units, f"Convert a value between units of the same dimension. Units: {unit_help}; full names "
                        "such as 'feet' or 'kilograms' work too. Returns the number in to_unit."),
        (date_add, "Add a number of days (negative to subtract) to an ISO date YYYY-MM-DD; returns the ISO date."),
        (days_between, "Count the days from the ISO date start to the ISO date end (negative if end is earlier)."),
        (lookup_table, f"Look up one value in a local table by row key and column. Tables: {table_help}."),
        (search_kb, "Search a small local encyclopedia of landmarks and historical events; returns the best "
                    "matching passage."),
    ]
    return {function.__name__: StructuredTool.from_function(function, description=description)
            for function, description in described}
