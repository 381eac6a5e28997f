"""BFCL's AST check of function calls (Patil et al., "The Berkeley Function Calling Leaderboard", 2024/2025;
the rules of ``bfcl_eval/eval_checker/ast_eval/ast_checker.py``, Python language, reimplemented).

A model's answer is a list of calls ``(name, arguments)``; :func:`check` compares it with an item's allowed
answers. Decisions where BFCL leaves a choice or has a quirk:

* Names: a call names the expected function exactly, or with every ``.`` replaced by ``_`` (BFCL applies the
  replacement for models whose APIs forbid dots, such as OpenAI's; here both spellings are accepted for every
  model, and no two functions of the shared data differ only in that way).
* Parallel categories: the calls must admit a one-to-one, order-free matching to the ground-truth entries in
  which every pair passes the single-call check. BFCL matches greedily (each entry takes the first unused
  call that passes), which can miss a matching that exists; here a maximum bipartite matching is used.
* Types follow BFCL's exact ``type()`` comparison (``True`` is not an integer); an int is accepted for a float
  argument but, as in BFCL, not for the items of an array of floats. BFCL's *variable* rule is kept: where the
  accepted values (their first one that is not ``""``) have another type than the schema names (the answer
  refers to a variable, e.g. ``"data['sales']"`` for an array), a value of their type passes the type check
  and values are compared exactly, without string normalisation.
* As in BFCL's list checkers, ``""`` among the accepted values of an array also accepts the empty list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence

from simulators.tool_use.bfcl import CATEGORIES, NO_ANSWER, BfclItem
from workbench.errors import WorkbenchError

# BFCL's PYTHON_TYPE_MAPPING, with "object" as another name of "dict".
TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list,
                          "tuple": list, "dict": dict, "object": dict, "any": str}
OMITTED = ""  # among the accepted values: the argument may be left out
_PUNCTUATION = re.compile(r"[ ,./\-_*^]")

MUTATIONS = ("wrong_name", "missing_required", "wrong_type", "value_not_allowed", "extra_call",
             "called_when_irrelevant")
EXPECTED_KIND = {"wrong_name": "wrong_name", "missing_required": "missing_required", "wrong_type": "wrong_type",
                 "value_not_allowed": "value_not_allowed", "extra_call": "wrong_count",
                 "called_when_irrelevant": "called_when_irrelevant"}


class Call(NamedTuple):
    """One function call of a model's answer."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right; if not, a short error ``kind`` and a one-line ``message``."""

    valid: bool
    kind: str | None = None
    message: str | None = None


RIGHT = Verdict(True)


def _wrong(kind: str, message: str) -> Verdict:
    return Verdict(False, kind, message)


def check(calls: Sequence[tuple[str, Mapping[str, Any]]], functions: Sequence[Mapping[str, Any]],
          ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]] | None, category: str) -> Verdict:
    """BFCL's ``ast_checker``: ``irrelevance`` is right with no call; ``parallel*`` needs as many calls as
    ground-truth entries, matched in any order; ``simple*`` and ``multiple`` need exactly one call, checked
    against the one entry."""
    if category not in CATEGORIES:
        raise WorkbenchError(f"unknown BFCL category {category!r} (expected one of {', '.join(CATEGORIES)})")
    if category == NO_ANSWER:
        return RIGHT if not calls else _wrong("called_when_irrelevant",
                                              f"{len(calls)} call(s) where no offered function fits")
    if ground_truth is None:
        raise WorkbenchError(f"category {category!r} needs a ground truth")
    if len(calls) != len(ground_truth):
        return _wrong("wrong_count", f"{len(calls)} call(s), expected {len(ground_truth)}")
    if category.startswith("parallel"):
        return _check_parallel(calls, functions, ground_truth)
    return check_call(calls[0], functions, ground_truth[0])


