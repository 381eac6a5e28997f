"""LLM role-play prompts and the critic's answer parsing for persuasion.

The Persuadee is role-played by a chat model given a persona written from the case's profile (the traits
that stand out of PersuasionForGood's survey) and told it earned $2 it may donate; the Persuader is asked to
persuade it to donate part of the payment to Save the Children (Wang et al., ACL 2019). Both reply with one
short sentence; a planner's strategy instruction closes the Persuader's system message.

The critic is asked whether the Persuadee has decided, and must answer "No decision yet." or "The persuadee
will donate $X." ($0 for a refusal). The reward is the donation on the turn a decision is reached (the
median of the parsed amounts, which need a majority of the samples to agree that there is one), 0 before.
At the last turn without a decision the donation is 0.
"""

from __future__ import annotations

import re
from statistics import median

from langchain_core.messages import BaseMessage

from workbench.env import DialogueState, Strategy, Verdict
from workbench.roleplay import critic_messages, role_prompt

from .cases import PAYMENT
from .persuadee import SCALES, z

UNDECIDED = "No decision yet."
_PERSUADEE_EXAMPLE = ("Persuader: Would you like to donate part of your payment to Save the Children?\n"
                      "Persuadee: Maybe a little, but first tell me what they do.")
_PERSUADER_EXAMPLE = ("Persuadee: I'm not sure, I don't know much about that charity.\n"
                      "Persuader: Save the Children has helped kids in over 100 countries since 1919.")
CRITIC_SYSTEM = ("Given a conversation between a Persuader and a Persuadee, tell whether the Persuadee has decided "
                 f'how much of their $2 to donate. Reply with only "{UNDECIDED}" or "The persuadee will donate $X."')
CRITIC_QUESTION = "Question: Has the Persuadee decided to donate, and how much?"
_CRITIC_SHOTS = (
    ("Persuader: Would you donate some of your payment?\nPersuadee: Let me think about it.", UNDECIDED),
    ("Persuader: How much would you like to donate?\nPersuadee: Okay, I'll give 50 cents.",
     "The persuadee will donate $0.50."),
)
_WORDS = {"extrovert": ("outgoing", "reserved"), "agreeable": ("agreeable", "sceptical"),
          "neurotic": ("anxious", "calm"), "open": ("curious", "conventional"), "care": ("caring", "unsentimental"),
          "rational": ("analytical", "intuitive"), "benevolence": ("generous", "careful with money")}


def persona(profile: dict) -> str:
    """A one-sentence persona from the profile's most marked traits."""
    marked = sorted(((abs(z(profile, t)), words[0] if z(profile, t) > 0 else words[1])
                     for t, words in _WORDS.items() if t in SCALES and z(profile, t) != 0), reverse=True)
    traits = ", ".join(word for _, word in marked[:3]) or "ordinary"
    age = profile.get("age")
    who = f"a {int(age)}-year-old" if isinstance(age, (int, float)) else "an adult"
    return f"You are {who}, {traits} person."


def user_prompt(state: DialogueState) -> list[BaseMessage]:
    system = ("Now enter the role-playing mode. In the following conversation you play the Persuadee. "
              f"{persona(state.case.fields.get('profile') or {})} You just earned $2 for an online task, and the "
              "Persuader will try to get you to donate some of it to Save the Children. Decide as this person would; "
              "say an amount in dollars once you decide. Reply with only one short and succinct sentence.\n"
              f"Example (a different person):\n{_PERSUADEE_EXAMPLE}")
    return role_prompt(system, state, state.user_role)


def agent_prompt(state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
    system = ("Now enter the role-playing mode. In the following conversation you play the Persuader. You are "
              "trying to persuade the Persuadee to donate part of their $2 task payment to Save the Children, a "
              "charity that helps children around the world. Reply with only one short and succinct sentence.\n"
              f"Example (a different persuadee):\n{_PERSUADER_EXAMPLE}")
    return role_prompt(system, state, state.agent_role, strategy)


def critic_prompt(state: DialogueState) -> list[BaseMessage]:
    return critic_messages(CRITIC_SYSTEM, _CRITIC_SHOTS, CRITIC_QUESTION, state)


_AMOUNT = re.compile(r"\$\s*(\d+(?:\.\d+)?)|(\d+)\s*cents?\b")
_NOTHING = re.compile(r"\b(not|won't|will not|no|nothing|zero)\b.*\bdonat|\bdonate nothing\b|\$0\b")


def parse_verdict(text: str) -> float | None | str:
    """A donation in dollars (capped at $2), ``"undecided"``, or None when unparsable."""
    low = (text or "").strip().lower()
    if "no decision" in low or "undecided" in low or "not decided" in low:
        return "undecided"
    if m := _AMOUNT.search(low):
        value = float(m.group(1)) if m.group(1) else int(m.group(2)) / 100
        return min(PAYMENT, value)
    return 0.0 if _NOTHING.search(low) else None


def aggregate_verdicts(state: DialogueState, parsed: list) -> Verdict:
    """Decided when most parsed samples give an amount: reward and donation the median amount, done; else 0."""
    amounts = [p for p in parsed if isinstance(p, float)]
    last = state.agent_turns >= state.max_turns
    if amounts and len(amounts) * 2 > len(parsed):
        amount = round(median(amounts), 2)
        return Verdict(reward=amount, done=True, success=amount > 0, info={"donation": amount})
    return Verdict(reward=0.0, done=last, success=False, info={"donation": 0.0 if last else None})
