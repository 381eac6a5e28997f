"""The shipped executable tools, the tool graph and the generated multi-step tasks (simulators.tool_use)."""

from __future__ import annotations

import inspect
import math

import pytest

from simulators.tool_use.tasks import (ACCEPTS, ARGUMENT_KINDS, DIFFICULTIES, OUTPUT_KINDS, UNIT_NAMES, ToolTask,
                                       answer_matches, generate_tasks, mentions, tool_graph)
from simulators.tool_use.tools import (calculator, convert_units, date_add, days_between, format_number,
                                       load_kb, load_tables, lookup_table, make_tools, search_kb)
from workbench.errors import WorkbenchError
from workbench.tool_calls import ToolCall
from workbench.tool_sandbox import run_calls, run_tool

TOOLS = make_tools()


@pytest.mark.parametrize("expression, expected", [
    ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("2 ** 10", "1024"), ("7 / 2", "3.5"), ("7 // 2", "3"),
    ("7 % 3", "1"), ("-3 + +1", "-2"), ("sqrt(16) + abs(-2)", "6"), ("round(2.567, 2)", "2.57"),
    ("max(1, 5, 3)", "5"), ("1 / 3", "0.3333333333"), ("2 * pi", "6.283185307"), ("1e3 * 2", "2000"),
])
def test_calculator_evaluates_arithmetic(expression, expected):
    assert calculator(expression) == expected


@pytest.mark.parametrize("expression, message", [
    ("__import__('os').system('true')", "unsupported element"), ("open('x')", "unsupported element"),
    ("(1).real", "unsupported element"), ("x + 1", "unsupported element"), ("[1, 2]", "unsupported element"),
    ("'a' * 3", "unsupported element"), ("True + 1", "unsupported element"), ("1 +", "not an arithmetic"),
    ("1 / 0", "division by zero"), ("5 % 0", "division by zero"), ("9 ** 9999", "too large"),
    ("9 ** 999 ** 999", "too large"), ("sqrt(-1)", "sqrt: math domain error"), ("1e308 * 10", "not a finite"),
    ("(-8) ** 0.5", "not a real number"), ("1" * 501, "longer than"), ("min()", "unsupported element"),
])
def test_calculator_rejects_everything_else_with_one_line(expression, message):
    with pytest.raises(ValueError, match=message) as error:
        calculator(expression)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value, source, target, expected", [
    (1, "mi", "km", 1.609344), (100, "C", "F", 212), (0, "K", "C", -273.15), (32, "fahrenheit", "celsius", 0),
    (6190, "metres", "feet", 6190 / 0.3048), (1, "lb", "g", 453.59237), (2, "week", "h", 336), (90, "min", "s", 5400),
    (12, "in", "ft", 1), (1.5, "tonnes", "kg", 1500),
])
def test_convert_units(value, source, target, expected):
    assert math.isclose(float(convert_units(value, source, target)), expected, rel_tol=1e-9)


@pytest.mark.parametrize("source, target, message", [
    ("furlong", "m", "unknown unit 'furlong'"), ("m", "kg", "cannot convert length"),
    ("C", "s", "cannot convert temperature"),
])
def test_convert_units_rejects_unknown_and_incompatible_units(source, target, message):
    with pytest.raises(ValueError, match=message):
        convert_units(1, source, target)
    with pytest.raises(ValueError, match="below absolute zero"):
        convert_units(-300, "C", "K")


def test_date_tools():
    assert date_add("2024-02-28", 2) == "2024-03-01"  # leap year
    assert date_add("2023-02-28", 1) == "2023-03-01"
    assert date_add("2024-01-10", -10) == "2023-12-31"
    assert days_between("2024-01-01", "2025-01-01") == "366"
    assert days_between("2024-03-01", "2024-02-01") == "-29"
    for call in (lambda: date_add("01/02/2024", 1), lambda: days_between("2024-01-01", "tomorrow"),
                 lambda: date_add("2024-02-30", 1)):
        with pytest.raises(ValueError, match="is not an ISO date"):
            call()
    with pytest.raises(ValueError, match="out of the supported range"):
        date_add("9999-12-31", 1)


def test_lookup_table_reads_shipped_tables_case_insensitively():
    assert lookup_table("countries", "France", "capital") == "Paris"
    assert lookup_table("Mountains", "denali", "HEIGHT_M") == "6190"
    assert lookup_table("elements", "gold", "atomic_number") == "79"
    assert lookup_table("elements", "iron", "atomic_mass") == "55.845"
    for args, message in [(("planets", "Mars", "mass"), "unknown table 'planets'"),
                          (("countries", "Atlantis", "capital"), "unknown key in table countries 'Atlantis'"),
                          (("countries", "France", "mayor"), "unknown column of table countries 'mayor'")]:
        with pytest.raises(ValueError, match=message):
            lookup_table(*args)


