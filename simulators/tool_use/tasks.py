"""Executable multi-step tool-use tasks generated from a tool graph, after OpenAGI's RLTF (Ge et al., NeurIPS
2023 Datasets and Benchmarks: tasks solved by chaining tools, rewarded by executing them) and iTool (Zeng et
al. 2025, arXiv 2501.09766: an easy -> medium -> hard curriculum by the number of calls).

**The tool graph** (:func:`tool_graph`). Each tool declares the kinds of value its output can yield
(:data:`OUTPUT_KINDS`) and the kind of each argument (:data:`ARGUMENT_KINDS`); :data:`ACCEPTS` says which
value kinds fill an argument kind. Value kinds: ``number`` (a plain number), ``quantity`` (a number in a unit),
``integer`` (a whole count of days), ``date`` (ISO), ``name`` (a word such as a capital, or a row key of
another table). A lookup's cell and a passage's facts can be several kinds, so those tools yield several.
Arguments of kind ``unit``, ``table``, ``column`` and ``text`` (the search query) come from the request only.
There is an edge u -> v when a kind u yields fills an argument of v; ``slot`` is the first such argument of v
(signature order), ``slots`` all of them.

**Tasks** (:func:`generate_tasks`). easy: one call; medium: a random edge, the second call taking the first's
result; hard: a walk of 3-4 calls, or a join (two independent calls of one predecessor feeding the two
operands of ``calculator`` or the two dates of ``days_between``, sometimes followed by one more call). Each
call is executed as it is built and the next call's argument is the result's text, so ``answer`` is what
running ``calls`` in order gives (after a knowledge-base search, the fact read from the returned passage).
A step is a noun phrase nesting the earlier ones ("the height of Denali in feet"); a seeded template turns
the last phrase into the request. A combination that does not fit (a capital fed to a lookup, a tool error)
is drawn again.

**Hidden facts.** Every third medium and hard task (i = 0, 3, 6, ...) is drawn until a step can leave one
detail out of the request (the target unit, a start date, an end date); the first such step names it vaguely
("in the unit I need", "my start date", "my deadline"), and ``facts`` maps the detail's name to its value,
for the user simulator to reveal when asked. The value never occurs in the request, not even inside a word.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import networkx as nx
from langchain_core.tools import BaseTool

from simulators.tool_use.tools import UNITS, fold, format_number, load_kb, load_tables, make_tools
from workbench.errors import WorkbenchError
from workbench.tool_calls import ToolCall

DIFFICULTIES = ("easy", "medium", "hard")
OUTPUT_KINDS: dict[str, frozenset[str]] = {
    "calculator": frozenset({"number", "quantity"}),  # a quantity when an operand had a unit that survives
    "convert_units": frozenset({"quantity"}),
    "date_add": frozenset({"date"}),
    "days_between": frozenset({"integer", "quantity"}),  # a count of days, also a duration in days
    "lookup_table": frozenset({"name", "number", "quantity"}),
    "search_kb": frozenset({"name", "number", "quantity", "date"}),
}
ARGUMENT_KINDS: dict[str, dict[str, str]] = {
    "calculator": {"expression": "expression"},
    "convert_units": {"value": "quantity", "from_unit": "unit", "to_unit": "unit"},
    "date_add": {"date": "date", "days": "integer"},
    "days_between": {"start": "date", "end": "date"},
    "lookup_table": {"table": "table", "key": "name", "column": "column"},
    "search_kb": {"query": "text"},
}
ACCEPTS: dict[str, frozenset[str]] = {
    "expression": frozenset({"number", "quantity", "integer"}),  # as an operand
    "quantity": frozenset({"quantity"}),
    "integer": frozenset({"integer"}),
    "date": frozenset({"date"}),
    "name": frozenset({"name"}),
    "unit": frozenset(), "table": frozenset(), "column": frozenset(), "text": frozenset(),
}
JOINS: dict[str, tuple[str, str]] = {"calculator": ("expression", "expression"), "days_between": ("start", "end")}
UNIT_NAMES = {
    "m": "metres", "km": "kilometres", "cm": "centimetres", "mm": "millimetres", "mi": "miles", "yd": "yards",
    "ft": "feet", "in": "inches", "kg": "kilograms", "g": "grams", "mg": "milligrams", "t": "tonnes",
    "lb": "pounds", "oz": "ounces", "s": "seconds", "min": "minutes", "h": "hours", "day": "days",
    "week": "weeks", "C": "degrees Celsius", "F": "degrees Fahrenheit", "K": "kelvins"}
TEMPLATES = ("What is {}?", "Can you tell me {}?", "I need {}.", "Please work out {}.",
             "Could you find {} for me?", "Help me figure out {}.")
NO_REPEAT = frozenset({"convert_units"})  # a walk never converts a converted value again (it undoes or composes)
_ATTEMPTS = 500


def tool_graph(tools: Mapping[str, BaseTool]) -> nx.DiGraph:
    """Which tool's output can feed which tool's argument (see the module docstring)."""
    unknown = sorted(set(tools) - set(ARGUMENT_KINDS))
    if unknown:
        raise WorkbenchError(f"tools without declared kinds: {', '.join(unknown)}")
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(tools))
    for u in sorted(tools):
        for v in sorted(tools):
            slots = tuple(s for s, kind in ARGUMENT_KINDS[v].items() if OUTPUT_KINDS[u] & ACCEPTS[kind])
            if slots:
                graph.add_edge(u, v, slot=slots[0], slots=slots)
    return graph


@dataclass(frozen=True)
class ToolTask:
    """One executable task: the request, the ground-truth calls (later calls hold earlier results' values),
    the final answer as text, and the details the request leaves out (``{name: value}``, often empty)."""
    id: str
    difficulty: str
    request: str
    calls: tuple[ToolCall, ...]
    answer: str
    facts: dict[str, str]


@dataclass(frozen=True)
class _Value:
    """What a step yields for the next: its text, the kinds it can fill, how the request refers to it, its unit
    (a key of :data:`UNITS`) and, for a name, the table it keys."""
    text: str
    kinds: frozenset[str]
    phrase: str
    unit: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class _Step:
    call: ToolCall
    value: _Value


class _Builder:
    """Builds the steps of one task with one random generator, executing each call as it goes."""

    def __init__(self, tools: Mapping[str, BaseTool], rng: random.Random, hide: bool) -> None:
        self.tools, self.rng, self.hide = tools, rng, hide
        self.facts: dict[str, str] = {}

    def _run(self, name: str, arguments: dict[str, Any]) -> str | None:
        try:
            return str(self.tools[name].invoke(arguments))
        except ValueError:
            return None

    def _hidden(self, name: str, value: str) -> bool:
        """Whether to leave ``value`` out of the request (once per task); records it as a fact."""
        if not self.hide or self.facts:
            return False
        self.facts[name] = value
        return True

    def _date(self) -> str:
        return (dt.date(1990, 1, 1) + dt.timedelta(days=self.rng.randrange(46 * 365))).isoformat()

    def _days(self) -> int:
        return self.rng.choice((-1, 1, 1, 1)) * self.rng.randint(1, 1000)

    def _step(self, name: str, arguments: dict[str, Any], value: Callable[[str], _Value | None]) -> _Step | None:
        output = self._run(name, arguments)
        result = None if output is None else value(output)
        return None if result is None else _Step(ToolCall(name, arguments), result)

    # first calls: arguments from the request only
    def start(self, name: str) -> _Step | None:
        return getattr(self, f"_start_{name}")()

    def _start_calculator(self) -> _Step | None:
        a, b, c = self.rng.randint(2, 99), self.rng.randint(2, 99), self.rng.randint(2, 20)
        expression = self.rng.choice((f"{a} * {b} + {c}", f"({a} + {b}) / {c}", f"{a} ** 2 - {b}",
                                      f"sqrt({a * b})", f"{a * b} % {c}", f"({a} - {b}) * {c}"))
        return self._step("calculator", {"expression": expression},
                          lambda out: _Value(out, frozenset({"number"}), f"the value of {expression}"))

    def _start_convert_units(self) -> _Step | None:
        dimension = self.rng.choice(("length", "mass", "time", "temperature"))
        source, target = self.rng.sample([u for u, spec in UNITS.items() if spec[0] == dimension], 2)
        value = self.rng.randint(-40, 200) if dimension == "temperature" else self.rng.choice(
            (self.rng.randint(1, 500), round(self.rng.uniform(0.5, 100), 1)))
        amount = f"{format_number(value)} {UNIT_NAMES[source]}"
        phrase = (f"{amount} in the unit I need" if self._hidden("unit", UNIT_NAMES[target])
                  else f"{amount} in {UNIT_NAMES[target]}")
        return self._step("convert_units", {"value": value, "from_unit": source, "to_unit": target},
                          lambda out: _Value(out, frozenset({"quantity"}), phrase, unit=target))

    def _start_date_add(self) -> _Step | None:
        date, days = self._date(), self._days()
        offset = f"{abs(days)} days {'after' if days > 0 else 'before'}"
        phrase = (f"the date {offset} my start date" if self._hidden("start date", date)
                  else f"the date {offset} {date}")
        return self._step("date_add", {"date": date, "days": days},
                          lambda out: _Value(out, frozenset({"date"}), phrase))

    def _start_days_between(self) -> _Step | None:
        start, end = sorted((self._date(), self._date()))
        phrase = (f"the number of days from {start} to my deadline" if self._hidden("end date", end)
                  else f"the number of days from {start} to {end}")
        return self._step("days_between", {"start": start, "end": end}, lambda out: _days_value(out, phrase))

    def _start_lookup_table(self) -> _Step | None:
        tables = load_tables()
        table = self.rng.choice(sorted(tables))
        key = self.rng.choice(sorted(tables[table]["rows"]))
        return self._lookup(table, key, key)

    def _lookup(self, table: str, key: str, key_phrase: str) -> _Step | None:
        column = self.rng.choice(sorted(load_tables()[table]["columns"]))
        spec = load_tables()[table]["columns"][column]
        phrase = spec["phrase"].format(key=key_phrase)
        return self._step("lookup_table", {"table": table, "key": key, "column": column},
                          lambda out: _Value(out, frozenset({spec["kind"]}), phrase, spec.get("unit"),
                                             spec.get("table")))

    def _start_search_kb(self) -> _Step | None:
        passage = self.rng.choice([p for p in load_kb() if p["facts"]])
        fact = self.rng.choice(passage["facts"])

        def read(out: str) -> _Value | None:  # the fact as stated in the passage the search returned
            if not out.startswith(passage["title"] + ":") or not re.search(rf"\b{re.escape(fact['value'])}\b", out):
                return None
            return _Value(fact["value"], frozenset({fact["kind"]}), fact["phrase"], fact.get("unit"),
                          fact.get("table"))
        return self._step("search_kb", {"query": passage["title"]}, read)

    # later calls: one argument from an earlier result
    def follow(self, name: str, slot: str, value: _Value) -> _Step | None:
        if not value.kinds & ACCEPTS[ARGUMENT_KINDS[name][slot]]:
            return None
        return getattr(self, f"_follow_{name}")(slot, value)

    def _follow_calculator(self, slot: str, value: _Value) -> _Step | None:
        x, p, k = _operand(value.text), value.phrase, self.rng.randint(2, 12)
        options = [(f"{x} * {k}", f"{p}, multiplied by {k}", True), (f"{x} / {k}", f"{p}, divided by {k}", True),
                   (f"{x} + {k}", f"{p}, plus {k}", True), (f"{x} - {k}", f"{p}, minus {k}", True),
                   (f"{x} ** 2", f"the square of {p}", False)]
        if float(value.text) >= 0:
            options.append((f"sqrt({x})", f"the square root of {p}", False))
        expression, phrase, keeps_unit = self.rng.choice(options)
        return self._calculate(expression, phrase, value.unit if keeps_unit else None)

    def _calculate(self, expression: str, phrase: str, unit: str | None) -> _Step | None:
        kinds = frozenset({"number", "quantity"} if unit else {"number"})
        return self._step("calculator", {"expression": expression}, lambda out: _Value(out, kinds, phrase, unit))

    def _follow_convert_units(self, slot: str, value: _Value) -> _Step | None:
        if value.unit not in UNITS:
            return None
        target = self.rng.choice([u for u, spec in UNITS.items() if spec[0] == UNITS[value.unit][0]
                                  and u != value.unit])
        phrase = (f"{value.phrase} in the unit I need" if self._hidden("unit", UNIT_NAMES[target])
                  else f"{value.phrase} in {UNIT_NAMES[target]}")
        return self._step("convert_units", {"value": float(value.text), "from_unit": value.unit,
                                            "to_unit": target},
                          lambda out: _Value(out, frozenset({"quantity"}), phrase, unit=target))

    def _follow_date_add(self, slot: str, value: _Value) -> _Step | None:
        if slot == "date":
            days = self._days()
            phrase = f"the date {abs(days)} days {'after' if days > 0 else 'before'} {value.phrase}"
            arguments: dict[str, Any] = {"date": value.text, "days": days}
        else:
            date = self._date()
            shown = "my start date" if self._hidden("start date", date) else date
            phrase = f"the date that is as many days after {shown} as {value.phrase}"
            arguments = {"date": date, "days": int(value.text)}
        return self._step("date_add", arguments, lambda out: _Value(out, frozenset({"date"}), phrase))

    def _follow_days_between(self, slot: str, value: _Value) -> _Step | None:
        other = self._date()
        if slot == "start":
            shown = "my deadline" if self._hidden("end date", other) else other
            phrase, arguments = f"the number of days from {value.phrase} to {shown}", {"start": value.text,
                                                                                       "end": other}
        else:
            shown = "my start date" if self._hidden("start date", other) else other
            phrase, arguments = f"the number of days from {shown} to {value.phrase}", {"start": other,
                                                                                       "end": value.text}
        return self._step("days_between", arguments, lambda out: _days_value(out, phrase))

    def _follow_lookup_table(self, slot: str, value: _Value) -> _Step | None:
        if value.table is None:
            return None
        return self._lookup(value.table, value.text, value.phrase)

    # joins: two independent results feed one call
    def join(self, name: str, a: _Value, b: _Value) -> _Step | None:
        if name == "days_between":
            return self._step("days_between", {"start": a.text, "end": b.text},
                              lambda out: _days_value(out, f"the number of days from {a.phrase} to {b.phrase}"))
        x, y = _operand(a.text), _operand(b.text)
        options = [(f"{x} + {y}", f"the sum of {a.phrase} and {b.phrase}", a.unit),
                   (f"{x} - {y}", f"{a.phrase} minus {b.phrase}", a.unit)]
        if float(b.text) != 0:
            options.append((f"{x} / {y}", f"the ratio of {a.phrase} to {b.phrase}", None))
        return self._calculate(*self.rng.choice(options))


def _days_value(out: str, phrase: str) -> _Value:
    return _Value(out, frozenset({"integer", "quantity"}), phrase, unit="day")


def _operand(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def _same_measure(a: _Step, b: _Step) -> bool:
    """Whether two results of one tool measure the same thing (so that adding or comparing them makes sense)."""
    if a.value.text == b.value.text or a.value.unit != b.value.unit or a.value.kinds != b.value.kinds:
        return False
    if a.call.name == "lookup_table":
        return all(a.call.arguments[k] == b.call.arguments[k] for k in ("table", "column"))
    return True


def _chain(builder: _Builder, graph: nx.DiGraph, length: int) -> list[_Step] | None:
    """A random walk of ``length`` calls along the graph's edges from a random tool; at each call the out-edges
    are tried in a random order until one fits the actual result (a capital fills no lookup key, a plain
    number no unit). A walk that gets stuck starts again from the same tool (up to 20 times), so that every
    tool starts about as many tasks."""
    first = builder.rng.choice(sorted(graph))
    for _ in range(20):
        builder.facts = {}
        step = builder.start(first)
        steps = [] if step is None else [step]
        while steps and len(steps) < length:
            steps = _extend(builder, graph, steps)
        if steps:
            return steps
    return None


def _extend(builder: _Builder, graph: nx.DiGraph, steps: list[_Step]) -> list[_Step]:
    """``steps`` with one more call fed by the last result, or [] when no out-edge fits."""
    u = steps[-1].call.name
    options = [(v, slot) for _, v, data in sorted(graph.out_edges(u, data=True)) for slot in data["slots"]
               if not (u == v and u in NO_REPEAT)]
    builder.rng.shuffle(options)
    step = next((s for s in (builder.follow(v, slot, steps[-1].value) for v, slot in options) if s), None)
    return [] if step is None else [*steps, step]


def _join(builder: _Builder, graph: nx.DiGraph) -> list[_Step] | None:
    """Two calls of one predecessor of a join tool, then the join, then sometimes one more call."""
    target = builder.rng.choice(sorted(JOINS))
    slot_a, slot_b = JOINS[target]
    sources = sorted(u for u in graph.predecessors(target)
                     if {slot_a, slot_b} <= set(graph.edges[u, target]["slots"]))
    source = builder.rng.choice(sources)
    first = builder.start(source)
    if first is None or not first.value.kinds & ACCEPTS[ARGUMENT_KINDS[target][slot_a]]:
        return None
    second = next((s for s in (builder.start(source) for _ in range(50))
                   if s is not None and _same_measure(first, s)), None)
    joined = None if second is None else builder.join(target, first.value, second.value)
    if joined is None:
        return None
    steps = [first, second, joined]
    return (_extend(builder, graph, steps) or steps) if builder.rng.random() < 0.3 else steps


def _build(tools: Mapping[str, BaseTool], graph: nx.DiGraph, difficulty: str, rng: random.Random,
           hide: bool) -> tuple[list[_Step], dict[str, str]] | None:
    builder = _Builder(tools, rng, hide)
    if difficulty == "easy":
        steps = _chain(builder, graph, 1)
    elif difficulty == "medium":
        steps = _chain(builder, graph, 2)
    elif rng.random() < 0.5:
        steps = _chain(builder, graph, rng.choice((3, 4)))
    else:
        steps = _join(builder, graph)
    return None if steps is None else (steps, builder.facts)


def _request(steps: list[_Step], rng: random.Random) -> str:
    last = steps[-1].value
    phrase = last.phrase
    if last.unit in UNIT_NAMES and steps[-1].call.name in ("calculator", "lookup_table", "search_kb"):
        phrase += f" (in {UNIT_NAMES[last.unit]})"
    text = rng.choice(TEMPLATES).format(phrase)
    return text[0].upper() + text[1:]


def mentions(text: str, value: str) -> bool:
    """Whether ``value`` occurs in ``text`` as whole words (case and accents ignored; ISO dates are one word)."""
    words, needle = _words(text), _words(value)
    return bool(needle) and any(words[i:i + len(needle)] == needle for i in range(len(words) - len(needle) + 1))


def _words(text: str) -> list[str]:
    return re.findall(r"\d{4}-\d{2}-\d{2}|[a-z0-9]+", fold(text))


def generate_tasks(n: int, difficulty: str, seed: int, tools: Mapping[str, BaseTool] | None = None
                   ) -> list[ToolTask]:
    """``n`` distinct tasks of one difficulty, the same for the same seed (tools: :func:`make_tools` by
    default)."""
    if difficulty not in DIFFICULTIES:
        raise WorkbenchError(f"unknown difficulty {difficulty!r} (expected one of {', '.join(DIFFICULTIES)})")
    tools = make_tools() if tools is None else tools
    graph = tool_graph(tools)
    tasks: list[ToolTask] = []
    seen: set[str] = set()
    for i in range(n):
        hide = difficulty != "easy" and i % 3 == 0
        for attempt in range(_ATTEMPTS):
            rng = random.Random(f"{seed}:{difficulty}:{i}:{attempt}")
            built = _build(tools, graph, difficulty, rng, hide)
            if built is None:
                continue
            steps, facts = built
            request = _request(steps, rng)
            if request in seen or hide != bool(facts) or any(fold(v) in fold(request) for v in facts.values()):
                continue
            seen.add(request)
            tasks.append(ToolTask(id=f"tool-{difficulty}-{seed}-{i}", difficulty=difficulty, request=request,
                                  calls=tuple(step.call for step in steps), answer=steps[-1].value.text,
                                  facts=facts))
            break
        else:
            raise WorkbenchError(f"could not generate {difficulty} task {i} for seed {seed} "
                                 f"in {_ATTEMPTS} attempts")
    return tasks


_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_MONTHS = "january february march april may june july august september october november december".split()
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ({'|'.join(_MONTHS)}),? (\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b({'|'.join(_MONTHS)}) (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b")


def answer_matches(text: str, task: ToolTask, rel_tol: float = 1e-3) -> bool:
    """Whether ``text`` states the task's answer: for a number, the *last* number in the text within ``rel_tol``
    (thousands separators and a leading minus read); for a date, the last date in the text written as ISO,
    "5 March 2024" or "March 5, 2024"; otherwise the answer's words, in order, among the text's words. Only the
    last number or date counts (as GSM8K-style graders do), so a reply listing many candidates does not pass."""
    answer = task.answer.strip()
    if _ISO_DATE.fullmatch(answer):
        dates = _dates(text)
        return bool(dates) and dates[-1] == dt.date.fromisoformat(answer)
    try:
        target = float(answer)
    except ValueError:
        return mentions(text, answer)
    numbers = [float(m.group().replace(",", "")) for m in _NUMBER.finditer(text.replace("\u2212", "-"))]
    return bool(numbers) and math.isclose(numbers[-1], target, rel_tol=rel_tol, abs_tol=1e-9)


def _dates(text: str) -> list[dt.date]:
    """The valid dates written in ``text``, in the order they appear."""
    folded = text.lower()
    found = [(m.start(), int(m[1]), int(m[2]), int(m[3])) for m in _ISO_DATE.finditer(folded)]
    found += [(m.start(), int(m[3]), _MONTHS.index(m[2]) + 1, int(m[1])) for m in _DAY_MONTH_YEAR.finditer(folded)]
    found += [(m.start(), int(m[3]), _MONTHS.index(m[1]) + 1, int(m[2])) for m in _MONTH_DAY_YEAR.finditer(folded)]
    dates = []
    for _, y, m, d in sorted(found):
        try:
            dates.append(dt.date(y, m, d))
        except ValueError:
            continue
    return dates
