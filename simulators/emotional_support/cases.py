"""Emotional-support cases from PPDPP's processed ESConv files or from raw ESConv JSON.

Two formats, chosen by the file suffix:

* ``.jsonl`` (default ``data_dir()/ppdpp/esc-valid.jsonl``): one row per case,
  ``{"emotion_type", "problem_type", "situation", "dialog": [{"speaker": "sys"|"usr", "text",
  "strategy"?}]}`` (``sys`` is the supporter). A malformed row stops the load with
  ``WorkbenchError("<file>:<line>: <problem>")`` (see :mod:`workbench.data`).
* ``.json``: the raw ESConv list, ``[{"experience_type", "emotion_type", "problem_type",
  "situation", "survey_score", "dialog": [{"speaker", "annotation": {"strategy"?}, "content"}]}]``.
  The help-seeker is ``"seeker"`` (ESConv.json) or ``"speaker"`` (FailedESConv.json), the
  supporter ``"supporter"`` or ``"listener"``; both conventions are accepted. Errors read
  ``"<file>: item N: <problem>"`` (N counts from 1).

``Case.fields`` keeps the source fields plus ``turns``: the human dialogue as
``{"role": "Therapist"|"Patient", "text", "strategy"}`` (supporter strategies mapped onto the 8
names, see :data:`.strategies.ALIASES`; None for patient turns) for planner SFT. Case ids are
``"<file stem>:<line>"`` or ``"<file stem>:<item>"``.

``Case.hidden["distress"]`` is the scripted patient's initial distress on a 0-10 scale: a base
level for the emotion type (:data:`EMOTION_DISTRESS`, 6.0 for others) plus ``U(-1, 1.5)`` drawn
from ``random.Random(zlib.crc32(case_id))`` (stable across runs, no ``hash()``), rounded to 0.1.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path
from typing import Any

from workbench.data import dialog_turns, read_jsonl, require
from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

from .strategies import canonical

ENV_NAME = "emotional_support"
AGENT_ROLE, USER_ROLE = "Therapist", "Patient"

EMOTION_DISTRESS: dict[str, float] = {
    "depression": 7.0, "sadness": 6.5, "anxiety": 6.5, "fear": 6.5, "anger": 6.0, "shame": 6.0,
    "disgust": 5.5, "nervousness": 5.5,
}
DISTRESS_SPREAD = (-1.0, 1.5)

_PPDPP_ROLES = {"sys": AGENT_ROLE, "usr": USER_ROLE}
_RAW_ROLES = {"supporter": AGENT_ROLE, "listener": AGENT_ROLE, "seeker": USER_ROLE, "speaker": USER_ROLE}
_FIELDS = {"emotion_type": str, "problem_type": str, "situation": str, "dialog": list}


def default_source() -> Path:
    return data_dir() / "ppdpp" / "esc-valid.jsonl"


def initial_distress(case_id: str, emotion: str) -> float:
    """The scripted patient's initial distress (0-10) for ``case_id`` (stable across runs)."""
    base = EMOTION_DISTRESS.get(emotion.strip().lower(), 6.0)
    u = random.Random(zlib.crc32(case_id.encode("utf-8"))).uniform(*DISTRESS_SPREAD)
    return round(min(10.0, max(0.0, base + u)), 1)


def _strategy(label: Any, where: str) -> str | None:
    if label is None:
        return None
    if not isinstance(label, str):
        raise WorkbenchError(f"{where} has a non-string strategy")
    name = canonical(label)
    if name is None:
        raise WorkbenchError(f"{where} has unknown strategy {label!r}")
    return name


def _ppdpp_turns(dialog: list[Any], where: str) -> list[dict[str, Any]]:
    turns = []
    for i, (role, text, turn) in enumerate(dialog_turns(dialog, where, _PPDPP_ROLES)):
        strategy = _strategy(turn.get("strategy"), f"{where}: dialog turn {i}")
        turns.append({"role": role, "text": text, "strategy": strategy if role == AGENT_ROLE else None})
    return turns


def _raw_turns(dialog: list[Any], where: str) -> list[dict[str, Any]]:
    turns = []
    for i, (role, text, turn) in enumerate(dialog_turns(dialog, where, _RAW_ROLES, text_key="content")):
        annotation = turn.get("annotation") or {}
        if not isinstance(annotation, dict):
            raise WorkbenchError(f"{where}: dialog turn {i} has a non-object annotation")
        strategy = _strategy(annotation.get("strategy"), f"{where}: dialog turn {i}")
        turns.append({"role": role, "text": text.strip(), "strategy": strategy if role == AGENT_ROLE else None})
    return turns


def _case(case_id: str, row: dict[str, Any], turns: list[dict[str, Any]], **extra: Any) -> Case:
    fields = dict(row, turns=turns, **extra)
    return Case(id=case_id, env=ENV_NAME, fields=fields,
                hidden={"distress": initial_distress(case_id, row["emotion_type"])})


def _load_jsonl(path: Path) -> list[Case]:
    cases = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        require(row, _FIELDS, where)
        cases.append(_case(f"{path.stem}:{lineno}", row, _ppdpp_turns(row["dialog"], where), line=lineno))
    return cases


def _load_json(path: Path) -> list[Case]:
    if not path.is_file():
        raise WorkbenchError(f"data file not found: {path}")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise WorkbenchError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    except UnicodeDecodeError:
        raise WorkbenchError(f"{path}: not UTF-8 text") from None
    if not isinstance(items, list):
        raise WorkbenchError(f"{path}: expected a JSON list of conversations, got {type(items).__name__}")
    cases = []
    for n, row in enumerate(items, 1):
        where = f"{path}: item {n}"
        if not isinstance(row, dict):
            raise WorkbenchError(f"{where}: expected a JSON object, got {type(row).__name__}")
        require(row, _FIELDS, where)
        cases.append(_case(f"{path.stem}:{n}", row, _raw_turns(row["dialog"], where), item=n))
    return cases


def load_cases(source: str | Path | None = None) -> list[Case]:
    """Cases from a PPDPP ``.jsonl`` file or a raw ESConv ``.json`` list (see the module docstring)."""
    path = Path(source) if source is not None else default_source()
    if path.suffix == ".json":
        return _load_json(path)
    if path.suffix == ".jsonl":
        return _load_jsonl(path)
    raise WorkbenchError(f"{path}: expected a .jsonl (PPDPP) or .json (raw ESConv) file")
