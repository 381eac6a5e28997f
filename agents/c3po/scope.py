"""Scope of a feedback: which prompts it applies to (in-scope), which are related but must not change
(near-scope), and which are unrelated (out-of-scope).

RLVF asks a strong model for the categories of each scope and trusts its prompts (Stephan et al.,
ICML 2024, Sec. 3.1); here every candidate prompt, written or drawn from the pool, is also checked
with the embedded sentence encoder: its cosine similarity to the in-scope descriptions (``s_in``)
and to the near-scope ones (``s_near``) decides its scope, and prompts that fall between are left out.
The same rule routes a conversation to the adapter whose scope it falls in (``ScopeRouter``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from langchain_core.messages import BaseMessage

from agents.c3po.prompts import Prompt, scope_text

SCOPES = ("in", "near", "out")
_CONDITION = re.compile(r"^\s*(?:when(?:ever)?|if|while|for)\s+(.{3,120}?)\s*,", re.I)


def condition_of(feedback: str) -> str | None:
    """The situation a conditional feedback names ("When bargaining for a bike, ..." -> "bargaining for a
    bike"), or None."""
    match = _CONDITION.search(feedback)
    return match.group(1) if match else None


def similarities(encoder: Any, vectors: Any, in_texts: Sequence[str],
                 near_texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """Per text (``vectors``: its ``encoder.encode`` unit vector), its largest cosine similarity to the in-scope
    descriptions and to the near-scope ones (-1 without any)."""
    s_in = (vectors @ encoder.encode(list(in_texts)).T).max(dim=1).values.tolist()
    s_near = ((vectors @ encoder.encode(list(near_texts)).T).max(dim=1).values.tolist() if near_texts
              else [-1.0] * len(vectors))
    return s_in, s_near


def in_scope(s_in: float, s_near: float, threshold_in: float) -> bool:
    return s_in >= threshold_in and s_in > s_near


def assign_scopes(prompts: Sequence[Prompt], encoder: Any, in_texts: Sequence[str],
                  near_texts: Sequence[str], *, threshold_in: float, threshold_out: float) -> Counter:
    """Set each prompt's ``scope`` (in, near, out, or "" when ambiguous) and its similarities in ``meta``.

    In: ``s_in >= threshold_in`` and ``s_in > s_near``. Near: ``s_near >= threshold_out`` and ``s_near >= s_in``;
    without near-scope descriptions, any other prompt from an environment that also holds in-scope prompts.
    Out: both similarities below ``threshold_out``. Returns the counts per scope.
    """
    if not prompts:
        return Counter()
    s_in, s_near = similarities(encoder, encoder.encode([p.text for p in prompts]), in_texts, near_texts)
    for p, a, b in zip(prompts, s_in, s_near):
        p.meta.update(s_in=round(a, 4), s_near=round(b, 4))
        p.scope = "in" if in_scope(a, b, threshold_in) else ""
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


@dataclass
class Scope:
    """Where one adapter's feedback applies: its in-scope and near-scope descriptions and threshold."""

    categories: list[str]
    near_categories: list[str]
    threshold_in: float


class ScopeRouter:
    """A ``LocalChatModel`` router (``add_router``): each conversation goes to the adapter whose scope it is in
    by the rule its data were made with (``s_in >= threshold_in`` and ``s_in > s_near``; of several, the most
    similar), or to the base model when it is in none. So several feedbacks combine without their weight
    updates meeting, and everywhere else the model is exactly the base model."""

    def __init__(self, encoder: Any, scopes: dict[str, Scope]):
        self.encoder, self.scopes = encoder, scopes

    def __call__(self, conversations: Sequence[Sequence[BaseMessage]]) -> list[str | None]:
        vectors = self.encoder.encode([scope_text(c) for c in conversations])
        best: list[tuple[float, str | None]] = [(-2.0, None)] * len(vectors)
        for name, scope in self.scopes.items():
            s_in, s_near = similarities(self.encoder, vectors, scope.categories, scope.near_categories)
            best = [max(b, (a, name)) if in_scope(a, n, scope.threshold_in) else b
                    for b, a, n in zip(best, s_in, s_near)]
        return [name for _, name in best]
