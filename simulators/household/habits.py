"""The human Commander's habits in TEACh, as text-level rules (the "scripted" user agent).

Counted on the 85 training games of ``split_games(load_games())`` (valid_seen, turn level, Philipov et al.
2024, arXiv 2410.23535); "next step" is the Commander's move right after the given history:

- **Start of a game**: the Commander observes (68 of 85 games); the Driver opens with a greeting or a
  request for instructions.
- **After a Driver RequestForInstruction** (alone or with a greeting, 107 times): Instruction (55), the task;
  otherwise observe (25) or greet (13). -> Instruction.
- **After RequestForObjectLocationAndOtherDetails** (50): InformationOnObjectDetails (17) or observe (30),
  and the answer comes within two steps in 35 of 52 questions. -> InformationOnObjectDetails.
- **A request still unanswered one step later** (the Commander observed, the Driver moved on): the human
  answers then (14 of the 52 location questions). -> the same answer as right after the request.
- **After RequestOtherInfo** (19): Instruction (8) or observe (8). -> Instruction.
- **After RequestMore** (11): Instruction, FeedbackPositive or Acknowledge (7) vs observe (4). -> Instruction.
- **After a Driver Confirm** (a yes/no question such as "is this done?", 21): Affirm or Deny (5) vs
  observe (10). -> Affirm.
- **After NotifyFailure** (13): mostly observe at the next step (12): the Commander looks before correcting.
  The rule answers with an Instruction (a correction), which is what the Driver needs to go on.
- **After a Driver Acknowledge** ("ok", 114): the Commander goes on about half the time (Instruction 25,
  FeedbackPositive 14, InformationOnObjectDetails 7; observe 58). -> Instruction (the next step).
- **After Greetings, Affirm, AlternateQuestions, MiscOther, InformationOther** (32): observe in most
  cases (Greetings alone: 10 of 14). -> observe.
- **While the Driver acts silently**: the Commander speaks at 20% of steps right after the first action
  following a dialogue turn, and at 6-9% after 4 or more; it never reaches one half, so silence -> observe.
- **Right after its own utterance**: it continues with a second utterance at 87 of 619 steps -> observe.

When the Commander does speak (:func:`acts_if_speaking`, the dialogue-act prediction of the paper), its act
follows the same counts: an answer to a Driver request as above; right after its own utterance the same act
again (Instruction -> Instruction 18 of 33, InformationOnObjectDetails -> InformationOnObjectDetails 16 of 21);
otherwise Instruction, its most frequent act (after silent Driver actions: Instruction 154,
InformationOnObjectDetails 101).

:func:`react` applies these rules to the text of a game (goal and history only: on real games it cannot
see the house). Its utterances are templates built from the goal and the Driver's question; the self-play
Commander replaces them with the facts of the simulated house when it has them.
"""

from __future__ import annotations

import re
from typing import Sequence

from .games import Context, Decision, GameTurn

ANSWERS: dict[str, str] = {
    "RequestForInstruction": "Instruction",
    "RequestForObjectLocationAndOtherDetails": "InformationOnObjectDetails",
    "RequestOtherInfo": "Instruction",
    "RequestMore": "Instruction",
    "Confirm": "Affirm",
    "NotifyFailure": "Instruction",
}
"""Driver act -> the Commander act that answers it; Driver acts absent here get no answer (observe)."""

DEFAULT_ACT = "Instruction"
"""The Commander's most frequent act in TEACh (407 of 928 act labels in valid_seen)."""
_STOPWORDS = frozenset(
    "the a an is are where can i you it this that do what should find to of in on for which any my me be "
    "there here please could would ok okay how".split()
)


def react(goal: str, history: Sequence[GameTurn]) -> Decision:
    """The habitual Commander move after ``history`` (rules in the module docstring): answer a Driver request
    right after it, or one step later if it is still unanswered; go on after a Driver Acknowledge; else observe."""
    if not history:
        return Decision(False)
    last = history[-1]
    if _is_driver_dialogue(last):
        asked = _request(last)
        if asked is not None:
            return Decision(True, (ANSWERS[asked],), _utterance(asked, goal, last.utterance))
        if "Acknowledge" in last.das:
            return Decision(True, (DEFAULT_ACT,), f"next: {_task(goal)}.")
        return Decision(False)
    if last.action != "dialogue" and len(history) > 1 and _is_driver_dialogue(history[-2]):
        asked = _request(history[-2])
        if asked is not None:
            return Decision(True, (ANSWERS[asked],), _utterance(asked, goal, history[-2].utterance))
    return Decision(False)


def _is_driver_dialogue(turn: GameTurn) -> bool:
    return turn.role == "DRIVER" and turn.action == "dialogue"


def _request(turn: GameTurn) -> str | None:
    """The Driver act of ``turn`` that :data:`ANSWERS` answers (the first in its order), or None."""
    return next((act for act in ANSWERS if act in turn.das), None)


def _task(goal: str) -> str:
    return goal.rstrip(".").lower()


def acts_if_speaking(goal: str, history: Sequence[GameTurn]) -> tuple[str, ...]:
    """The act(s) the Commander habitually uses when it speaks after ``history`` (see the module docstring)."""
    answer = react(goal, history)
    if answer.speak:
        return answer.das
    if history and history[-1].role == "COMMANDER" and history[-1].das:
        return history[-1].das[:1]
    return (DEFAULT_ACT,)


def _utterance(asked: str, goal: str, question: str) -> str:
    task = _task(goal)
    if asked == "RequestForInstruction":
        return f"{task}."
    if asked == "RequestForObjectLocationAndOtherDetails":
        thing = _topic(question)
        where = "check the counters and the cabinets."
        return f"the {thing} is nearby, {where}" if thing else where
    if asked == "Confirm":
        return "yes."
    if asked == "NotifyFailure":
        return f"try it another way, and keep going: {task}."
    return f"we need to {task}."


def _topic(question: str) -> str:
    """The last content word of a question ("where is the knife?" -> "knife"), or ""."""
    words = [w for w in re.findall(r"[a-z]+", question.lower()) if w not in _STOPWORDS]
    return words[-1] if words else ""


class HabitsUserAgent:
    """:class:`~.games.UserAgent` that applies :func:`react` to each context; it never falls back."""

    name = "scripted"

    def __init__(self) -> None:
        self.fallbacks: dict[str, int] = {}

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        return [react(context.goal, context.history) for context in contexts]

    def decide_acts(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        return [acts_if_speaking(context.goal, context.history) for context in contexts]
