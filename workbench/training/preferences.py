"""Preference data built from episodes and from people's feedback.

- **By return** (``by="return"``): episodes that share the dialogue up to an agent turn (the same
  case and the same visible history, e.g. k self-play rollouts of one case) are rollouts from one
  dialogue state; the agent turn of the one with the highest return from that turn on is
  *chosen*, the one with the lowest *rejected* (best against worst of k).
- **By critic verdict** (``by="critic"``): the same groups, scored by the critic's reward of the
  turn itself rather than by what followed.
- **By hindsight** (``by="hindsight"``): regenerated branches (``provenance["branch_of"]``: the
  original episode's id, ``provenance["branch_turn"]``: the rewritten turn's index) against their
  original, the higher return from that turn chosen (Hong et al. 2024, hindsight regeneration).
- **From the app** (:func:`feedback_rows`): an edited reply is preferred to the reply it replaced
  (a pair); a like or dislike labels the reply (an unpaired, KTO-style row); and a liked reply is
  preferred to a disliked one to the same prompt (a pair: e.g. a reply and its retry).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Sequence

from workbench.episodes import Episode, to_preference
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

BY = ("return", "critic", "hindsight")


def _score(episode: Episode, index: int, by: str) -> float:
    return episode.return_from(index) if by == "return" else float(episode.turns[index].reward or 0.0)


def preference_pairs(episodes: Sequence[Episode], agent_role: str, *, by: str = "return",
                     min_margin: float = 0.0, system: str | None = None,
                     keep_fallbacks: bool = False) -> list[dict[str, Any]]:
    """TRL preference rows (conversational ``prompt``/``chosen``/``rejected``) with a score gap above
    ``min_margin``; see the module docstring for ``by``. An agent turn marked ``info["fallback"]`` (its
    text is a template line, not the model's) is never chosen or rejected unless ``keep_fallbacks``; how
    many were left out is logged."""
    if by not in BY:
        raise WorkbenchError(f"unknown pairing {by!r} (use {', '.join(BY)})")
    if by == "hindsight":
        return _hindsight_pairs(episodes, agent_role, min_margin, system, keep_fallbacks)
    groups: dict[tuple, list[Episode]] = defaultdict(list)
    left_out = 0
    for e in episodes:
        for i, t in enumerate(e.turns):
            if t.role == agent_role and "fallback" in t.info and not keep_fallbacks:
                left_out += 1
            elif t.role == agent_role:
                groups[(e.case.id, i, tuple((p.role, p.text) for p in e.turns[:i]))].append(e)
    _report(left_out)
    rows = []
    for (_, i, _), members in groups.items():
        distinct = {e.turns[i].text: e for e in members}
        if len(distinct) < 2:
            continue
        ranked = sorted(distinct.values(), key=lambda e: _score(e, i, by))
        worst, best = ranked[0], ranked[-1]
        if _score(best, i, by) - _score(worst, i, by) > min_margin:
            rows.append(to_preference(best, worst, i, agent_role, system))
    return rows


def _hindsight_pairs(episodes: Sequence[Episode], agent_role: str, min_margin: float,
                     system: str | None, keep_fallbacks: bool) -> list[dict[str, Any]]:
    by_id = {e.id: e for e in episodes}
    rows, left_out = [], set()
    for branch in episodes:
        original = by_id.get(branch.provenance.get("branch_of", ""))
        if original is None:
            continue
        i = int(branch.provenance["branch_turn"])
        marked = {(e.id, i) for e in (branch, original) if "fallback" in e.turns[i].info}
        if marked and not keep_fallbacks:
            left_out |= marked
            continue
        gap = branch.return_from(i) - original.return_from(i)
        if abs(gap) > min_margin:
            chosen, rejected = (branch, original) if gap > 0 else (original, branch)
            rows.append(to_preference(chosen, rejected, i, agent_role, system))
    _report(len(left_out))
    return rows


def _report(left_out: int) -> None:
    if left_out:
        log.warning("preference pairs: left out %d agent turns marked as fallbacks (keep them with keep_fallbacks)",
                    left_out)


def feedback_rows(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(pairs, unpaired)`` from app feedback records ``{"prompt": messages, "response": text,
    "rating": "like" | "dislike" | None, "edit": text | None}``."""
    import json

    pairs, unpaired = [], []
    rated: dict[str, dict[bool, list[dict[str, Any]]]] = defaultdict(lambda: {True: [], False: []})
    for n, r in enumerate(records):
        if "prompt" not in r or "response" not in r:
            raise WorkbenchError(f"feedback record {n} lacks 'prompt' or 'response'")
        reply = [{"role": "assistant", "content": r["response"]}]
        if r.get("edit") and r["edit"] != r["response"]:
            pairs.append({"prompt": r["prompt"], "chosen": [{"role": "assistant", "content": r["edit"]}],
                          "rejected": reply})
        if r.get("rating") in ("like", "dislike"):
            unpaired.append({"prompt": r["prompt"], "completion": reply, "label": r["rating"] == "like"})
            group = rated[json.dumps(r["prompt"], sort_keys=True)][r["rating"] == "like"]
            if reply not in group:
                group.append(reply)
        elif r.get("rating") is not None:
            raise WorkbenchError(f"feedback record {n}: rating must be like, dislike or null, got {r['rating']!r}")
    for key, replies in rated.items():
        pairs += [{"prompt": json.loads(key), "chosen": good, "rejected": bad}
                  for good in replies[True] for bad in replies[False]]
    return pairs, unpaired