def check_call(call: tuple[str, Mapping[str, Any]], functions: Sequence[Mapping[str, Any]],
               entry: Mapping[str, Mapping[str, list[Any]]]) -> Verdict:
    """BFCL's ``simple_function_checker``: the name, then required arguments, then each given argument (in the
    schema and in the answer, of the right type, an accepted value), then answer arguments left out (only
    when ``""`` is accepted)."""
    (expected, accepted), = entry.items()
    name, arguments = call
    if not names_match(name, expected):
        return _wrong("wrong_name", f"called {name!r}, expected {expected!r}")
    schema = _schema(functions, expected)
    properties = schema["parameters"]["properties"]
    for param in schema["parameters"].get("required", []):
        if param not in arguments:
            return _wrong("missing_required", f"{expected}: required argument {param!r} missing")
    for param, value in arguments.items():
        if param not in properties or param not in accepted:
            return _wrong("unexpected_argument", f"{expected}: unexpected argument {param!r}")
        verdict = check_value(param, value, properties[param], accepted[param])
        if not verdict.valid:
            return verdict
    for param, values in accepted.items():
        if param not in arguments and OMITTED not in values:
            return _wrong("missing_optional", f"{expected}: optional argument {param!r} is needed here")
    return RIGHT


def names_match(name: str, expected: str) -> bool:
    """The expected name, or it with ``.`` written ``_`` (BFCL's ``convert_func_name``)."""
    return name == expected or name == expected.replace(".", "_")


def _schema(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for function in functions:
        if function["name"] == name:
            return function
    raise WorkbenchError(f"the ground truth calls {name!r}, which is not among the offered functions")


def check_value(param: str, value: Any, spec: Mapping[str, Any], accepted: list[Any]) -> Verdict:
    """BFCL's ``type_checker`` then, unless the answers are variables (compared with ``==``), its value
    checkers: strings normalised, lists element-wise, dicts key by key, lists of dicts entry by entry, else
    ``==`` (numbers as numbers)."""
    kind = spec["type"]
    if kind not in TYPES:
        raise WorkbenchError(f"argument {param!r} has schema type {kind!r}, which BFCL does not know")
    if kind == "tuple" and type(value) is tuple:
        value = list(value)
    if kind == "float" and type(value) is int:
        value = float(value)
    if not type_ok(value, spec, accepted):
        return _wrong("wrong_type", f"argument {param!r} is {type(value).__name__} {value!r}, "
                                    f"expected {kind}")
    if _answer_type(accepted) in (None, TYPES[kind]):
        item_kind = spec.get("items", {}).get("type") if kind in ("array", "tuple") else None
        if kind in ("dict", "object"):
            allowed = any(_dict_ok(value, answer) for answer in accepted if isinstance(answer, dict))
        elif item_kind in ("dict", "object"):
            allowed = any(_dict_list_ok(value, answer) for answer in _lists(accepted))
        elif kind == "string":
            allowed = normalise(value) in [normalise(a) for a in accepted if type(a) is str]
        elif kind in ("array", "tuple"):
            allowed = _normalise_list(value) in [_normalise_list(a) for a in _lists(accepted)]
        else:
            allowed = value in accepted
    else:  # the answers are variables: compared as they are
        allowed = value in accepted
    return RIGHT if allowed else _wrong("value_not_allowed", f"argument {param!r} = {value!r} is not one of "
                                                             f"{[a for a in accepted if a != OMITTED]!r}")


def _lists(accepted: list[Any]) -> list[list[Any]]:
    """The accepted lists, ``""`` read as the empty list (as BFCL's list checkers read it)."""
    return [answer if isinstance(answer, list) else [] for answer in accepted
            if isinstance(answer, list) or answer == OMITTED]


def type_ok(value: Any, spec: Mapping[str, Any], accepted: list[Any]) -> bool:
    """BFCL's ``type_checker`` (Python): the schema's type exactly (for arrays and tuples, the items of one
    accepted list also match the item type, one level deep), or the accepted values' type (a variable)."""
    expected = TYPES[spec["type"]]
    if type(value) is expected:
        item_kind = spec.get("items", {}).get("type") if spec["type"] in ("array", "tuple") else None
        lists = [answer for answer in accepted if isinstance(answer, list)]
        if item_kind is None or not lists:
            return True
        return any(all(_item_type_ok(item, TYPES[item_kind], answer) for item in value) for answer in lists)
    return type(value) is _answer_type(accepted)


def _item_type_ok(item: Any, expected: type, answer: list[Any]) -> bool:
    return type(item) is expected or type(item) is _answer_type(answer)


def _answer_type(accepted: list[Any]) -> type | None:
    """The type of the first accepted value that is not ``""`` (BFCL's ``get_possible_answer_type``)."""
    return next((type(answer) for answer in accepted if answer != OMITTED), None)


def normalise(text: str) -> str:
    """BFCL's ``standardize_string``: no spaces nor ``,./-_*^``, lower case, ``'`` read as ``"``."""
    return _PUNCTUATION.sub("", text).lower().replace("'", '"')


def _normalise_list(values: list[Any]) -> list[Any]:
    return [normalise(v) if type(v) is str else v for v in values]


def _dict_ok(value: Mapping[str, Any], answer: Mapping[str, list[Any]]) -> bool:
    """BFCL's ``dict_checker`` for one accepted dict: each given key expected with an accepted (normalised)
    value; each expected key given unless ``""`` is accepted."""
    for key, given in value.items():
        if key not in answer:
            return False
        if _normalise_list([given])[0] not in _normalise_list(answer[key]):
            return False
    return all(key in value or OMITTED in values for key, values in answer.items())


def _dict_list_ok(value: list[Any], answer: list[Any]) -> bool:
    """BFCL's ``list_dict_checker`` for one accepted list: same length, each dict passing ``_dict_ok``."""
    return len(value) == len(answer) and all(isinstance(given, dict) and _dict_ok(given, expected)
                                             for given, expected in zip(value, answer))


def _check_parallel(calls: Sequence[tuple[str, Mapping[str, Any]]], functions: Sequence[Mapping[str, Any]],
                    ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]]) -> Verdict:
    """BFCL's ``parallel_function_checker_no_order`` with a maximum matching (Kuhn's augmenting paths) in
    place of its greedy one. On failure, reports why an unmatched entry rejects the first unmatched call of
    its function (``wrong_name`` when there is none)."""
    fits = [[check_call(call, functions, entry).valid for call in calls] for entry in ground_truth]
    owner: dict[int, int] = {}  # call index -> ground-truth index

    def augment(entry: int, seen: set[int]) -> bool:
        for index, fit in enumerate(fits[entry]):
            if fit and index not in seen:
                seen.add(index)
                if index not in owner or augment(owner[index], seen):
                    owner[index] = entry
                    return True
        return False

    unmatched = [entry for entry in range(len(ground_truth)) if not augment(entry, set())]
    if not unmatched:
        return RIGHT
    entry = ground_truth[unmatched[0]]
    expected = next(iter(entry))
    free = [call for index, call in enumerate(calls) if index not in owner and names_match(call[0], expected)]
    if not free:
        return _wrong("wrong_name", f"no call of {expected!r} left for ground-truth entry {unmatched[0]}")
    verdict = check_call(free[0], functions, entry)  # fails: a free call that fitted would have been matched
    return Verdict(False, verdict.kind, f"ground-truth entry {unmatched[0]}: {verdict.message}")


