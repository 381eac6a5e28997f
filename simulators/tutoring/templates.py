"""Templated language: the template teacher (``TutoringEnv.realise``) and the scripted student's lines.

The template teacher reads the student's latest attempt: the scripted student's turns carry
``info["units"]`` (per unit "correct" / "wrong" / "missing"); for any other student (an LLM) a
unit counts as correct when its Italian appears in the student's text and missing otherwise.

* ``Hint`` names ONE unit's Italian with its English gloss (the first unit missing from the
  latest attempt, else one not hinted yet, drawn with ``state.rng``), never the whole target;
* ``Correction`` names the corrected unit (the first wrong unit of the latest attempt, else the
  first missing one, else a random unit) and, when known, the student's wrong word;
* ``Question`` asks for an attempt, ``Confirmation`` says the answer is right, ``Others`` chats.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.env import DialogueState

TEACHER: dict[str, tuple[str, ...]] = {
    "Hint": ("Here's a hint: \"{en}\" is \"{it}\" in Italian.", "Remember that \"{en}\" is \"{it}\".",
             "The word for \"{en}\" is \"{it}\"."),
    "Question": ("Can you give me your best guess?", "How would you translate the whole sentence?",
                 "Why don't you give it a try?", "What do you think the translation is?"),
    "Correction": ("Not quite: \"{en}\" is \"{it}\", not \"{said}\".", "Almost, but it's \"{it}\" rather than \"{said}\".",
                   "That's a mistake: we say \"{it}\" for \"{en}\", not \"{said}\"."),
    "Correction-missing": ("Not quite, you still need \"{it}\" for \"{en}\".",
                           "You're missing a part: \"{en}\" is \"{it}\"."),
    "Confirmation": ("Yes, that's right!", "Exactly, well done!", "Correct, great job!"),
    "Others": ("You're doing fine, take your time.", "Italian can be tricky at first.", "Let's keep going."),
}

STUDENT: dict[str, tuple[str, ...]] = {
    "attempt": ("It's \"{a}\".", "I think it's \"{a}\".", "\"{a}\"."),
    "hedged": ("Is it \"{a}\"?", "Maybe \"{a}\"?", "Would it be \"{a}\"?"),
    "missing": (" I don't know how to say \"{en}\".", " I'm not sure about \"{en}\"."),
    "blank": ("I don't know how to say any of that.", "I have no idea, sorry."),
    "learned": ("Oh, so \"{en}\" is \"{it}\". Got it.", "Okay, \"{it}\" for \"{en}\". Thanks!"),
    "not-learned": ("Sorry, I'm still confused.", "Hmm, I'm not sure I follow."),
    "knew": ("Yes, I knew that one.", "Right, I already know that."),
    "kept-wrong": ("Hmm, I thought it was \"{wrong}\".",),
    "fixed": ("Oh, I see, \"{it}\", not \"{wrong}\".", "Ah, \"{it}\"! I mixed it up with \"{wrong}\"."),
    "insist": ("Are you sure? I'm pretty sure it's \"{wrong}\".",),
    "confused": ("What mistake? I haven't tried yet.", "Wait, what did I get wrong?"),
    "restate": ("Great, so it's \"{a}\".", "Okay, so \"{a}\"."),
    "confirm-nothing": ("Confirm what? I haven't answered yet.",),
    "confirmed-already": ("Yes, you said so already.", "I know, you told me."),
    "still-missing": ("But I still don't know how to say \"{en}\".", "And what about \"{en}\"?"),
    "frustrated": ("I don't know, this is too hard. I give up trying.", "I really can't do this."),
    "others": ("Okay.", "Thanks, I'll try my best."),
}

_KEYWORDS = (  # (strategy, pattern), first match wins; Correction before Confirmation ("not correct")
    ("Correction", re.compile(r"\b(not quite|mistake|incorrect|not right|wrong|instead of|rather than|"
                              r"missing|actually)\b|, not \"")),
    ("Confirmation", re.compile(r"\b(that's right|that is right|correct|exactly|well done|perfect|great job|"
                                r"yes)\b")),
    ("Hint", re.compile(r"\b(hint|remember|the word for|means|is called|in italian)\b")),
    ("Question", re.compile(r"\?\s*$|\b(try|guess|can you|how would you|what do you think)\b")),
)


def classify(text: str) -> str:
    """A teacher turn's strategy read from its text by keywords ("Others" when nothing matches)."""
    low = (text or "").strip().lower()
    for name, pattern in _KEYWORDS:
        if pattern.search(low):
            return name
    return "Others"


def mentions(text: str, italian: str) -> bool:
    """Whether ``italian`` (a word or phrase) appears in ``text`` as whole words, case-insensitively."""
    core = italian.lower().strip()
    if core.startswith("e ") and len(core) > 2:  # "e di fronte al": the phrase's own words decide
        core = core[2:]
    pattern = re.escape(core) + (r"" if core.endswith("'") else r"\b")
    return re.search(r"(?<![\w'])" + pattern, (text or "").lower()) is not None


def last_attempt(state: DialogueState) -> dict[str, Any] | None:
    """The student's latest attempt as ``{"units": [...], "said": [...]}``, or None before any."""
    units = state.case.fields["units"]
    for turn in reversed(state.turns[state.opening:] if state.opening else state.turns):
        if turn.role != state.user_role:
            continue
        info = turn.info or {}
        if "attempt" in info:
            if info["attempt"]:
                return {"units": list(info["units"]), "said": list(info["said"])}
            continue
        status = ["correct" if mentions(turn.text, u["it"]) else "missing" for u in units]
        if "correct" in status:
            return {"units": status, "said": [u["it"] if s == "correct" else None for u, s in zip(units, status)]}
    return None


def _gloss(unit: dict[str, Any], i: int) -> str:
    return unit["en"] or f"word {i + 1}"


def teacher_utterance(state: DialogueState, name: str) -> str:
    """The template teacher's line for strategy ``name``."""
    rng, units = state.rng, state.case.fields["units"]
    attempt = last_attempt(state)
    if name in ("Question", "Confirmation", "Others"):
        return rng.choice(TEACHER[name])
    status = attempt["units"] if attempt else [None] * len(units)
    if name == "Hint":
        todo = [i for i, s in enumerate(status) if s == "missing"]
        if not todo:
            hinted = {t.info.get("unit") for t in state.turns if t.role == state.agent_role and t.info}
            todo = [i for i, s in enumerate(status) if s != "correct" and i not in hinted] or \
                   [i for i, s in enumerate(status) if s != "correct"] or list(range(len(units)))
            i = rng.choice(todo)
        else:
            i = todo[0]
        return rng.choice(TEACHER["Hint"]).format(en=_gloss(units[i], i), it=units[i]["it"])
    if name == "Correction":
        wrong = [i for i, s in enumerate(status) if s == "wrong"]
        missing = [i for i, s in enumerate(status) if s == "missing"]
        i = wrong[0] if wrong else (missing[0] if missing else rng.randrange(len(units)))
        said = attempt["said"][i] if attempt else None
        key = "Correction" if said and i in wrong else "Correction-missing"
        return rng.choice(TEACHER[key]).format(en=_gloss(units[i], i), it=units[i]["it"], said=said)
    raise KeyError(name)


def student_line(key: str, rng, **values: Any) -> str:
    return rng.choice(STUDENT[key]).format(**values)
