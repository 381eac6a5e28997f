"""Ground-truth critique labels of the tutoring: which teacher turn set the student back, read from the scripted
student (:mod:`.student`).

Harm has two sources, on one scale of "a turn's worth of progress lost":
- frustration: added frustration over the student's threshold, +1 when the turn made the student give up (it never
  tries again); a Question right after a wrong or partial attempt with no help in between, or a Correction with no
  attempt to correct, are the only turns that frustrate;
- entrenchment: 0.6 for each misconception a Confirmation hardened, the chance that the correction it now needs
  fails (:data:`.student.P_CORRECTION_FIXES_ENTRENCHED` is 0.4).
"""

from __future__ import annotations

from typing import Any

from workbench.env import Criterion, DialogueState

from .student import P_CORRECTION_FIXES_ENTRENCHED, read_move

CRITERIA = (
    Criterion("confirmed-mistake", "confirming an attempt that has a wrong word, which hardens the misconception"),
    Criterion("repeated-question", "asking for another attempt after a wrong or partial one without helping first"),
    Criterion("misplaced-correction", "correcting when the student has made no attempt with anything to correct"),
)


def turn_flaw(before: dict[str, Any], after: dict[str, Any], state: DialogueState) -> tuple[float, str] | None:
    """The teacher turn's harm and criterion (module docstring); None for a harmless turn."""
    if "knowledge" not in before:
        return None
    hardened = sum(b != "entrenched" and a == "entrenched" for b, a in zip(before["knowledge"], after["knowledge"]))
    if hardened:
        return hardened * (1.0 - P_CORRECTION_FIXES_ENTRENCHED), "confirmed-mistake"
    added = after["frustration"] - before["frustration"]
    if added <= 0:
        return None
    threshold = before["threshold"]
    gave_up = before["frustration"] < threshold <= after["frustration"]
    harm = added / threshold + (1.0 if gave_up else 0.0)
    move = read_move(state, state.turns[-2])
    return harm, "repeated-question" if move == "Question" else "misplaced-correction"
