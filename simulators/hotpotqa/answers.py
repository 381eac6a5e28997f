"""HotpotQA's answer scoring (Yang et al., EMNLP 2018; the official ``hotpot_evaluate_v1.py`` rules, the SQuAD
normalisation): exact match and token F1 after lower-casing and removing punctuation, the articles a / an / the and
extra whitespace. As in the official script, when either answer normalises to yes, no or noanswer, F1 is 0 unless
the two are equal.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(truth)


def f1(prediction: str, truth: str) -> float:
    """Token F1 of the normalised answers (0 for a yes / no / noanswer mismatch)."""
    pred, gold = normalize_answer(prediction), normalize_answer(truth)
    if (pred in _SPECIAL or gold in _SPECIAL) and pred != gold:
        return 0.0
    common = Counter(pred.split()) & Counter(gold.split())
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred.split()), same / len(gold.split())
    return 2 * precision * recall / (precision + recall)
