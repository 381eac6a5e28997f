"""BFCL v4 single-turn items and their allowed answers (Patil et al., "The Berkeley Function Calling
Leaderboard", 2024/2025; files of ``bfcl_eval/data``).

Files (default folder ``data_dir()/bfcl``): ``BFCL_v4_<category>.json``, one JSON object a line,
``{"id", "question": [[{"role", "content"}]], "function": [{"name", "description", "parameters":
{"type": "dict", "properties", "required"}}]}``, and ``possible_answer/BFCL_v4_<category>.json``,
``{"id", "ground_truth": [{"<function name>": {"<argument>": [accepted values]}}]}`` with one entry per
expected call (``""`` among the accepted values: the argument may be omitted). ``irrelevance`` has no answer
file: the right answer there is no call. A malformed row stops the load with ``file:line`` (see
:mod:`workbench.data`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from workbench.data import read_jsonl, require
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
NO_ANSWER = "irrelevance"


@dataclass(frozen=True)
class BfclItem:
    """One BFCL item: the user's request, the offered functions (JSON schema dicts as in the file) and the
    allowed answers (one ``{name: {argument: [accepted values]}}`` a call; None for ``irrelevance``)."""

    id: str
    category: str
    question: str
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]] | None


def default_folder() -> Path:
    return data_dir() / "bfcl"


def load_items(category: str, folder: str | Path | None = None) -> list[BfclItem]:
    """The items of one category, in file order, each with its allowed answers."""
    if category not in CATEGORIES:
        raise WorkbenchError(f"unknown BFCL category {category!r} (expected one of {', '.join(CATEGORIES)})")
    folder = Path(folder) if folder is not None else default_folder()
    path = folder / f"BFCL_v4_{category}.json"
    rows: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        require(row, {"id": str, "question": list, "function": list}, where)
        if row["id"] in rows:
            raise WorkbenchError(f"{where}: duplicate id {row['id']!r}")
        rows[row["id"]] = (_user_text(row["question"], where), where, _functions(row["function"], where))
    answers = None if category == NO_ANSWER else _answers(folder / "possible_answer" / path.name, rows)
    return [BfclItem(id=item_id, category=category, question=question, functions=functions,
                     ground_truth=None if answers is None else answers[item_id])
            for item_id, (question, _, functions) in rows.items()]


def _user_text(question: list[Any], where: str) -> str:
    """The user's messages of all turns, joined by newlines."""
    texts = []
    for turn in question:
        if not isinstance(turn, list):
            raise WorkbenchError(f"{where}: 'question' is not a list of turns (lists of messages)")
        for message in turn:
            if not isinstance(message, dict):
                raise WorkbenchError(f"{where}: a message of 'question' is not an object")
            require(message, {"role": str, "content": str}, f"{where} (question)")
            if message["role"] == "user":
                texts.append(message["content"])
    if not texts:
        raise WorkbenchError(f"{where}: 'question' has no user message")
    return "\n".join(texts)


def _functions(functions: list[Any], where: str) -> list[dict[str, Any]]:
    for function in functions:
        if not isinstance(function, dict):
            raise WorkbenchError(f"{where}: an entry of 'function' is not an object")
        require(function, {"name": str, "parameters": dict}, f"{where} (function)")
        require(function["parameters"], {"properties": dict}, f"{where} (function {function['name']!r})")
    return functions


def _answers(path: Path, rows: dict[str, tuple[str, str, list[dict[str, Any]]]]) -> dict[str, list[Any]]:
    """Allowed answers by id; every item needs one, and each names an offered function."""
    answers: dict[str, list[Any]] = {}
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        require(row, {"id": str, "ground_truth": list}, where)
        if row["id"] not in rows:
            raise WorkbenchError(f"{where}: answer for unknown item {row['id']!r}")
        if row["id"] in answers:
            raise WorkbenchError(f"{where}: second answer for item {row['id']!r}")
        offered = {function["name"] for function in rows[row["id"]][2]}
        for entry in row["ground_truth"]:
            if not (isinstance(entry, dict) and len(entry) == 1):
                raise WorkbenchError(f"{where}: a ground-truth entry is not one {{function: arguments}} object")
            (name, arguments), = entry.items()
            if name not in offered:
                raise WorkbenchError(f"{where}: ground truth calls {name!r}, which the item does not offer")
            if not (isinstance(arguments, dict) and all(isinstance(v, list) for v in arguments.values())):
                raise WorkbenchError(f"{where}: arguments of {name!r} are not lists of accepted values")
        answers[row["id"]] = row["ground_truth"]
    missing = [item_id for item_id in rows if item_id not in answers]
    if missing:
        raise WorkbenchError(f"{path}: no answer for {len(missing)} item(s), first {missing[0]!r}")
    return answers


def split_by_id(items: Sequence[BfclItem], heldout_share: float, seed: int) -> tuple[list[BfclItem], list[BfclItem]]:
    """``(kept, heldout)``: an item is held out when the hash of ``seed`` and its id falls below
    ``heldout_share``, so its side depends on nothing but its id and the seed (stable across runs and
    across additions to the item list)."""
    if not 0.0 <= heldout_share <= 1.0:
        raise WorkbenchError(f"heldout_share must be between 0 and 1, got {heldout_share}")
    kept: list[BfclItem] = []
    heldout: list[BfclItem] = []
    for item in items:
        digest = hashlib.sha256(f"{seed}:{item.id}".encode()).digest()
        (heldout if int.from_bytes(digest[:8], "big") / 2**64 < heldout_share else kept).append(item)
    return kept, heldout
