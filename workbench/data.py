"""Reading source data files with errors that name the file and line.

Policy for malformed rows: a row that is not a JSON object, or lacks a required field, or has a
field of the wrong type, stops the load with ``WorkbenchError("<file>:<line>: <problem>")``.
Silently skipping rows would change which cases an experiment runs on without anyone noticing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from workbench.errors import WorkbenchError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for every non-blank line of a JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"data file not found: {path}")
    with open(path, encoding="utf-8") as f:
        try:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise WorkbenchError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise WorkbenchError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                yield lineno, row
        except UnicodeDecodeError:  # raised by reading the file only: the caller's errors do not enter here
            raise WorkbenchError(f"{path}: not UTF-8 text") from None


def read_json(path: str | Path, what: str) -> tuple[Any, str]:
    """The parsed JSON document at ``path`` and its text (for locating lines); a missing, unreadable or malformed
    file stops with one line ("file:line: not valid JSON (...)"); ``what`` names the file in the message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise WorkbenchError(f"{path}: cannot read the {what} ({reason})") from None
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def require(row: Mapping[str, Any], types: Mapping[str, type | tuple[type, ...]], where: str) -> None:
    """Check that ``row`` has each key with a value of the given type(s); ``where`` is "file:line"."""
    for key, expected in types.items():
        if key not in row:
            raise WorkbenchError(f"{where}: missing field {key!r}")
        if not isinstance(row[key], expected) or isinstance(row[key], bool) and expected in (int, float, (int, float)):
            raise WorkbenchError(f"{where}: field {key!r} has type {type(row[key]).__name__}")


def dialog_turns(dialog: Any, where: str, roles: Mapping[str, str],
                 text_key: str = "text") -> list[tuple[str, str, dict[str, Any]]]:
    """Check a source row's list of turn objects (``{"speaker", text_key, ...}``) and return
    ``(role, text, turn)`` for each, mapping speakers through ``roles``; ``where`` is "file:line"."""
    if not isinstance(dialog, list):
        raise WorkbenchError(f"{where}: 'dialog' is not a list")
    checked = []
    for i, turn in enumerate(dialog):
        if not isinstance(turn, dict):
            raise WorkbenchError(f"{where}: dialog turn {i} is not an object")
        require(turn, {"speaker": str, text_key: str}, f"{where} (dialog turn {i})")
        if turn["speaker"] not in roles:
            raise WorkbenchError(f"{where}: dialog turn {i} has speaker {turn['speaker']!r} "
                                 f"(expected one of {', '.join(sorted(roles))})")
        checked.append((roles[turn["speaker"]], turn[text_key], turn))
    return checked
