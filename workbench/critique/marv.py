"""Multi-Agent Revision Validation (MARV; MultiCritique, Lan et al. 2024, Sec. 3.3): a preference pair of two
critiques of the same response is kept only when revising the response with the chosen critique gives better
revisions, on average over ``k`` revisions each, than revising it with the rejected one.

Here a critique's revision rewrites the agent turn its most severe ACU points at (the rest of the dialogue replayed
against the same simulator), and the revision's score is the replayed dialogue's return from the environment's critic
(the ground truth for a scripted simulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Sequence


@dataclass
class Validated:
    """One response's candidate critiques (their text) with the scores of each one's revisions (empty: it could not
    be validated, e.g. a critique without ACUs)."""

    prompt: str
    critiques: list[str]
    scores: list[list[float]] = field(default_factory=list)


def marv_pairs(groups: Sequence[Validated], *, margin: float = 0.0, max_pairs: int = 4) -> list[dict[str, str]]:
    """TRL preference rows (``prompt`` / ``chosen`` / ``rejected``): for each group, the pairs of distinct critiques
    whose mean revision scores differ by more than ``margin`` (the higher chosen), the widest gaps first, at most
    ``max_pairs``."""
    rows = []
    for group in groups:
        means = [(mean(s), text) for s, text in zip(group.scores, group.critiques, strict=True) if s]
        pairs = sorted(((a - b, ta, tb) for a, ta in means for b, tb in means if a - b > margin and ta != tb),
                       key=lambda p: -p[0])
        seen: set[tuple[str, str]] = set()
        for _, chosen, rejected in pairs:
            if (chosen, rejected) not in seen and len(seen) < max_pairs:
                seen.add((chosen, rejected))
                rows.append({"prompt": group.prompt, "chosen": chosen, "rejected": rejected})
    return rows