def reference_calls(item: BfclItem) -> list[Call]:
    """A right answer built from the ground truth: each argument's first accepted value that is not ``""``;
    an argument is left out when ``""`` is its only accepted value, or when it may be left out and the
    function's schema does not declare it (two shared answers list such arguments, which BFCL would reject
    as unexpected if given)."""
    if item.ground_truth is None:
        return []
    calls = []
    for entry in item.ground_truth:
        (name, accepted), = entry.items()
        properties = _schema(item.functions, name)["parameters"]["properties"]
        arguments = {param: _example(properties.get(param, {}), values) for param, values in accepted.items()
                     if any(v != OMITTED for v in values) and (param in properties or OMITTED not in values)}
        calls.append(Call(name, arguments))
    return calls


def _example(spec: Mapping[str, Any], accepted: list[Any]) -> Any:
    """The first accepted value that is not ``""``; an accepted dict (or list of dicts) holds lists of accepted
    values for its keys, so it becomes a dict of their first values (keys whose only value is ``""`` left
    out)."""
    answer = next(a for a in accepted if a != OMITTED)
    kind = spec.get("type")
    if kind in ("dict", "object") and isinstance(answer, dict):
        return _example_dict(answer)
    if kind in ("array", "tuple") and isinstance(answer, list) and spec.get("items", {}).get("type") in ("dict",
                                                                                                          "object"):
        return [_example_dict(a) if isinstance(a, dict) else a for a in answer]
    return answer


