"""Ground-truth rules of the persuasion read from the text: has the persuadee stated a donation decision?

A decision is a statement (not a question) in the persuadee's latest line: a refusal ("I will not donate",
"I won't give anything", "I'd rather not donate") or a commitment with an amount ("I'll donate $1", "I will
give 50 cents", "I want to donate one dollar"). Hedges ("maybe", "might", "if", "not sure", "think about")
and a commitment without an amount ("I'll donate") decide nothing. Amounts above the $2 payment are capped,
as in the critic's parsing.
"""

from __future__ import annotations

import re

from .cases import PAYMENT

_WILL = r"i(?:'ll| will| would like to|'d like to| want to|'m going to| am going to| have decided to|'ve decided to)"
_REFUSAL = re.compile(rf"\b(?:i(?:'ll| will) not|i won'?t|i'?m not going to|i am not going to|i do not want to|"
                      rf"i don'?t want to|i'?d rather not|i would rather not|i (?:can'?t|cannot)|i decided not to|"
                      rf"i'?ve decided not to)\s+(?:donate|give)\b|\b{_WILL} (?:donate|give) nothing\b")
_COMMIT = re.compile(rf"\b{_WILL} (?:donate|give)\b(?P<rest>.*)")
_HEDGE = re.compile(r"\b(?:maybe|perhaps|might|if|unless|not sure|think about|probably|later|but)\b")
_WORD_AMOUNTS = {"a dollar": 1.0, "one dollar": 1.0, "two dollars": 2.0, "fifty cents": 0.5, "a quarter": 0.25,
                 "all of it": PAYMENT, "everything": PAYMENT, "the whole thing": PAYMENT}
_AMOUNT = re.compile(r"\$\s*(?P<d>\d+(?:\.\d+)?)|(?P<n>\d+(?:\.\d+)?)\s*dollars?\b|(?P<c>\d+)\s*cents?\b|"
                     + "|".join(rf"\b{re.escape(w)}\b" for w in _WORD_AMOUNTS))


def _amount(text: str) -> float | None:
    """The first amount in ``text``, in dollars, capped at the payment; None when it names none."""
    m = _AMOUNT.search(text)
    if m is None:
        return None
    if m.group("d") or m.group("n"):
        value = float(m.group("d") or m.group("n"))
    elif m.group("c"):
        value = int(m.group("c")) / 100
    else:
        value = _WORD_AMOUNTS[m.group()]
    return min(PAYMENT, value)


def stated_donation(text: str) -> float | None:
    """The donation the line decides (0.0 for a refusal), or None when it decides nothing."""
    low = (text or "").lower().replace("\u2019", "'")
    if _HEDGE.search(low):
        return None
    statements = [s for s in re.split(r"(?<=[.!?])\s+", low.strip()) if not s.rstrip().endswith("?")]
    for s in statements:
        if _REFUSAL.search(s):
            return 0.0
        m = _COMMIT.search(s)
        if m and (amount := _amount(m.group("rest"))) is not None:
            return amount
    return None


def rule_answer(text: str) -> tuple[float, str] | None:
    """The critic answer (the amount in dollars, 0.0 for a refusal) and its reason, or None."""
    amount = stated_donation(text)
    if amount is None:
        return None
    return amount, ("refusal to donate stated" if amount == 0 else f"donation of ${amount:.2f} stated")
