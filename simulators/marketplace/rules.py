"""Ground-truth rules of the marketplace read from the text: has the customer stated a purchase?

A decision is a statement (not a question) in the customer's latest line: buying one named option ("I'll buy
the Brio 5X", "I will take the Corvo 70", "I'm going to get the Aster 3S") or buying nothing ("I won't buy
anything", "I'll look elsewhere"). A line naming two options, hedging ("maybe", "might", "if", "think
about") or negating the purchase of an option decides nothing.
"""

from __future__ import annotations

import re
from typing import Sequence

_WILL = r"i(?:'ll| will|'d like to| would like to|'m going to| am going to| have decided to|'ve decided to)"
_BUY = re.compile(rf"\b{_WILL} (?:buy|take|get|go with|purchase)\b(?P<rest>.*)")
_NOTHING = re.compile(r"\bi (?:won'?t|will not|am not going to|'m not going to|do not want to|don'?t want to) "
                      r"(?:buy|get|take) (?:anything|any of them|any of these|one)\b"
                      rf"|\b{_WILL} (?:buy nothing|look elsewhere|pass on all of them)\b")
_NEGATION = re.compile(r"\b(?:not|never|no)\b|n't\b")
_HEDGE = re.compile(r"\b(?:maybe|perhaps|might|if|unless|not sure|think about|probably|or)\b")


def stated_purchase(text: str, names: Sequence[str]) -> str | None:
    """The option the line buys, ``""`` for nothing, or None when it decides nothing."""
    low = (text or "").lower().replace("\u2019", "'")
    if _HEDGE.search(low):
        return None
    for s in re.split(r"(?<=[.!?])\s+", low.strip()):
        if s.rstrip().endswith("?"):
            continue
        if _NOTHING.search(s):
            return ""
        m = _BUY.search(s)
        if m is None or _NEGATION.search(s):
            continue
        named = [n for n in names if n.lower() in m.group("rest")]
        if len(named) == 1:
            return named[0]
    return None


def rule_answer(text: str, names: Sequence[str]) -> tuple[str, str] | None:
    """The critic answer (the option's name in lower case, ``""`` for nothing) and its reason, or None."""
    bought = stated_purchase(text, names)
    if bought is None:
        return None
    return bought.lower(), (f"purchase of the {bought} stated" if bought else "decision to buy nothing stated")
