"""Ground-truth critique labels of the persuasion: which persuader turn hurt the donation, read from the scripted
persuadee.

Harm is in units of the persona's patience (fatigue added / patience), +1 when the turn ended the dialogue without a
donation (a final refusal, or the persona tiring of it)."""

from __future__ import annotations

from typing import Any

from workbench.env import Criterion, DialogueState

from .persuadee import GIVE_UP, read_act
from .strategies import ASKS

MISMATCH = 0.35
"""Susceptibility below which an appeal is the wrong one for this persona."""
CRITERIA = (
    Criterion("premature-ask", "asking for a donation before the persuadee is willing, which gets a refusal"),
    Criterion("pressure-too-early", "donation details to someone not yet inclined to give, which reads as pressure"),
    Criterion("repeated-argument", "repeating an argument already made, which tires the persuadee"),
    Criterion("mismatched-appeal", "an appeal that does not fit this persuadee's values"),
)


def turn_flaw(before: dict[str, Any], after: dict[str, Any], state: DialogueState) -> tuple[float, str] | None:
    """The persuader turn's harm and criterion (module docstring); None for a harmless turn."""
    if before.get("status") != "open":
        return None
    act = read_act(state.turns[-2])
    tired = after["f"] - before["f"]
    lost = 1.0 if after["status"] == "decided" and not after["donation"] else 0.0
    if act in ASKS:
        refused = after["refusals"] > before["refusals"]
        return (tired / before["patience"] + lost, "premature-ask") if refused else None
    if tired <= 0:
        return None
    harm = tired / before["patience"] + lost
    if act == "donation-information" and before["w"] < GIVE_UP:
        return harm, "pressure-too-early"
    if before["used"].get(act, 0):
        return harm, "repeated-argument"
    if act in before["s"] and before["s"][act] < MISMATCH:
        return harm, "mismatched-appeal"
    return (harm, "repeated-argument") if lost else None