def test_tables_are_small_and_linked():
    tables = load_tables()
    assert set(tables) == {"countries", "mountains", "elements"}
    for table in tables.values():
        assert 20 <= len(table["rows"]) <= 30
        assert all(set(row) == set(table["columns"]) for row in table["rows"].values())
    countries = tables["countries"]["rows"]
    assert all(row["country"] in countries for row in tables["mountains"]["rows"].values())


def test_search_kb_ranks_passages_by_overlap():
    assert search_kb("Eiffel Tower").startswith("Eiffel Tower: ")
    assert search_kb("When did the lunar module land on the Moon?").startswith("Apollo 11: ")
    assert search_kb("how tall is the TOKYO skytree").startswith("Tokyo Skytree: ")
    with pytest.raises(ValueError, match="no searchable words"):
        search_kb("what is the")
    with pytest.raises(ValueError, match="no passage matches"):
        search_kb("zyxwv qwerty")


def test_knowledge_base_facts_are_stated_and_found_by_title():
    kb = load_kb()
    assert 25 <= len(kb) <= 35
    for passage in kb:
        found = search_kb(passage["title"])
        for fact in passage["facts"]:
            assert fact["value"] in passage["text"]
            assert found == f"{passage['title']}: {passage['text']}"
            if fact.get("table"):
                assert fact["value"] in load_tables()[fact["table"]]["rows"]


def test_tools_are_structured_with_declared_arguments_and_fail_cleanly_in_the_sandbox():
    assert set(TOOLS) == set(ARGUMENT_KINDS) == set(OUTPUT_KINDS)
    for name, tool in TOOLS.items():
        assert list(tool.args) == list(ARGUMENT_KINDS[name]), name
        assert tool.description and inspect.getdoc(tool.func)
    ok = run_tool(TOOLS["convert_units"], {"value": 10, "from_unit": "km", "to_unit": "m"})
    assert ok.ok and ok.output == "10000"
    bad = run_tool(TOOLS["calculator"], {"expression": "1/0"})
    assert not bad.ok and bad.error == "ValueError: division by zero"
    invalid = run_tool(TOOLS["date_add"], {"date": "2024-01-01", "days": "many"})
    assert not invalid.ok and invalid.error.startswith("invalid arguments: days")


def test_tool_graph_edges_are_exactly_the_type_consistent_pairs():
    graph = tool_graph(TOOLS)
    assert set(graph.nodes) == set(TOOLS)
    for u in TOOLS:
        for v in TOOLS:
            fits = [s for s, kind in ARGUMENT_KINDS[v].items() if OUTPUT_KINDS[u] & ACCEPTS[kind]]
            if fits:
                assert graph.edges[u, v]["slots"] == tuple(fits) and graph.edges[u, v]["slot"] == fits[0]
            else:
                assert not graph.has_edge(u, v)
    assert graph.edges["lookup_table", "convert_units"]["slot"] == "value"
    assert graph.edges["date_add", "days_between"]["slots"] == ("start", "end")
    assert graph.edges["days_between", "date_add"]["slot"] == "days"
    assert graph.edges["search_kb", "lookup_table"]["slot"] == "key"
    assert graph.in_degree("search_kb") == 0 and not graph.has_edge("calculator", "date_add")
    with pytest.raises(WorkbenchError, match="tools without declared kinds: weather"):
        tool_graph({**TOOLS, "weather": TOOLS["calculator"]})


CALLS = {"easy": {1}, "medium": {2}, "hard": {3, 4}}


