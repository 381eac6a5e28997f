"""Scope of a feedback: which prompts it applies to (in-scope), which are related but must not change
(near-scope), and which are unrelated (out-of-scope).

RLVF asks a strong model for the categories of each scope and trusts its prompts (Stephan et al.,
ICML 2024, Sec. 3.1); here every candidate prompt, written or drawn from the pool, is also checked
with the embedded sentence encoder: its cosine similarity to the in-scope descriptions (``s_in``)
and to the near-scope ones (``s_near``) decides its scope, and prompts that fall between are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from agents.c3po.prompts import Prompt
from workbench.llm.embedded import SentenceEncoder

SCOPES = ("in", "near", "out")
_CONDITION = re.compile(r"^\s*(?:when(?:ever)?|if|while|for)\s+(.{3,120}?)\s*,", re.I)


def condition_of(feedback: str) -> str | None:
    """The situation a conditional feedback names ("When bargaining for a bike, ..." -> "bargaining for a
    bike"), or None."""
    match = _CONDITION.search(feedback)
    return match.group(1) if match else None


def assign_scopes(prompts: Sequence[Prompt], encoder: SentenceEncoder, in_texts: Sequence[str],
                  near_texts: Sequence[str], *, threshold_in: float, threshold_out: float) -> Counter:
    """Set each prompt's ``scope`` (in, near, out, or "" when ambiguous) and its similarities in ``meta``.

    In: ``s_in >= threshold_in`` and ``s_in > s_near``. Near: ``s_near >= threshold_out`` and ``s_near >= s_in``;
    without near-scope descriptions, any other prompt from an environment that also holds in-scope prompts.
    Out: both similarities below ``threshold_out``. Returns the counts per scope.
    """
    if not prompts:
        return Counter()
    texts = encoder.encode([p.text for p in prompts])
    s_in = (texts @ encoder.encode(list(in_texts)).T).max(dim=1).values.tolist()
    s_near = ((texts @ encoder.encode(list(near_texts)).T).max(dim=1).values.tolist() if near_texts
              else [-1.0] * len(prompts))
    for p, a, b in zip(prompts, s_in, s_near):
        p.meta.update(s_in=round(a, 4), s_near=round(b, 4))
        p.scope = "in" if a >= threshold_in and a > b else ""
    in_sources = {p.source for p in prompts if p.scope == "in"} - {"generic", "generated"}
    for p, a, b in zip(prompts, s_in, s_near):
        if p.scope:
            continue
        if near_texts:
            near = b >= threshold_out and b >= a
        else:
            near = p.source in in_sources
        p.scope = "near" if near else "out" if max(a, b) < threshold_out else ""
    return Counter(p.scope or "ambiguous" for p in prompts)
