"""Ground-truth rules of emotional support read from the text, where a clear statement allows it.

How a patient feels is mostly not stated in so many words, so the rules decide only on a clear statement
in the patient's latest line (not a question, not negated, not hedged): the issue solved ("my problem is
solved", "I know what to do now", "I can handle it now"), feeling better ("I feel (a lot) better") or
feeling worse ("I feel worse"). Everything else reads as nothing (None), and only "solved" ends the
dialogue (PPDPP's success needs the verdict above "better").
"""

from __future__ import annotations

import re

from .prompts import ANSWERS

WORSE, _SAME, BETTER, SOLVED = ANSWERS.values()
_FEEL = (r"\b(?:i(?: feel|'m feeling| am feeling|'m| am)|makes me feel)"
         r"(?: (?:a little|a bit|a lot|much|so much|somewhat|even))?")
_LEVELS = (
    (SOLVED, "the patient says the issue is solved",
     re.compile(r"\b(?:my|the|this) (?:problem|issue) (?:is|has been|got) (?:solved|resolved)\b"
                r"|\bi (?:know|see) what (?:to do|i (?:can|should|need to|will) do) now\b"
                r"|\bi (?:can|could) handle (?:it|this|the [a-z ]+) now\b")),
    (WORSE, "the patient says they feel worse", re.compile(rf"{_FEEL} worse\b")),
    (BETTER, "the patient says they feel better", re.compile(rf"{_FEEL} better\b")),
)
_HOLD_BACK = re.compile(r"\b(?:not|no|never|don'?t|doesn'?t|didn'?t|isn'?t|can'?t|won'?t|maybe|perhaps|might|"
                        r"if|but|wish|hope|want)\b")


def rule_answer(text: str) -> tuple[float, str] | None:
    """The critic answer (-1.0 worse, 0.5 better, 1.0 solved) the line states clearly, with its reason, or None."""
    low = (text or "").lower().replace("\u2019", "'")
    if _HOLD_BACK.search(low):
        return None
    statements = [s for s in re.split(r"(?<=[.!?])\s+", low.strip()) if not s.rstrip().endswith("?")]
    for level, reason, pattern in _LEVELS:
        if any(pattern.search(s) for s in statements):
            return level, reason
    return None
