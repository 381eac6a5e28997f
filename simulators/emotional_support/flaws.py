"""Ground-truth critique labels of the emotional support: which therapist turn raised the patient's distress, read from
the scripted patient. Harm is the rise in distress (0-10 scale) the patient's rules give the turn (1.0 for advice before
disclosure, 0.5 for advice without trust or a question too many), whether or not the scale's top cut it."""

from __future__ import annotations

from typing import Any

from workbench.env import Criterion, DialogueState

CRITERIA = (
    Criterion("advice-before-exploration", "suggestions or information before the patient has shared the problem"),
    Criterion("advice-before-understanding", "advice before the patient feels understood (no reflection or "
                                             "restatement yet)"),
    Criterion("too-many-questions", "one question after another without acknowledging the answers"),
)

HARM = {"resisting": (1.0, "advice-before-exploration"), "unheard": (0.5, "advice-before-understanding"),
        "annoyed": (0.5, "too-many-questions")}
"""The patient's stance after a harmful turn -> (distress its rules add, criterion)."""


def turn_flaw(before: dict[str, Any], after: dict[str, Any], state: DialogueState) -> tuple[float, str] | None:
    """The therapist turn's harm and criterion (module docstring); None for a harmless turn."""
    return HARM.get(after.get("stance"))
