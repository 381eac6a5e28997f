"""Ground-truth rules of the tutoring read from the text: has the student said the whole translation?

The student's latest line succeeds when it contains the target phrase word for word (case, accents and
punctuation aside: "E di fronte alla scatola rosa." matches "e di fronte alla scatola rosa") and commits to
it: a question ("Is it ...?") or a hedge ("maybe", "not sure", "I guess") is the scripted student's
*hedged* attempt, which the environment scores as a part, not the whole. Any other line decides nothing:
partial or wrong attempts are left to the critic.
"""

from __future__ import annotations

import re
import unicodedata

from .prompts import WHOLE

_HEDGE = re.compile(r"\b(?:maybe|perhaps|might|not sure|i guess|probably|or)\b|\?")


def _words(text: str) -> str:
    """Lower-case words without accents or punctuation (an elided article keeps its apostrophe)."""
    plain = "".join(c for c in unicodedata.normalize("NFD", text.lower().replace("\u2019", "'"))
                    if unicodedata.category(c) != "Mn")
    return " ".join(re.findall(r"[a-z]+'?", plain)).replace("' ", "'")


def says_whole(text: str, target: str) -> bool:
    """Whether the line commits to the whole target phrase (module docstring)."""
    words, goal = _words(text or ""), _words(target)
    if not goal or _HEDGE.search((text or "").lower()):
        return False
    return re.search(rf"(?<![a-z']){re.escape(goal)}(?![a-z])", words) is not None


def rule_answer(text: str, target: str) -> tuple[float, str] | None:
    """The critic answer "translated the whole sentence correctly" with its reason, or None."""
    return (WHOLE, f"the student said the whole phrase \"{target}\"") if says_whole(text, target) else None
