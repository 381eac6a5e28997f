"""Ground-truth rules of the negotiation read from the text: has a price been agreed?

A line *accepts* when one of its statements (not a question) says so ("Deal!", "It's yours.", "$12,000
works for me.", "I'll take it for $12,000.", or a bare "Ok." / "Sure, $12,000.") and no part of it hedges,
refuses or counters ("no", "not", "can't", "but", "if", "how about", "my lowest", "... and you have a deal").
An accepting line agrees to the offer of the other side's turn right before it: every number it names must
be that offer's price, and a line without a number takes that offer. Two ways to a deal after a user turn:
the user's line accepts the agent's offer, or the agent's line accepted the user's offer and the user's
reply does not take it back.
"Would you take $12,000?" is a question, "ok, $12,500 is my lowest" a counter: neither is a deal.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.episodes import Turn

from .prices import buyer_offer, fmt, seller_ask

_PRICE_TOKEN = re.compile(r"\$\s*\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s*(?:dollars?|bucks|usd)\b"
                          r"|\b\d{1,3}(?:,\d{3})+\b")
_HOLD_BACK = re.compile(
    r"\b(?:no|not|never|nope|nah|can'?t|cannot|won'?t|don'?t|doesn'?t|isn'?t|wouldn'?t|couldn'?t|but|however|"
    r"unless|if|how about|what about|would you|could you|can you|will you|maybe|perhaps|lowest|highest|least|"
    r"most|firm|final|too|instead|counter|think about)\b"
    r"|\band (?:you'?ve got|you have|you got|it'?s|we have|we'?ve got|we got) (?:a |yourself a )?deal\b")
_ACCEPT = re.compile(
    r"^deal\b|^sold\b"
    r"|\b(?:it'?s|that'?s|we have|we'?ve got|you'?ve got|you have|you got) (?:a|yourself a) deal\b"
    r"|\b(?:agreed|accepted|i accept|(?:i|we) agree to)\b"
    r"|\bit'?s yours\b|\byou(?:'ve| have)? got it\b"
    r"|\bi(?:'ll| will) (?:take|buy) (?:it|that|pricetoken|your offer|the offer)\b"
    r"|\b(?:that|this|it|pricetoken) (?:works|will work|would work)\b|\bworks for me\b"
    r"|\bsounds (?:good|great|fair|fine)\b"
    r"|\bi (?:can|could) do (?:that|it|pricetoken)\b"
    r"|\blet'?s (?:do|go with) (?:it|that|pricetoken)\b"
    r"|\bpricetoken it is\b")
_HAGGLE = re.compile(r"\d|pricetoken"
                     r"|\b(?:lower|less|down|discount|cheaper|better|higher|more|instead|how about|what about)\b")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_REFUSE = re.compile(r"\b(?:no|not|never|nope|nah|can'?t|cannot|won'?t|don'?t|wait|actually|but|changed my mind)\b")
_SHORT_YES = re.compile(
    r"^(?:ok|okay|sure|alright|all right|fine|yes|yeah|yep|great|perfect)"
    r"(?:[ ,]+(?:then|deal|done|pricetoken))*[ .!]*$")


def accepts(text: str) -> bool:
    """Whether the line accepts an offer (module docstring); never a question, a hedge or a counter (also
    not one asked: "Sounds good. Could you do $12,500?"). A bare "Ok." / "Sure, $N." counts only as the
    whole line."""
    low = _PRICE_TOKEN.sub("pricetoken", (text or "").lower().replace("\u2019", "'"))
    sentences = re.split(r"(?<=[.!?])\s+", low.strip())
    statements = [s.strip(" .!") for s in sentences if not s.rstrip().endswith("?")]
    questions = [s for s in sentences if s.rstrip().endswith("?")]
    if any(_HOLD_BACK.search(s) for s in statements) or any(_HAGGLE.search(q) for q in questions):
        return False
    if len(sentences) == 1 and statements and _SHORT_YES.match(statements[0]):
        return True
    return any(_ACCEPT.search(s) for s in statements)


def takes_back(text: str) -> bool:
    """Whether a reply refuses or goes back on a deal ("no", "wait", "actually", "but", ...)."""
    return bool(_REFUSE.search((text or "").lower().replace("\u2019", "'")))


def _offer(turn: Turn, buyer_role: str) -> float | None:
    """The price a turn offers: the buyer's lowest amount named, the seller's last one."""
    return buyer_offer(turn.text) if turn.role == buyer_role else seller_ask(turn.text)


def _accepted_price(offer_turn: Turn, accept_turn: Turn, buyer_role: str) -> float | None:
    """The price ``accept_turn`` agrees to when it accepts ``offer_turn``'s offer, else None."""
    if offer_turn.role == accept_turn.role or not accepts(accept_turn.text):
        return None
    offer = _offer(offer_turn, buyer_role)
    numbers = {float(n.replace(",", "")) for n in _NUMBER.findall(accept_turn.text)}
    return offer if offer is not None and numbers <= {offer} else None


def agreed_price(turns: Sequence[Turn], buyer_role: str) -> float | None:
    """The price agreed in the last turns (module docstring), or None."""
    if len(turns) >= 2:
        price = _accepted_price(turns[-2], turns[-1], buyer_role)
        if price is not None:
            return price
    if len(turns) >= 3 and not takes_back(turns[-1].text):
        return _accepted_price(turns[-3], turns[-2], buyer_role)
    return None


def rule_answer(turns: Sequence[Turn], buyer_role: str) -> tuple[tuple[str, float], str] | None:
    """The critic answer ``("deal", price)`` and its reason when a price was agreed, else None."""
    price = agreed_price(turns, buyer_role)
    return None if price is None else (("deal", price), f"price agreed at {fmt(price)}")
