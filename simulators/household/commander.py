"""User agents for self-play (TEACh's Commander): the scripted Commander, and any decision-making user agent
(an LLM, a trained classifier, a LoRA-tuned model; :class:`AgentCommander`) put in the user's seat.

**The scripted Commander** knows the goal and the whole world; its next instruction is always the first step of
the oracle's plan from the current world (:func:`.oracle.plan`), named with the object's id. It follows the habits
the TEACh Commanders show (Padmakumar et al., AAAI 2022; Philipov et al. 2024, Sec. 3), as rules:

* The Driver asks what to do (RequestForInstruction) -> Instruction: the next step.
* The Driver asks where something is (RequestForObjectLocationAndOtherDetails) -> InformationOnObjectDetails: where
  the object it named is (or, with none named, the next step's object).
* The Driver reports a failure (NotifyFailure) -> Instruction: the next step of a fresh plan (a correction: open
  the cabinet first, put down what you hold, ...).
* The Driver checks an object (Confirm) -> Affirm when it is the next step's object, else Deny, with the next step.
* The Driver acknowledges, or any other utterance -> observe.
* The Driver's action did the instructed step -> with probability ``initiative`` (the persona's, drawn per
  episode from {0.25, 0.5, 0.75, 1.0}) FeedbackPositive and the next step; otherwise observe, so that a robot must ask.
* The Driver's action failed, or did something else harmless -> observe (TEACh Commanders mostly watch; the robot
  is expected to say NotifyFailure or ask).
* The Driver's action made the task longer (the plan grew) -> FeedbackNegative and the next step.
* The task is complete -> FeedbackPositive ("That's everything, thank you!"); the robot made it impossible ->
  FeedbackNegative.

Each turn's dialogue acts are in ``Turn.info["das"]`` (the first also in ``Turn.strategy``); an observing turn
reads ``<observe>``. Deterministic given ``state.rng``; one oracle plan per step (cached by the environment).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from workbench.env import DialogueState
from workbench.episodes import Turn

from .driver import OBSERVE, named_object, type_phrase

INITIATIVE = (0.25, 0.5, 0.75, 1.0)
_INSIDE = ("Cabinet", "Fridge", "Microwave", "Drawer", "SinkBasin", "Sink", "Pot", "Bowl", "Mug", "Cup", "Box",
           "GarbageCan", "Bathtub", "BathtubBasin", "Safe")


def commander_turn(role: str, das: Sequence[str], text: str, **info: Any) -> Turn:
    """A Commander turn: ``<observe>`` with no acts, else the utterance with its acts."""
    if not das:
        return Turn(role=role, text=OBSERVE, info={"das": [], **info})
    return Turn(role=role, text=text, strategy=das[0], info={"das": list(das), **info})


def object_phrase(world, obj: str) -> str:
    return f"the {type_phrase(world.graph.nodes[obj]['type'])} ({obj})"


def instruction(world, action) -> str:
    """One step said as TEACh Commanders say it: "Pick up the mug (Mug_1)."."""
    if action.target is None:
        return "Carry on."
    thing = object_phrase(world, action.target)
    kind = action.kind
    if kind == "Place":
        inside = world.graph.nodes[action.target]["type"] in _INSIDE
        return f"Put it {'in' if inside else 'on'} {thing}."
    verbs = {"Navigate": "Go to", "Pickup": "Pick up", "Open": "Open", "Close": "Close", "ToggleOn": "Turn on",
             "ToggleOff": "Turn off", "Slice": "Slice", "Pour": "Pour it into"}
    return f"{verbs[kind]} {thing}."


def location_line(world, obj: str) -> str:
    return f"{object_phrase(world, obj)[0].upper()}{object_phrase(world, obj)[1:]} is {world.location(obj)}."


class ScriptedCommander:
    """The rule-based Commander (rules in the module docstring)."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        state.hidden["initiative"] = state.rng.choice(INITIATIVE)

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [self._respond(state) for state in states]

    def _respond(self, state: DialogueState) -> Turn:
        world, plan, role = state.hidden["world"], state.hidden["plan"], state.user_role
        last = state.turns[-1]
        step = plan[0] if plan else None
        if state.hidden.get("impossible"):
            return commander_turn(role, ["FeedbackNegative"], "Oh no, now the task can't be done.")
        if not plan:
            return commander_turn(role, ["FeedbackPositive"], "That's everything, thank you!")
        say_step = instruction(world, step)
        action = last.info.get("action")
        if action is not None:
            grew = state.hidden.get("plan_grew", False)
            if grew:
                return commander_turn(role, ["FeedbackNegative", "Instruction"], f"No, that's not right. {say_step}")
            instructed = state.hidden.get("instructed") or {}
            did_step = action["ok"] and (action["kind"], action["target"]) == (instructed.get("kind"),
                                                                               instructed.get("target"))
            if did_step and state.rng.random() < state.hidden["initiative"]:
                return self._instruct(state, ["FeedbackPositive", "Instruction"], f"Good. {say_step}")
            return commander_turn(role, [], "")
        move = last.strategy or ""
        if move == "RequestForInstruction":
            return self._instruct(state, ["Instruction"], say_step)
        if move == "NotifyFailure":
            return self._instruct(state, ["Instruction"], say_step)
        if move == "RequestForObjectLocationAndOtherDetails":
            asked = named_object(last.text, world) or step.target
            if asked is None:
                return self._instruct(state, ["Instruction"], say_step)
            return commander_turn(role, ["InformationOnObjectDetails"], location_line(world, asked))
        if move == "Confirm":
            asked = named_object(last.text, world)
            act = "Affirm" if asked is not None and asked == step.target else "Deny"
            return self._instruct(state, [act, "Instruction"], f"{'Yes' if act == 'Affirm' else 'No'}. {say_step}")
        return commander_turn(role, [], "")

    def _instruct(self, state: DialogueState, das: list[str], text: str) -> Turn:
        step = state.hidden["plan"][0]
        state.hidden["instructed"] = {"kind": step.kind, "target": step.target}
        return commander_turn(state.user_role, das, text)


class AgentCommander:
    """A user agent that decides per step (``decide(contexts) -> decisions``, :mod:`.games`) in the Commander's
    seat: the dialogue so far becomes the agent's context, its decision the Commander's turn. ``fallbacks``
    are the agent's own counts (unparsable replies, ...). The turns of a model's agent are marked
    ``info["generated"]``, and ``info["fallback"]`` holds the reason where its answer did not parse cleanly
    (the agent's ``reasons`` of the call), so run summaries show the rate beside the metrics."""

    def __init__(self, agent: Any, name: str, context: Callable[[DialogueState], Any]):
        self.agent, self.name, self.context = agent, name, context

    @property
    def fallbacks(self) -> dict[str, int]:
        return dict(getattr(self.agent, "fallbacks", {}))

    def start(self, state: DialogueState) -> None:
        return None

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        decisions = self.agent.decide([self.context(s) for s in states])
        reasons = getattr(self.agent, "reasons", None)
        turns = []
        for i, (state, decision) in enumerate(zip(states, decisions, strict=True)):
            info: dict[str, Any] = {}
            if reasons is not None:
                info["generated"] = True
                if reasons[i] is not None:
                    info["fallback"] = reasons[i]
            turns.append(commander_turn(state.user_role, list(decision.das) if decision.speak else [],
                                        decision.utterance or "...", **info))
        return turns
