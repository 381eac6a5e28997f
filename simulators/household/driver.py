"""The template robot (TEACh's Driver): realises a planner's move as an action on the object the Commander named
last, or as a short utterance with the move's dialogue act.

Object naming: the Commander's last utterance that names an object decides the target. An object id ("Mug_1", as
the scripted Commander says them) is taken as is; otherwise the first object type named ("the coffee machine") is
resolved in the world (:meth:`World.resolve`: near the robot first). With no object named yet the action has no
target and fails in the world with a clear message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from workbench.env import DialogueState

from .strategies import ACTION_NAMES

if TYPE_CHECKING:
    from .world import World

OBSERVE = "<observe>"
_ID = re.compile(r"\b([A-Z][A-Za-z]*_\d+)\b")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def type_phrase(object_type: str) -> str:
    """"CoffeeMachine" -> "coffee machine"; "BreadSliced" -> "bread slice"."""
    if object_type.endswith("Sliced"):
        return f"{type_phrase(object_type.removesuffix('Sliced'))} slice"
    return _CAMEL.sub(" ", object_type).lower()


def named_object(text: str, world: World) -> str | None:
    """The object a line names: an id that exists, else the longest object type phrase resolved in the world."""
    for found in _ID.findall(text):
        if found in world.graph:
            return found
    lowered = f" {text.lower()} "
    types = sorted({world.graph.nodes[n]["type"] for n in world.graph if world.graph.nodes[n].get("type")},
                   key=lambda t: -len(type_phrase(t)))
    for object_type in types:
        if f" {type_phrase(object_type)}" in lowered or f" {object_type.lower()}" in lowered:
            return world.resolve(object_type)
    return None


def last_named_object(state: DialogueState) -> str | None:
    """The object of the Commander's latest utterance that names one (see the module docstring)."""
    world = state.hidden["world"]
    for turn in reversed(state.turns):
        if turn.role == state.user_role and turn.text != OBSERVE:
            found = named_object(turn.text, world)
            if found is not None:
                return found
    return None


def last_action(state: DialogueState) -> dict | None:
    """The robot's latest action turn's ``info["action"]`` (kind, target, ok, message), if any."""
    for turn in reversed(state.turns):
        if turn.role == state.agent_role and "action" in turn.info:
            return turn.info["action"]
    return None


def realise(state: DialogueState, move: str) -> str:
    """The template Driver's turn text for ``move`` (an action type or a Driver dialogue act)."""
    from .world import Action

    target = last_named_object(state)
    if move in ACTION_NAMES:
        return Action(move, target).text()
    thing = type_phrase(state.hidden["world"].graph.nodes[target]["type"]) if target else "it"
    if move == "RequestForInstruction":
        return "What should I do next?"
    if move == "RequestForObjectLocationAndOtherDetails":
        return f"Where is the {thing}?"
    if move == "Acknowledge":
        return "OK."
    if move == "Confirm":
        return f"Should I use the {thing}?"
    if move == "NotifyFailure":
        failed = last_action(state)
        if failed and not failed["ok"]:
            return f"I could not do that: {failed['message']}."
        return "I can't do that."
    raise ValueError(f"not a Driver move: {move!r}")