@pytest.fixture(scope="module")
def tasks() -> dict[str, list[ToolTask]]:
    return {d: generate_tasks(12, d, seed=7) for d in DIFFICULTIES}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_generated_tasks_have_the_right_shape_and_are_seeded(tasks, difficulty):
    batch = tasks[difficulty]
    assert [t.id for t in batch] == [f"tool-{difficulty}-7-{i}" for i in range(12)]
    assert {len(t.calls) for t in batch} <= CALLS[difficulty]
    assert len({t.request for t in batch}) == len(batch)
    assert all(t.difficulty == difficulty and t.request.strip() and t.answer for t in batch)
    assert generate_tasks(12, difficulty, seed=7) == batch
    assert generate_tasks(12, difficulty, seed=8) != batch
    if difficulty == "hard":
        assert len({c.name for t in batch for c in t.calls}) >= 4


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_ground_truth_calls_reproduce_the_answer_in_the_sandbox(tasks, difficulty):
    for task in tasks[difficulty][:8]:
        results = run_calls(TOOLS, list(task.calls))
        assert all(r.ok for r in results), (task, results)
        outputs = [r.output for r in results]
        if task.calls[-1].name == "search_kb":
            assert mentions(outputs[-1], task.answer)
        else:
            assert outputs[-1] == task.answer
        # the calls form a chain or a join: every result but the last feeds a later call, and only the first
        # call and a join's second operand take nothing from an earlier one
        feeds = {(j, i) for i, call in enumerate(task.calls) for j in range(i)
                 if any(_fed(outputs[j], _text(v)) for v in call.arguments.values())}
        assert all(any(j == k for j, _ in feeds) for k in range(len(task.calls) - 1)), task
        sources = [i for i in range(len(task.calls)) if not any(b == i for _, b in feeds)]
        assert sources in ([0], [0, 1]), task


def _text(value: object) -> str:
    return format_number(value) if isinstance(value, float) else str(value)


def _fed(output: str, argument: str) -> bool:
    """Whether an argument holds an earlier output (or, after a search, a fact of the passage)."""
    return output in argument or mentions(output, argument)


def test_hidden_facts_in_every_third_medium_and_hard_task(tasks):
    assert not any(t.facts for t in tasks["easy"])
    for difficulty in ("medium", "hard"):
        for i, task in enumerate(tasks[difficulty]):
            assert bool(task.facts) == (i % 3 == 0)
            for name, value in task.facts.items():
                assert name in {"unit", "start date", "end date"} and len(task.facts) == 1
                assert value.lower() not in task.request.lower() and not mentions(task.request, value)
                assert _in_calls(task, name, value)


def _in_calls(task: ToolTask, fact: str, value: str) -> bool:
    """Whether a ground-truth call holds the hidden value in the argument the fact names."""
    keys = {"unit": ("to_unit",), "start date": ("date", "start"), "end date": ("end",)}[fact]
    return any(UNIT_NAMES.get(call.arguments.get(k), call.arguments.get(k)) == value
               for call in task.calls for k in keys)


def test_unknown_difficulty_is_one_line_error():
    with pytest.raises(WorkbenchError, match=r"^unknown difficulty 'expert' \(expected one of easy, medium, hard\)$"):
        generate_tasks(3, "expert", seed=0)


def _task(answer: str) -> ToolTask:
    return ToolTask(id="t", difficulty="easy", request="?", calls=(ToolCall("calculator", {"expression": "1"}),),
                    answer=answer, facts={})


@pytest.mark.parametrize("answer, text, expected", [
    ("28251.31234", "It is about 28,251.3 feet.", True), ("28251.31234", "28251", True),
    ("28251.31234", "roughly 28300 ft", False), ("-33.88888889", "That is −33.9 °C.", True),
    ("-33.88888889", "That is 33.9 degrees.", False), ("1946.34098", "1.94634098e3", True),
    ("0", "The remainder is 0.", True), ("0", "The remainder is 1.", False), ("47", "no number here", False),
    ("1914-08-15", "It opened on 1914-08-15.", True), ("1914-08-15", "on 15 August 1914", True),
    ("1914-08-15", "On August 15th, 1914.", True), ("1914-08-15", "on 16 August 1914", False),
    ("1914-08-15", "in 1914", False), ("Tanzanian shilling", "It uses the Tanzanian Shilling.", True),
    ("Tanzanian shilling", "the Kenyan shilling", False), ("Brasília", "The capital is Brasilia.", True),
    ("Paris", "Parisian", False),
    # only the last number or date stated counts: listing candidates does not pass
    ("47", "47", True), ("47", "It is 46, 47 or 48.", False), ("47", "Between 40 and 50: 47.", True),
    ("1914-08-15", "1914-08-15 or 1914-08-16", False),
])
def test_answer_matches(answer, text, expected):
    assert answer_matches(text, _task(answer)) is expected


def test_answer_matches_generated_answers_stated_in_prose(tasks):
    for task in tasks["hard"] + tasks["medium"]:
        assert answer_matches(f"After the calls, the result is {task.answer}.", task)
        assert not answer_matches("I could not work it out.", task)
