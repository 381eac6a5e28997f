"""LLM role-play prompts and the critic's answer parsing for the marketplace.

The Assistant is told every option's real features and prices and asked to help the Customer choose; the
Customer is told only the names and prices, what it needs and its budget, and decides from what the
Assistant says. The critic is asked what the Customer bought ("The customer bought NAME.", "The customer
bought nothing." or "No decision yet."); the reward is the true utility of that decision (:mod:`.cases`).
"""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage

from workbench.env import DialogueState, Strategy, Verdict
from workbench.roleplay import critic_messages, role_prompt

from .cases import true_utility

UNDECIDED = "No decision yet."
NOTHING = "The customer bought nothing."
CRITIC_SYSTEM = ("Given a conversation between a shopping Assistant and a Customer, say what the Customer decided. "
                 f'Reply with only "The customer bought NAME.", "{NOTHING}" or "{UNDECIDED}"')
CRITIC_QUESTION = "Question: What did the Customer buy?"
_CRITIC_SHOTS = (("Assistant: The Brio 5X has HDR.\nCustomer: Great, I'll buy the Brio 5X.",
                  "The customer bought Brio 5X."),
                 ("Assistant: They're all popular.\nCustomer: But which one has HDR?", UNDECIDED))


def _catalogue(state: DialogueState, with_features: bool) -> str:
    rows = []
    for o in state.case.fields["options"]:
        extra = f", features: {', '.join(o['features'])}" if with_features else ""
        rows.append(f"- {o['name']}: ${o['price']}{extra}")
    return "\n".join(rows)


def user_prompt(state: DialogueState) -> list[BaseMessage]:
    f = state.case.fields
    system = ("Now enter the role-playing mode. You play the Customer, shopping for a "
              f"{f['product']}. You need {f['need']} and your budget is ${f['budget']}. You only know the names and "
              f"prices:\n{_catalogue(state, False)}\nDecide from what the Assistant tells you; when you decide, say "
              "\"I'll buy the NAME\" or that you won't buy anything. Reply with only one short sentence.")
    return role_prompt(system, state, state.user_role)


def agent_prompt(state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
    system = ("Now enter the role-playing mode. You play the Assistant of a shop, helping the Customer choose. You "
              f"know every option's real features and price:\n{_catalogue(state, True)}\n"
              "Reply with only one or two short sentences.")
    return role_prompt(system, state, state.agent_role, strategy)


def critic_prompt(state: DialogueState) -> list[BaseMessage]:
    return critic_messages(CRITIC_SYSTEM, _CRITIC_SHOTS, CRITIC_QUESTION, state)


def parse_verdict(text: str) -> str | None:
    """``"undecided"``, ``""`` (nothing bought), the words after "bought" (an option's name, checked against the
    case by :func:`aggregate_verdicts`), or None when unparsable."""
    low = (text or "").strip().lower()
    if "no decision" in low or "undecided" in low:
        return "undecided"
    if "nothing" in low or "didn't buy" in low or "did not buy" in low:
        return ""
    match = re.search(r"\bbought\s+(?:the\s+)?([^.!\n]+)", low)
    return match.group(1).strip() if match else None


def aggregate_verdicts(state: DialogueState, parsed: list) -> Verdict:
    """The majority decision among parsed samples (names checked against the case); undecided otherwise.
    A vote for a product the case does not offer is dropped and counted in ``info["dropped_votes"]``."""
    names = [o["name"] for o in state.case.fields["options"]]
    votes = [p if p == "" else next((n for n in names if n.lower() in p), None) for p in parsed
             if p != "undecided"]
    decisions = [d for d in votes if d is not None]
    dropped = len(votes) - len(decisions)
    if not decisions or len(decisions) * 2 <= len(parsed):
        last = state.agent_turns >= state.max_turns
        return Verdict(reward=true_utility(state.case, None) if last else 0.0, done=last, success=False,
                       info={"bought": None, "decided": last, "dropped_votes": dropped})
    bought = max(set(decisions), key=decisions.count) or None
    utility = true_utility(state.case, bought)
    return Verdict(reward=utility, done=True, success=utility > 0,
                   info={"bought": bought, "decided": True, "dropped_votes": dropped})
