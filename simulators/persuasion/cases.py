"""PersuasionForGood cases (Wang et al., ACL 2019): 1,017 dialogues with donations and persuadee profiles,
240 of them annotated with the persuader's strategy per sentence.

Files (``data_dir()/p4g``): ``full_dialog.csv`` (``Unit`` one sentence, ``Turn``, ``B4`` 0 persuader /
1 persuadee, ``B2`` dialogue id), ``full_info.csv`` (``B2``, ``B4``, ``B6`` actual donation, ``B7`` turns,
then personality and demographics columns ending in ``.x``), ``annotated_dialog.csv`` (the same sentences
with ``er_label_1``, the persuader's act) and ``annotated_info.csv`` (``B5`` intended donation).

One case per dialogue; ``fields``: ``turns`` (consecutive sentences of one speaker and turn joined, as
``{"role": "Persuader"|"Persuadee", "text", "strategy", "labels"}``; ``strategy`` only for annotated
dialogues: the first of the 10 strategies among the turn's sentence labels, else its first other act,
mapped onto the 15 acts of :mod:`.strategies`), ``donation`` (the persuadee's, in dollars, capped at
the $2 task payment: 35 answers above it are typing slips such as "50" or "700"), ``intended``
(annotated dialogues), ``profile`` (the persuadee's ``.x`` columns without the suffix; numbers as
floats, ``NA`` as None) and ``annotated``. A malformed row stops the load with ``file:line: problem``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

from .strategies import LABEL_MAP, STRATEGY_NAMES

ENV_NAME = "persuasion"
ROLES = ("Persuader", "Persuadee")
PAYMENT = 2.0
"""The task payment the persuadee may donate from (dollars)."""
FILES = {"dialog": "full_dialog.csv", "info": "full_info.csv", "annotated": "annotated_dialog.csv",
         "annotated_info": "annotated_info.csv"}


def default_source() -> Path:
    return data_dir() / "p4g"


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
    """``(where, row)`` for every row of a CSV file that has ``columns``; a row with another number of fields
    than the header is an error."""
    if not path.is_file():
        raise WorkbenchError(f"data file not found: {path}")
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        missing = [c for c in columns if c not in header]
        if missing:
            raise WorkbenchError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = []
        for line, fields in enumerate(reader, 2):
            if len(fields) != len(header):
                raise WorkbenchError(f"{path}:{line}: row has {len(fields)} fields, expected {len(header)}")
            rows.append((f"{path}:{line}", dict(zip(header, fields))))
        return rows


def _number(value: str | None, where: str, column: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise WorkbenchError(f"{where}: column {column!r} is not a number: {value!r}") from None


def _role(value: str, where: str) -> str:
    if value not in ("0", "1"):
        raise WorkbenchError(f"{where}: column 'B4' must be 0 (persuader) or 1 (persuadee), got {value!r}")
    return ROLES[int(value)]


def _profile_value(value: str) -> float | str | None:
    if value in ("", "NA"):
        return None
    try:
        return float(value)
    except ValueError:
        return value


def turn_strategy(labels: list[str]) -> str:
    """The act of a persuader turn from its sentences' labels (module docstring)."""
    acts = [LABEL_MAP.get(label, "other") for label in labels if label]
    return next((a for a in acts if a in STRATEGY_NAMES), next((a for a in acts if a != "other"), "other"))


def _dialogues(path: Path, labelled: bool) -> dict[str, list[dict[str, Any]]]:
    """Dialogue id -> turns, from a dialogue CSV (with the persuader's labels when ``labelled``)."""
    columns = ("B2", "B4", "Turn", "Unit") + (("er_label_1",) if labelled else ())
    dialogues: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for where, row in _rows(path, columns):
        if not row["B2"]:
            raise WorkbenchError(f"{where}: empty dialogue id (column 'B2')")
        role, index = _role(row["B4"], where), int(_number(row["Turn"], where, "Turn"))
        turns = dialogues[row["B2"]]
        if not turns or turns[-1]["role"] != role or turns[-1]["index"] != index:
            turns.append({"role": role, "index": index, "sentences": [], "labels": []})
        turns[-1]["sentences"].append(row["Unit"].strip())
        if labelled and role == ROLES[0]:
            turns[-1]["labels"].append(row["er_label_1"])
    return dialogues


def _info(path: Path, extra: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """Dialogue id -> the persuadee's row of an info CSV."""
    info = {}
    for where, row in _rows(path, ("B2", "B4", "B6") + extra):
        if _role(row["B4"], where) == ROLES[1]:
            row["B6"] = str(_number(row["B6"], where, "B6"))
            info[row["B2"]] = row
    return info


def load_cases(source: str | Path | None = None) -> list[Case]:
    """Cases from the P4G folder (all 1,017 dialogues, with the annotations of the 240 merged in), or from one
    of its dialogue files: ``full_dialog.csv`` (all) or ``annotated_dialog.csv`` (the 240 annotated)."""
    path = Path(source) if source is not None else default_source()
    folder, only_annotated = (path, False) if path.is_dir() else (path.parent, path.name == FILES["annotated"])
    if not path.is_dir() and path.name not in (FILES["dialog"], FILES["annotated"]):
        raise WorkbenchError(f"{path}: not a PersuasionForGood file (use the p4g folder, {FILES['dialog']} or "
                             f"{FILES['annotated']})")
    annotated = _dialogues(folder / FILES["annotated"], labelled=True)
    dialogues = annotated if only_annotated else _dialogues(folder / FILES["dialog"], labelled=False)
    info = _info(folder / FILES["info"])
    intended = _info(folder / FILES["annotated_info"], ("B5",))
    cases = []
    for dialogue_id, turns in dialogues.items():
        if dialogue_id not in info:
            raise WorkbenchError(f"{folder / FILES['info']}: no persuadee row for dialogue {dialogue_id}")
        labels = annotated.get(dialogue_id)
        cases.append(_case(dialogue_id, turns, labels, info[dialogue_id], intended.get(dialogue_id)))
    return cases


def _case(dialogue_id: str, turns: list[dict[str, Any]], labelled: list[dict[str, Any]] | None,
          info: dict[str, str], intended: dict[str, str] | None) -> Case:
    rows = []
    for i, turn in enumerate(turns):
        row = {"role": turn["role"], "text": " ".join(turn["sentences"]), "strategy": None, "labels": []}
        if labelled is not None and turn["role"] == ROLES[0]:
            # the annotated copy of a dialogue has the same turns, sentence for sentence
            labels = labelled[i]["labels"] if i < len(labelled) and labelled[i]["index"] == turn["index"] else []
            row.update(strategy=turn_strategy(labels), labels=labels)
        rows.append(row)
    donation = float(info["B6"])
    profile = {k[:-2]: _profile_value(v) for k, v in info.items() if k.endswith(".x")}
    fields = {"turns": rows, "donation": min(max(donation, 0.0), PAYMENT), "reported_donation": donation,
              "intended": _profile_value(intended["B5"]) if intended else None, "profile": profile,
              "annotated": labelled is not None}
    return Case(id=dialogue_id, env=ENV_NAME, fields=fields)