def _example_dict(answer: Mapping[str, list[Any]]) -> dict[str, Any]:
    return {key: next(v for v in values if v != OMITTED) for key, values in answer.items()
            if any(v != OMITTED for v in values)}


def mutate(item: BfclItem, kind: str) -> list[Call] | None:
    """The reference answer broken in one way (``kind`` one of :data:`MUTATIONS`), or None where the item
    offers no place for that break (no required argument, no argument of a scalar type, ...)."""
    if kind not in MUTATIONS:
        raise WorkbenchError(f"unknown mutation {kind!r} (expected one of {', '.join(MUTATIONS)})")
    calls = reference_calls(item)
    if kind == "called_when_irrelevant":
        return [Call(item.functions[0]["name"], {})] if item.ground_truth is None else None
    if item.ground_truth is None:
        return None
    if kind == "extra_call":
        return calls + [calls[0]]
    for index, (name, arguments) in enumerate(calls):
        changed = _break_call(item, name, arguments, kind, item.ground_truth[index][name])
        if changed is not None:
            return calls[:index] + [changed] + calls[index + 1:]
    return None


def _break_call(item: BfclItem, name: str, arguments: dict[str, Any], kind: str,
                accepted: Mapping[str, list[Any]]) -> Call | None:
    schema = _schema(item.functions, name)
    properties = schema["parameters"]["properties"]
    if kind == "wrong_name":
        others = [f["name"] for f in item.functions if not names_match(f["name"], name)]
        return Call(others[0] if others else f"{name}_unknown", arguments)
    if kind == "missing_required":
        present = [p for p in schema["parameters"].get("required", []) if p in arguments]
        return Call(name, {k: v for k, v in arguments.items() if k != present[0]}) if present else None
    for param, value in arguments.items():
        if kind == "wrong_type":
            wrong = next((c for c in ("a wrong type", 987654321, {"wrong": "type"})
                          if not type_ok(c, properties[param], accepted[param])), None)
        else:
            wrong = _unlisted(value, properties[param], accepted[param])
        if wrong is not None:
            return Call(name, {**arguments, param: wrong})
    return None


_UNLISTED = {"string": "zz unlisted value", "integer": 987654321, "float": 98765.4321}


def _unlisted(value: Any, spec: Mapping[str, Any], accepted: list[Any]) -> Any:
    """A value of the schema's type that the answer does not accept: another scalar, or an array with one
    more scalar item (None for dicts, variables, or a boolean whose two values are both accepted)."""
    kind = spec["type"]
    if _answer_type(accepted) not in (TYPES[kind], int if kind == "float" else None):
        return None
    if kind in ("array", "tuple"):
        extra = _UNLISTED.get(spec.get("items", {}).get("type"))
        candidate = None if extra is None else [*value, extra]
    else:
        candidate = not value if kind == "boolean" else _UNLISTED.get(kind)
    return candidate if candidate is not None and candidate not in accepted else None


def mutation_table(items: Sequence[BfclItem]) -> dict[str, dict[str, int]]:
    """For each mutation kind: the items it applies to (``irrelevance`` items for ``called_when_irrelevant``,
    the others for the rest), how many could be mutated, how many of those :func:`check` rejected, and how
    many with the expected error kind."""
    table = {}
    for kind in MUTATIONS:
        row = {"items": 0, "mutated": 0, "failed": 0, "expected_kind": 0}
        for item in items:
            if (item.ground_truth is None) != (kind == "called_when_irrelevant"):
                continue
            row["items"] += 1
            calls = mutate(item, kind)
            if calls is None:
                continue
            row["mutated"] += 1
            verdict = check(calls, item.functions, item.ground_truth, item.category)
            row["failed"] += not verdict.valid
            row["expected_kind"] += verdict.kind == EXPECTED_KIND[kind]
        table[kind] = row
    return table
