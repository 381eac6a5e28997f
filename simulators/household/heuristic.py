"""``follow-instructions``: a fixed rule-based robot that reads only the dialogue, the heuristic baseline of the
household environment.

Rules, first match wins: (1) its last action failed and it has not said so -> NotifyFailure; (2) the Commander's
latest utterance holds an instruction ("pick up", "turn on", ...) that the robot has not acted on since ->
that action type; (3) otherwise -> RequestForInstruction. It never explores, so it is as good as the Commander's
instructions: a ceiling for planners that learn to follow them.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.env import DialogueState, Strategy

from .driver import OBSERVE
from .strategies import STRATEGIES

VERBS: tuple[tuple[str, str], ...] = (
    ("go to", "Navigate"), ("pick up", "Pickup"), ("put it", "Place"), ("open", "Open"), ("close", "Close"),
    ("turn on", "ToggleOn"), ("turn off", "ToggleOff"), ("slice", "Slice"), ("pour", "Pour"))
_BY_NAME = {s.name: s for s in STRATEGIES}


def instructed_move(text: str) -> str | None:
    """The action type an utterance instructs: the verb that opens its last sentence that opens with one
    ("Good. Pick up the bread slice." -> Pickup), else None."""
    found = [(m.start(), kind) for verb, kind in VERBS
             for m in re.finditer(rf"(?:^|[.!?]\s+){verb}\b", text.lower())]
    return max(found)[1] if found else None


def next_move(state: DialogueState) -> str:
    """The rule's move for one dialogue (see the module docstring)."""
    acted = False
    for turn in reversed(state.turns):
        if turn.role == state.agent_role:
            action = turn.info.get("action")
            if action is not None and not action["ok"] and not acted:
                return "NotifyFailure"
            acted = acted or action is not None or turn.strategy == "NotifyFailure"
        elif turn.text != OBSERVE:
            move = instructed_move(turn.text)
            return move if move is not None and not acted else "RequestForInstruction"
    return "RequestForInstruction"


class FollowInstructions:
    """The ``follow-instructions`` policy (deterministic)."""

    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float]]:
        return [(_BY_NAME[next_move(state)], 1.0) for state in states]
