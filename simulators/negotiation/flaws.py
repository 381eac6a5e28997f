"""Ground-truth critique labels of the negotiation: which buyer turn hurt the deal, read from the scripted seller.

Harm is in units of the seller's patience (annoyance added / patience, +1 when it made the seller walk away), or, for
a deal, the share of the bargaining range (list - reservation) the buyer gave away above the price the seller would
still have come down to at that point (its effective floor)."""

from __future__ import annotations

from typing import Any

from workbench.env import Criterion, DialogueState

from .seller import floor, read_move

CRITERIA = (
    Criterion("lowball", "an offer far below what the seller can accept, made without a reason"),
    Criterion("rude-language", "insulting or scornful words about the item or the seller"),
    Criterion("dismissive", "denying or disagreeing without making an offer"),
    Criterion("stalling", "small talk after the seller has asked for a price"),
    Criterion("premature-acceptance", "agreeing to a price the seller would still have lowered"),
)


def turn_flaw(before: dict[str, Any], after: dict[str, Any], state: DialogueState) -> tuple[float, str] | None:
    """The buyer turn's harm and criterion (module docstring); None for a harmless turn."""
    if before.get("status") != "open":
        return None
    act, _, rude = read_move(state.turns[-2])
    if after["status"] == "deal":
        given = after["price"] - floor(before)
        span = max(before["list"] - before["reservation"], 1e-9)
        return (given / span, "premature-acceptance") if given > before["unit"] else None
    added = after["annoyance"] - before["annoyance"]
    if added <= 0:
        return None
    harm = added / before["patience"] + (1.0 if after["status"] == "walked" else 0.0)
    if rude:
        return harm, "rude-language"
    if after["lowballs"] > before["lowballs"]:
        return harm, "lowball"
    return harm, "stalling" if act not in ("deny", "disagree") else "dismissive"
