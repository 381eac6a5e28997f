"""The robot's (TEACh Driver's) moves: the follower action types of TEACh's ``default_definitions.json`` and the
Driver's most frequent dialogue acts in the TEACh games (Padmakumar et al., AAAI 2022). They are the PPDPP
planner's action space here: a planner picks one, the template Driver (:mod:`.driver`) fills its object."""

from __future__ import annotations

from workbench.env import Strategy

ACTIONS: tuple[Strategy, ...] = (
    Strategy("Navigate", "Go to the object the Commander talked about."),
    Strategy("Pickup", "Pick up the object the Commander talked about."),
    Strategy("Place", "Put what you hold in or on the object the Commander talked about."),
    Strategy("Open", "Open the object the Commander talked about."),
    Strategy("Close", "Close the object the Commander talked about."),
    Strategy("ToggleOn", "Turn on the object the Commander talked about."),
    Strategy("ToggleOff", "Turn off the object the Commander talked about."),
    Strategy("Slice", "Slice the object the Commander talked about with the knife you hold."),
    Strategy("Pour", "Pour what you hold into the object the Commander talked about."),
)
UTTERANCES: tuple[Strategy, ...] = (
    Strategy("RequestForInstruction", "Ask the Commander what to do next."),
    Strategy("RequestForObjectLocationAndOtherDetails", "Ask the Commander where the object is."),
    Strategy("Acknowledge", "Acknowledge the Commander's message."),
    Strategy("Confirm", "Check with the Commander that you understood the instruction."),
    Strategy("NotifyFailure", "Tell the Commander that your last action failed and why."),
)
STRATEGIES: tuple[Strategy, ...] = ACTIONS + UTTERANCES
ACTION_NAMES: frozenset[str] = frozenset(s.name for s in ACTIONS)

TOKENS: dict[str, str] = {"<move>": "Navigate", "<pickup>": "Pickup", "<putdown>": "Place", "<open>": "Open",
                          "<close>": "Close", "<toggle on>": "ToggleOn", "<toggle off>": "ToggleOff",
                          "<slice>": "Slice", "<pour>": "Pour"}
"""TEACh's action tokens in the games (and in the robot's action turns) -> the action type."""
