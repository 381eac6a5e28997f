"""Analytical Critique Units (ACUs) and critiques: the format, its text form and its robust parsing.

MultiCritique (Lan et al. 2024, Sec. 3.1) breaks a critique into ACUs, each one flaw of the response: where it is,
what is wrong, how to fix it, which criterion it violates, and how severe it is (1-10); a critique is its ACUs plus an
overall verdict and score. Here the response is an agent's side of a dialogue, so an ACU's location is one agent turn
(numbered from 1, the environment's fixed opening left out), its criterion one of the environment's
:attr:`~workbench.env.DialogueEnv.criteria`, and the verdict one of :data:`VERDICTS`.

The text form (:func:`format_critique`; what a critic is asked to write and a trained critic is taught)::

    Verdict: failure
    Score: 4
    ACU: turn 2 | lowball | severity 8 | flaw: offered half the asking price | suggestion: counter near the ask

:func:`parse_critique` reads it from free model text: lines in any order, extra text around them, "Turn 2" or
"turn #2", criteria names whatever their case and separators. What it cannot use is counted in ``Critique.info``:
``dropped`` (an ACU line naming no agent turn of the dialogue or no known criterion), ``partial`` (an ACU without a
severity, which then counts 5), ``no_verdict`` / ``no_score``; a critique with neither an ACU nor a verdict is
``failed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

VERDICTS = ("success", "failure", "ongoing")
"""A critique's overall verdict: the agent reached its goal, failed it for good, or the dialogue is still open."""
_VERDICT_WORDS = {"success": "success", "succeeded": "success", "successful": "success", "solved": "success",
                  "failure": "failure", "failed": "failure", "fail": "failure", "unsuccessful": "failure",
                  "ongoing": "ongoing", "open": "ongoing", "undecided": "ongoing", "pending": "ongoing"}
DEFAULT_SEVERITY = 5
_SEPARATORS = re.compile(r"[\s_-]+")
_TURN = re.compile(r"\bturns?\s*(?:#|no\.?|number)?\s*(\d+)", re.I)
_SEVERITY = re.compile(r"\bsever(?:ity|e)\s*[:=]?\s*(\d+(?:\.\d+)?)", re.I)
_FIELD = re.compile(r"\b(flaw|suggestion)\s*:\s*(.*?)\s*(?=\|\s*\w+\s*:|\||$)", re.I)
_VERDICT = re.compile(r"\bverdict[\s:=*]*([a-z]+)", re.I)
_SCORE = re.compile(r"\bscore[\s:=*]*(\d+(?:\.\d+)?)", re.I)


@dataclass(frozen=True)
class ACU:
    """One analytical critique unit: agent turn ``turn`` (1-based) violates ``criterion`` with ``severity`` 1-10."""

    turn: int
    criterion: str
    severity: int
    flaw: str = ""
    suggestion: str = ""

    def line(self) -> str:
        return (f"ACU: turn {self.turn} | {self.criterion} | severity {self.severity} | flaw: {self.flaw} | "
                f"suggestion: {self.suggestion}")


@dataclass
class Critique:
    """A critique: its ACUs (most severe first after :meth:`ranked`), overall verdict and score, what was read."""

    acus: list[ACU] = field(default_factory=list)
    verdict: str | None = None
    score: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def ranked(self) -> list[ACU]:
        """The ACUs by severity, the most severe first (ties in written order)."""
        return sorted(self.acus, key=lambda a: -a.severity)

    def top(self) -> ACU | None:
        """The most severe ACU (the first written among equals), None without ACUs."""
        ranked = self.ranked()
        return ranked[0] if ranked else None

    @property
    def failed(self) -> bool:
        return not self.acus and self.verdict is None


def criterion_key(name: str) -> str:
    """A criterion name compared without case, with spaces, hyphens and underscores alike."""
    return _SEPARATORS.sub(" ", name.strip().lower())


def clamp_severity(value: float) -> int:
    return int(min(10, max(1, round(value))))


def format_critique(critique: Critique) -> str:
    """The critique's text form (module docstring); :func:`parse_critique` reads it back unchanged."""
    lines = [f"Verdict: {critique.verdict or 'ongoing'}",
             f"Score: {clamp_severity(critique.score if critique.score is not None else DEFAULT_SEVERITY)}"]
    return "\n".join(lines + [a.line() for a in critique.acus])


def _find_criterion(line: str, keys: dict[str, str]) -> str | None:
    """The criterion a line names: its first field after the turn when that is one, else the longest name in it."""
    low = criterion_key(line)
    fields = [criterion_key(f) for f in re.split(r"[|,;()]", line)]
    for f in fields:
        if f in keys:
            return keys[f]
    found = [k for k in keys if re.search(rf"(?<![\w]){re.escape(k)}(?![\w])", low)]
    return keys[max(found, key=len)] if found else None


def parse_acu(line: str, criteria: Sequence[str], turns: int) -> tuple[ACU | None, str]:
    """One line as an ACU, and what it was: ``acu``, ``partial`` (no severity), ``dropped`` or ``none`` (no ACU)."""
    turn = _TURN.search(line)
    keys = {criterion_key(c): c for c in criteria}
    if turn is None:
        return None, "dropped" if re.match(r"\s*[-*]?\s*acu\b", line, re.I) else "none"
    number, criterion = int(turn.group(1)), _find_criterion(line[turn.end():] or line, keys)
    if criterion is None:
        criterion = _find_criterion(line, keys)
    if not 1 <= number <= turns or criterion is None:
        return None, "dropped"
    severity = _SEVERITY.search(line)
    fields = {m.group(1).lower(): m.group(2).strip() for m in _FIELD.finditer(line)}
    acu = ACU(number, criterion, clamp_severity(float(severity.group(1))) if severity else DEFAULT_SEVERITY,
              fields.get("flaw", ""), fields.get("suggestion", ""))
    return acu, "acu" if severity else "partial"


def parse_critique(text: str, criteria: Sequence[str], turns: int) -> Critique:
    """A critique from model text (module docstring); ``turns`` is the number of agent turns it may point at."""
    critique = Critique(info={"dropped": 0, "partial": 0})
    seen: set[tuple[int, str]] = set()
    for line in (text or "").splitlines():
        if critique.verdict is None and (m := _VERDICT.search(line)):
            critique.verdict = _VERDICT_WORDS.get(m.group(1).lower())
        if critique.score is None and (m := _SCORE.search(line)) and not _TURN.search(line):
            critique.score = float(min(10.0, max(1.0, float(m.group(1)))))
        if _VERDICT.search(line) or (_SCORE.search(line) and not _SEVERITY.search(line)):
            continue
        acu, kind = parse_acu(line, criteria, turns)
        if kind in ("dropped", "partial"):
            critique.info[kind] += 1
        if acu is not None and (acu.turn, acu.criterion) not in seen:
            seen.add((acu.turn, acu.criterion))
            critique.acus.append(acu)
    critique.info |= {"acus": len(critique.acus), "no_verdict": critique.verdict is None,
                      "no_score": critique.score is None, "failed": critique.failed}
    return critique
