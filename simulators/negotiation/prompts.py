"""LLM role-play prompts (PPDPP-style) and the critic's answer parsing for the negotiation.

Following PPDPP (Deng et al., ICLR 2024, Sec. 3 and Appendix): the seller and the buyer are
role-played by a chat model that sees its role, the item and its own price, and is asked for one
short sentence; the LLM seller knows only the list price (never the scripted seller's
reservation). The critic is asked "Have they reached a deal?" and must answer with one of two
fixed sentences, "They have reached a deal at $N." or "They have not reached a deal.".

Messages: the speaking role's own turns are ``AIMessage(name=role)``, the other side's
``HumanMessage(name=role)``, so a chat model generates the next line of its role and a base
model sees a "Buyer: ...\\nSeller: ..." transcript. The few-shot example of the role-play
prompts sits inside the system message (marked as a different item), so that the example never
reads as part of the real dialogue; the strategy instruction closes the buyer's system message.

Critic aggregation differs from PPDPP's code in two documented ways: PPDPP's code scores any
"have not" sample as no deal, here the majority of parsed samples decides (ties: no deal); and
a deal vote counts only at a price named in the dialogue (small critics copy the few-shot
price). The price is the most common parsed price (ties: the first seen), as in PPDPP.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from langchain_core.messages import BaseMessage

from workbench.env import DialogueState, Strategy, Verdict
from workbench.roleplay import critic_messages, role_prompt

from .cases import sl_ratio
from .prices import fmt, parse_prices

NO_DEAL_REWARD = -0.1  # PPDPP's reward for every turn that ends without a deal

_SELLER_EXAMPLE = ("Buyer: Would you take $40 for the lamp?\n"
                   "Seller: It's barely used and worth more, but I could do $55.")
_BUYER_EXAMPLE = ("Seller: It's barely used and worth more, but I could do $55.\n"
                  "Buyer: It has a scratch on the base, so would you take $45?")

CRITIC_SYSTEM = ("Given a conversation between a Buyer and a Seller, decide whether the Buyer and the Seller "
                 "have reached a deal at the end of the conversation, and if so at what price. Reply with only "
                 "one of these sentences: \"They have reached a deal at $[price].\" or "
                 "\"They have not reached a deal.\"")
CRITIC_QUESTION = "Question: Have they reached a deal? If they have, at what price?"
_CRITIC_SHOTS = (
    ("Buyer: Can we meet in the middle at $80?\nSeller: Sure, $80 works for me, it's yours.",
     "They have reached a deal at $80."),
    ("Buyer: That's still too high, could you go lower?\nSeller: Alright, I could let it go for $120.",
     "They have not reached a deal."),
)


def _brief(text: str, limit: int = 240) -> str:
    """A listing description cut at a word boundary, so prompts stay short for small models."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _price(x: Any) -> str:
    return fmt(float(x))


def user_prompt(state: DialogueState) -> list[BaseMessage]:
    """The LLM seller's prompt (PPDPP's user simulator for CB)."""
    f = state.case.fields
    system = (f"Now enter the role-playing mode. In the following conversation you play the Seller in a price "
              f"bargaining game. You are selling the {f['item_name']} listed at {_price(f['seller_price'])}. "
              f"Product description: {_brief(f['seller_item_description'])}\n"
              f"Negotiate to sell it at a price as high as possible. Reply with only one short and succinct "
              f"sentence, and name your price as $N when you make an offer.\n"
              f"Example (a different item):\n{_SELLER_EXAMPLE}")
    return role_prompt(system, state, state.user_role)


def agent_prompt(state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
    """The LLM buyer's prompt; ``strategy`` None gives a free-form buyer without an instruction."""
    f = state.case.fields
    system = (f"Now enter the role-playing mode. In the following conversation you play the Buyer in a price "
              f"bargaining game. You are trying to buy the {f['item_name']} for {_price(f['buyer_price'])}. "
              f"Product description: {_brief(f['buyer_item_description'])}\n"
              f"Reply with only one short and succinct sentence, and write any price as $N.\n"
              f"Example (a different item):\n{_BUYER_EXAMPLE}")
    return role_prompt(system, state, state.agent_role, strategy)


def critic_prompt(state: DialogueState) -> list[BaseMessage]:
    """PPDPP's deal question with two few-shot answers (a deal, no deal) and the real dialogue."""
    return critic_messages(CRITIC_SYSTEM, _CRITIC_SHOTS, CRITIC_QUESTION, state)


_NO_DEAL = re.compile(r"\b(have not|has not|haven'?t|hasn'?t|did not|didn'?t|not reached|no deal|not yet|"
                      r"not agreed|no agreement)\b")
_DEAL = re.compile(r"\b(reached an? (?:deal|agreement)|deal at|agreed (?:on|at|to))\b")
_NUMBER = re.compile(r"[-+]?\d*\.?\d+")


def parse_verdict(text: str) -> tuple[str, float | None] | None:
    """One critic answer: ``("deal", price)``, ``("no deal", None)``, or None when unparsable.

    A negation ("have not", "not reached", "no deal", ...) means no deal, whatever follows. A
    deal phrase ("reached a deal", "deal at", "agreed on") needs a price: the first number after
    removing thousands commas (PPDPP's rule). A deal phrase without a number is unparsable (None):
    the answer form asks for the price and the reward cannot be computed without it. Anything
    else is unparsable.
    """
    low = (text or "").strip().lower()
    if _NO_DEAL.search(low):
        return ("no deal", None)
    if _DEAL.search(low):
        m = _NUMBER.search(low.replace(",", ""))
        return ("deal", float(m.group())) if m else None
    return None


def aggregate_verdicts(state: DialogueState, parsed: list[tuple[str, float | None]]) -> Verdict:
    """PPDPP's CB reward from the parsed samples: a majority of deal votes (strictly more than the
    no-deal votes) is a deal at the most common price (ties: first seen) with reward = SL ratio
    and done; otherwise (also when nothing parsed) reward -0.1, not done.

    A deal vote counts only if its price was named in the dialogue: a price nobody offered is the
    critic's invention (small models copy the few-shot answer's price), and an unclipped SL ratio
    of such a price would swamp SL%. Such votes are ignored, like unparsable samples, and counted in
    ``info["dropped_votes"]``."""
    named = {p for t in state.turns for p in parse_prices(t.text)}
    votes = [p for kind, p in parsed if kind == "deal"]
    deals = [p for p in votes if p in named]
    no_deals = sum(kind == "no deal" for kind, _ in parsed)
    dropped = len(votes) - len(deals)
    if deals and len(deals) > no_deals:
        counts = Counter(deals)
        top = max(counts.values())
        price = next(p for p in deals if counts[p] == top)  # mode; ties -> first seen
        f = state.case.fields
        reward = sl_ratio(price, float(f["buyer_price"]), float(f["seller_price"]))
        return Verdict(reward=reward, done=True, success=True,
                       info={"deal": True, "price": price, "dropped_votes": dropped})
    return Verdict(reward=NO_DEAL_REWARD, done=False, success=False,
                   info={"deal": False, "price": None, "dropped_votes": dropped})
