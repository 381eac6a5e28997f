"""Merging several critics' critiques into one (MultiCritique, Lan et al. 2024, Sec. 3.2: ACUs rated by a
meta-critic, the best merged into the SFT target).

ACUs of different critics that point at the same agent turn with the same criterion are one flaw (a cluster). A
cluster is kept when the meta-critic's parsed ratings of its ACUs say "correct" by majority; a cluster none of whose
ACUs got a parsable rating is kept only when at least two critics found it (counted as ``unrated``). Kept clusters
are ordered by importance (the meta-critic's, else the members' median severity, which becomes the merged ACU's
severity) and then by how many critics found them; the first ``max_acus`` make the merged critique. Its verdict is
the critics' majority and its score their median, unless given (a ground-truth meta-critic knows both).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Sequence

from workbench.critique.acu import ACU, Critique, clamp_severity


@dataclass(frozen=True)
class Rating:
    """The meta-critic's rating of one ACU: correct or not, and its importance 1-10 (None: not said)."""

    correct: bool
    importance: int | None = None


def merge_critiques(critiques: Sequence[Critique], ratings: Sequence[Sequence[Rating | None]], *, max_acus: int = 3,
                    verdict: str | None = None, score: float | None = None) -> Critique:
    """One critique from ``critiques`` (``ratings[i][j]`` rates ``critiques[i].acus[j]``; None: unparsable)."""
    clusters: dict[tuple[int, str], list[tuple[ACU, Rating | None]]] = {}
    for critique, rated in zip(critiques, ratings, strict=True):
        for acu, rating in zip(critique.acus, rated, strict=True):
            clusters.setdefault((acu.turn, acu.criterion), []).append((acu, rating))
    kept, unrated = [], 0
    for members in clusters.values():
        parsed = [r for _, r in members if r is not None]
        if parsed:
            if sum(r.correct for r in parsed) * 2 <= len(parsed):
                continue
            said = [r.importance for r in parsed if r.correct and r.importance is not None]
        elif len(members) >= 2:
            unrated, said = unrated + 1, []
        else:
            continue
        importance = median(said) if said else median(a.severity for a, _ in members)
        first = next((a for a, _ in members if a.flaw), members[0][0])
        kept.append((importance, len(members), ACU(first.turn, first.criterion, clamp_severity(importance),
                                                   first.flaw, first.suggestion)))
    kept.sort(key=lambda k: (-k[0], -k[1]))
    verdicts = [c.verdict for c in critiques if c.verdict is not None]
    scores = [c.score for c in critiques if c.score is not None]
    if verdict is None and verdicts:
        verdict = Counter(verdicts).most_common(1)[0][0]
    if score is None and scores:
        score = float(median(scores))
    merged = Critique([acu for _, _, acu in kept[:max_acus]], verdict, score)
    merged.info = {"critics": len(critiques), "proposed": sum(len(c.acus) for c in critiques),
                   "clusters": len(clusters), "kept": len(merged.acus), "unrated": unrated}
    return merged
