"""BFCL v4 loader and AST checker (simulators/tool_use): every shared answer passes, every mutation fails,
and BFCL's rules hold on small hand-written cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.tool_use.ast_checker import (MUTATIONS, Call, check, mutate, mutation_table, normalise,
                                             reference_calls)
from simulators.tool_use.bfcl import CATEGORIES, BfclItem, load_items, split_by_id
from workbench.errors import WorkbenchError

SIZES = {"simple_python": 240, "multiple": 120, "parallel": 120, "parallel_multiple": 120, "irrelevance": 144}


@pytest.fixture(scope="module")
def items() -> list[BfclItem]:
    return [item for category in CATEGORIES for item in load_items(category)]


def test_shared_files_load(items: list[BfclItem]) -> None:
    by_category = {c: [i for i in items if i.category == c] for c in CATEGORIES}
    assert {c: len(found) for c, found in by_category.items()} == SIZES
    assert all(i.question and i.functions for i in items)
    assert all(i.ground_truth is None for i in by_category["irrelevance"])
    assert all(len(i.ground_truth) == 1 for c in ("simple_python", "multiple") for i in by_category[c])


def test_every_ground_truth_passes_in_both_orders(items: list[BfclItem]) -> None:
    for item in items:
        calls = reference_calls(item)
        for order in (calls, calls[::-1]):
            verdict = check(order, item.functions, item.ground_truth, item.category)
            assert verdict.valid, (item.id, verdict)


def test_answers_naming_undeclared_arguments_are_the_two_known(items: list[BfclItem]) -> None:
    """reference_calls leaves these out: given, BFCL rejects them as unexpected arguments."""
    undeclared = set()
    for item in items:
        schemas = {f["name"]: f["parameters"]["properties"] for f in item.functions}
        for entry in item.ground_truth or []:
            (name, accepted), = entry.items()
            undeclared |= {(item.id, param) for param, values in accepted.items()
                           if param not in schemas[name] and "" in values}
    assert undeclared == {("parallel_multiple_12", "permeability"), ("parallel_multiple_26", "type")}


def test_every_mutation_fails(items: list[BfclItem]) -> None:
    table = mutation_table(items)
    print("\nkind                    items mutated failed expected_kind")
    for kind, row in table.items():
        print(f"{kind:22s} {row['items']:6d} {row['mutated']:7d} {row['failed']:6d} {row['expected_kind']:13d}")
    assert list(table) == list(MUTATIONS)
    for kind, row in table.items():
        assert row["failed"] == row["expected_kind"] == row["mutated"], kind
        assert row["mutated"] >= 0.95 * row["items"], kind
    assert table["called_when_irrelevant"]["items"] == SIZES["irrelevance"]


def test_mutate_rejects_an_unknown_kind(items: list[BfclItem]) -> None:
    with pytest.raises(WorkbenchError, match="unknown mutation"):
        mutate(items[0], "typo")


# Hand-written cases --------------------------------------------------------------------------------------

WEATHER = {"name": "weather.get", "parameters": {"type": "dict", "required": ["city"], "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "scale": {"type": "float"},
    "tags": {"type": "array", "items": {"type": "string"}}, "metric": {"type": "boolean"},
    "box": {"type": "dict"}}}}


def one(arguments: dict, accepted: dict, name: str = "weather.get"):
    return check([Call(name, arguments)], [WEATHER], [{"weather.get": accepted}], "simple_python")


def test_strings_are_normalised_as_bfcl_does() -> None:
    assert normalise("April 1, 2024") == normalise("april 1,2024") == "april12024"
    assert normalise("Los-Angeles_CA./*^") == "losangelesca"
    assert one({"city": "NEW YORK, ny"}, {"city": ["New York NY"]}).valid
    assert one({"city": "Boston"}, {"city": ["New York NY"]}).kind == "value_not_allowed"
    assert one({"city": "x", "tags": ["Sunny Day", "wind-y"]}, {"city": ["x"], "tags": [["sunnyday", "windy"]]}).valid
    assert not one({"city": "x", "tags": ["windy", "sunnyday"]}, {"city": ["x"], "tags": [["sunnyday", "windy"]]}).valid


def test_types() -> None:
    accepted = {"city": ["x"], "scale": [5.0], "days": [3], "metric": [True]}
    assert one({"city": "x", "scale": 5, "days": 3, "metric": True}, accepted).valid  # an int for a float
    assert one({"city": "x", "scale": 5.0, "days": "3", "metric": True}, accepted).kind == "wrong_type"
    assert one({"city": "x", "scale": 5.0, "days": True, "metric": True}, accepted).kind == "wrong_type"
    assert one({"city": "x", "scale": 5.0, "days": 3.0, "metric": True}, accepted).kind == "wrong_type"
    assert one({"city": "x", "tags": ["a", 1]}, {"city": ["x"], "tags": [["a", "b"]]}).kind == "wrong_type"
    # BFCL's variable rule: the answer names a variable where the schema wants a number
    assert one({"city": "x", "days": "n_days"}, {"city": ["x"], "days": ["n_days"]}).valid


def test_dicts_are_compared_key_by_key() -> None:
    accepted = {"city": ["x"], "box": [{"w": [2, 3], "unit": ["Metres", ""]}]}
    assert one({"city": "x", "box": {"w": 3, "unit": "metres"}}, accepted).valid
    assert one({"city": "x", "box": {"w": 2}}, accepted).valid
    assert one({"city": "x", "box": {"w": 4}}, accepted).kind == "value_not_allowed"
    assert one({"city": "x", "box": {"w": 2, "h": 1}}, accepted).kind == "value_not_allowed"


def test_arguments_given_and_left_out() -> None:
    assert one({"city": "x"}, {"city": ["x"], "days": ["", 3]}).valid
    assert one({"city": "x"}, {"city": ["x"], "days": [3]}).kind == "missing_optional"
    assert one({"days": 3}, {"city": ["x"], "days": [3]}).kind == "missing_required"
    assert one({"city": "x", "days": 3}, {"city": ["x"]}).kind == "unexpected_argument"
    assert one({"city": "x", "hour": 3}, {"city": ["x"]}).kind == "unexpected_argument"


def test_names_and_counts() -> None:
    assert one({"city": "x"}, {"city": ["x"]}, name="weather_get").valid  # "." written "_"
    assert one({"city": "x"}, {"city": ["x"]}, name="weather").kind == "wrong_name"
    calls = [Call("weather.get", {"city": "x"})] * 2
    assert check(calls, [WEATHER], [{"weather.get": {"city": ["x"]}}], "multiple").kind == "wrong_count"
    assert check([], [WEATHER], None, "irrelevance").valid
    assert check(calls[:1], [WEATHER], None, "irrelevance").kind == "called_when_irrelevant"
    with pytest.raises(WorkbenchError, match="unknown BFCL category"):
        check(calls, [WEATHER], None, "live_simple")


def test_parallel_is_order_free_and_finds_a_matching_where_greedy_fails() -> None:
    truth = [{"weather.get": {"city": ["NY", "LA"]}}, {"weather.get": {"city": ["NY"]}}]
    ny, la = Call("weather.get", {"city": "NY"}), Call("weather.get", {"city": "LA"})
    assert check([ny, la], [WEATHER], truth, "parallel").valid  # greedy would give NY to the first entry
    assert check([la, ny], [WEATHER], truth, "parallel").valid
    assert check([ny, ny], [WEATHER], truth, "parallel").valid  # the first entry accepts NY too
    verdict = check([la, la], [WEATHER], truth, "parallel")
    assert not verdict.valid and verdict.kind == "value_not_allowed"
    assert check([ny], [WEATHER], truth, "parallel").kind == "wrong_count"


# Loading ------------------------------------------------------------------------------------------------

ROW = {"id": "simple_python_0", "question": [[{"role": "user", "content": "Weather in Paris?"}]],
       "function": [WEATHER]}
ANSWER = {"id": "simple_python_0", "ground_truth": [{"weather.get": {"city": ["Paris"]}}]}


def write(folder: Path, items: list[str], answers: list[str]) -> None:
    (folder / "possible_answer").mkdir(exist_ok=True)
    (folder / "BFCL_v4_simple_python.json").write_text("\n".join(items) + "\n")
    (folder / "possible_answer" / "BFCL_v4_simple_python.json").write_text("\n".join(answers) + "\n")


def test_a_folder_loads(tmp_path: Path) -> None:
    write(tmp_path, [json.dumps(ROW)], [json.dumps(ANSWER)])
    [item] = load_items("simple_python", tmp_path)
    assert (item.id, item.question, item.ground_truth) == ("simple_python_0", "Weather in Paris?",
                                                          ANSWER["ground_truth"])


@pytest.mark.parametrize("items, answers, where, problem", [
    ([json.dumps(ROW), "{not json"], [json.dumps(ANSWER)], "BFCL_v4_simple_python.json:2", "malformed JSON"),
    ([json.dumps({**ROW, "function": "f"})], [json.dumps(ANSWER)], "BFCL_v4_simple_python.json:1", "'function'"),
    ([json.dumps(ROW)], ["", json.dumps({**ANSWER, "ground_truth": [{"nope": {}}]})],
     "possible_answer/BFCL_v4_simple_python.json:2", "does not offer"),
    ([json.dumps(ROW)], [json.dumps({**ANSWER, "id": "other"})], "possible_answer/BFCL_v4_simple_python.json:1",
     "unknown item"),
])
def test_a_malformed_file_names_file_and_line(tmp_path: Path, items: list[str], answers: list[str], where: str,
                                              problem: str) -> None:
    write(tmp_path, items, answers)
    with pytest.raises(WorkbenchError) as caught:
        load_items("simple_python", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and f"{tmp_path}/{where}:" in message and problem in message


def test_unknown_category_and_missing_answers(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="unknown BFCL category 'live_simple'.*simple_python"):
        load_items("live_simple", tmp_path)
    write(tmp_path, [json.dumps(ROW)], [])
    with pytest.raises(WorkbenchError, match="no answer for 1 item"):
        load_items("simple_python", tmp_path)


def test_split_by_id_is_stable(items: list[BfclItem]) -> None:
    kept, heldout = split_by_id(items, 0.25, seed=7)
    assert (kept, heldout) == split_by_id(items, 0.25, seed=7)
    assert len(kept) + len(heldout) == len(items) and 0.2 < len(heldout) / len(items) < 0.3
    assert split_by_id(items[:100], 0.25, seed=7)[1] == [i for i in heldout if i in items[:100]]
    assert split_by_id(items, 0.25, seed=8)[1] != heldout
    with pytest.raises(WorkbenchError, match="heldout_share"):
        split_by_id(items, 1.5, seed=7)
