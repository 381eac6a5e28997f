"""The persuader's 15 acts: the 10 persuasion strategies of PersuasionForGood (Wang et al., ACL 2019, Table 2)
and 5 non-strategy acts, with the instruction an LLM persuader is prompted with when a planner picks one."""

from __future__ import annotations

from workbench.env import Strategy

STRATEGIES: tuple[Strategy, ...] = (
    Strategy("logical-appeal", "Use reasoning and evidence: explain how a donation concretely helps children."),
    Strategy("emotion-appeal", "Appeal to feelings: describe the hardship of children in need so the user feels "
                               "empathy, sympathy or guilt."),
    Strategy("credibility-appeal", "Establish Save the Children's credibility: cite its long record, impact and "
                                   "transparency."),
    Strategy("foot-in-the-door", "Start with a small request, such as a tiny donation of a few cents, before "
                                 "asking for more."),
    Strategy("self-modeling", "Say that you yourself will donate, as an example for the user to follow."),
    Strategy("personal-story", "Tell a short personal story about giving or about a child the charity helped."),
    Strategy("donation-information", "Explain how the donation works: it comes from the task payment and goes "
                                     "directly to Save the Children."),
    Strategy("source-related-inquiry", "Ask whether the user has heard of Save the Children or knows what it does."),
    Strategy("task-related-inquiry", "Ask about the user's opinion of or experience with donating to charities."),
    Strategy("personal-related-inquiry", "Ask the user a personal question, such as whether they have children."),
    Strategy("greeting", "Say hello and greet the user warmly."),
    Strategy("proposition-of-donation", "Ask the user to donate part of their task payment to Save the Children."),
    Strategy("ask-donation-amount", "Ask how much of the payment the user would like to donate."),
    Strategy("thank", "Thank the user."),
    Strategy("other", "Continue the conversation naturally."),
)

ACTS: tuple[str, ...] = tuple(s.name for s in STRATEGIES)
STRATEGY_NAMES: frozenset[str] = frozenset(ACTS[:10])
"""The 10 persuasion strategies (the rest are non-strategy acts)."""
ASKS: frozenset[str] = frozenset({"proposition-of-donation", "ask-donation-amount"})
"""Acts that ask for the decision."""

LABEL_MAP: dict[str, str] = {a: a for a in ACTS} | {
    "ask-donate-more": "proposition-of-donation", "closing": "thank", "you-are-welcome": "thank",
    "praise-user": "other", "acknowledgement": "other", "off-task": "other", "positive-to-inquiry": "other",
    "neutral-to-inquiry": "other", "negative-to-inquiry": "other", "confirm-donation": "other",
    "comment-partner": "other", "ask-not-donate-reason": "other",
}
"""Annotation labels of ``annotated_dialog.csv`` mapped onto the 15 acts (unlisted labels count as ``other``)."""
