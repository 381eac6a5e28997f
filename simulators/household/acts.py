"""TEACh's 18 dialogue acts (Padmakumar et al., AAAI 2022, Table 3; Gella et al. 2022).

Philipov et al. (2024, arXiv 2410.23535) let the user agent (Commander) pick one or more of these acts
whenever it speaks. Two utterances of the released data spell an act in lower case
(``informationOther``, ``feedbackPositive``); :func:`normalise_act` maps every spelling to the canonical one.
"""

from __future__ import annotations

import re

COMMANDER_ACTS: tuple[str, ...] = (
    "Instruction",
    "InformationOnObjectDetails",
    "FeedbackPositive",
    "FeedbackNegative",
    "Greetings/Salutations",
    "InformationOther",
    "Affirm",
    "Deny",
    "Acknowledge",
    "Confirm",
    "MiscOther",
    "OtherInterfaceComment",
    "RequestOtherInfo",
    "AlternateQuestions",
)
"""Acts the Commander uses in TEACh (it gives the task and details, gives feedback, answers)."""

DRIVER_ACTS: tuple[str, ...] = (
    "RequestForInstruction",
    "RequestForObjectLocationAndOtherDetails",
    "RequestOtherInfo",
    "RequestMore",
    "NotifyFailure",
    "Acknowledge",
    "Confirm",
    "Affirm",
    "Deny",
    "Greetings/Salutations",
    "InformationOther",
    "MiscOther",
    "OtherInterfaceComment",
    "AlternateQuestions",
)
"""Acts the Driver uses in TEACh (it asks for the task and details, reports failures, acknowledges)."""

ALL_ACTS: tuple[str, ...] = tuple(dict.fromkeys(COMMANDER_ACTS + DRIVER_ACTS))
"""The 18 acts, each once, Commander acts first."""

_BY_KEY = {re.sub(r"[^a-z]", "", act.lower()): act for act in ALL_ACTS}


def normalise_act(name: str) -> str | None:
    """The canonical spelling of an act name, ignoring case, spaces and punctuation; ``None`` if unknown.

    ``"feedbackPositive"``, ``"feedback positive"`` and ``"<<FeedbackPositive>>"`` all give ``"FeedbackPositive"``;
    ``"Greetings"`` and ``"Salutations"`` alone give ``"Greetings/Salutations"``.
    """
    key = re.sub(r"[^a-z]", "", name.lower())
    if key in ("greetings", "greeting", "salutations", "salutation"):
        return "Greetings/Salutations"
    return _BY_KEY.get(key)
