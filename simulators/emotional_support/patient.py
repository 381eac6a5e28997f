"""The scripted patient: a programmatic help-seeker with hidden distress, openness and trust.

State (``state.hidden``): distress ``d`` on 0-10 (starts at ``case.hidden["distress"]``, see
:mod:`.cases`), openness ``o`` (disclosure happens when ``o >= 1``), trust ``t``, whether the
patient has *disclosed* the real problem, whether it has accepted a *plan*, the number of
consecutive Question turns, and the last strategy it reacted to. Persona, drawn in
:meth:`ScriptedPatient.start` from ``state.rng``: initial openness ``o0`` in {0.0, 0.2, 0.2, 0.4}
(so 2-3 exploring turns are needed before the patient opens up) and question tolerance ``q`` in
{2, 3} (consecutive questions it accepts).

*Reading the therapist's turn.* The strategy is ``Turn.strategy`` when it names one of the 8
strategies (or an ESConv alias); otherwise (None, or an unknown name from a bad planner) it is
classified from the text by keywords (:func:`classify`), falling back to ``Others``.

*Reactions* (``x`` is 0.5 when the strategy repeats the previous one, else 1: repeating the same
move helps half as much):

* ``Question``: ``o += 0.4``; after disclosure ``d -= 0.3 x``. A question beyond ``q`` in a row
  annoys: ``d += 0.5``, ``o -= 0.1``, no other effect.
* ``Restatement or Paraphrasing``: ``o += 0.3``; after disclosure ``d -= 0.8 x``, ``t += 0.5``.
* ``Reflection of feelings``: ``o += 0.3``; after disclosure ``d -= 1.5 x``, ``t += 1``; before
  it only ``d -= 0.2`` (the feelings are not known yet).
* ``Affirmation and Reassurance``: ``d -= 1.2 x`` once ``t >= 1``, else ``d -= 0.2``.
* ``Providing Suggestions`` / ``Information``: before disclosure (advice before the problem is
  explored) ``d += 1.0``, ``o -= 0.3`` (resisting). After disclosure but with ``t < 1`` (the
  patient does not feel understood) ``d += 0.5``. Otherwise ``d -= 1.5 x`` (suggestion) or
  ``1.0 x`` (information) and the patient accepts a *plan*.
* ``Self-disclosure``: ``d -= 0.2``, ``o += 0.15``, ``t += 0.25``.
* ``Others``: no effect.

Disclosure happens at the first turn that brings ``o`` to 1. ``d`` is clamped to [0, 10], and
until the patient has accepted a plan it cannot fall more than ``COMFORT_RELIEF`` (2.0) below its
initial level: being heard helps only so much while the problem itself remains.

*Verdict* (:func:`verdict_level`, PPDPP's 4-level scale): *solved* (1.0, terminal success) when
``d <= SOLVED_DISTRESS`` and the patient has a plan (feeling better alone does not solve the
issue); otherwise *better* (0.5) when ``d`` is at least ``BETTER_MARGIN`` (0.5) below its lowest
so far (real relief; small comforts repeated every turn do not count), *worse* (-1.0) when this
turn raised ``d``, else *same* (-0.5).

Consequences (template therapist, 130 esc-valid cases; see the tests): no fixed strategy solves
any case (advice alone is resisted, exploring or comforting alone never yields a plan,
repeated questions annoy), a uniformly random policy rarely does; a sensible adaptive sequence
(explore with questions and restatements until the patient opens up, reflect feelings, affirm,
then suggest) solves nearly all cases within 8 turns. The patient's templated replies reveal its
stance (guarded, opening up, annoyed, resisting, feeling better, ...), also in ``Turn.info``; once
it has disclosed and trusts the therapist (``t >= 1``) but has no plan, an open or better reply
ends by asking what it could do (advice is welcome from here on).
Everything is O(1) per turn and deterministic given ``state.rng``.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from workbench.env import DialogueState
from workbench.episodes import Turn

from .cases import initial_distress
from .strategies import canonical
from .templates import patient_line

SOLVED_DISTRESS = 3.0
BETTER_MARGIN = 0.5
COMFORT_RELIEF = 2.0
REPEAT_FACTOR = 0.5
WORSE, SAME, BETTER, SOLVED = -1.0, -0.5, 0.5, 1.0

_SUGGEST = re.compile(r"\b(you (?:should|could|might|can) (?:try|consider)|why don'?t you|have you (?:tried|considered)|"
                      r"maybe (?:you|try)|try to|i suggest|i'd suggest|it might help to|how about)\b")
_INFO = re.compile(r"\b(research|studies|study shows|according to|it is common|it's common|many people|"
                   r"statistic\w*|experts?|resources?|hotline|therap(?:y|ist)s? (?:can|are))\b")
_REFLECT = re.compile(r"\b(you (?:must|might) (?:be |feel)|you(?:'re| are) feeling|you feel|sounds like you(?:'re| are)? "
                      r"(?:feel|frustrat|sad|hurt|upset|anxious|scared|overwhelm|lonely)|that must (?:be|feel))\b")
_RESTATE = re.compile(r"\b(so you|if i understand|you(?:'re| are) saying|what i hear|in other words|"
                      r"so what you|it sounds like)\b")
_AFFIRM = re.compile(r"\b(you(?:'re| are) (?:doing|strong|brave|not alone)|it'?s okay|it is okay|proud of you|"
                     r"good (?:for you|job)|you can do|i believe in you|that'?s (?:great|brave)|well done)\b")
_SELF = re.compile(r"\b(i (?:have|had|went|was|remember|also|too)|i've been|when i was|me too|same (?:thing )?happened)\b")


def classify(text: str) -> str:
    """The strategy of an unlabelled therapist turn, from keywords (``Others`` when nothing fits)."""
    low = (text or "").lower()
    for name, pattern in (("Providing Suggestions", _SUGGEST), ("Information", _INFO),
                          ("Reflection of feelings", _REFLECT), ("Restatement or Paraphrasing", _RESTATE),
                          ("Affirmation and Reassurance", _AFFIRM), ("Self-disclosure", _SELF)):
        if pattern.search(low):
            return name
    return "Question" if "?" in low else "Others"


def read_strategy(turn: Turn) -> str:
    """The strategy of a therapist turn: its label when known (aliases included), else classified."""
    return canonical(turn.strategy) or classify(turn.text)


def verdict_level(h: dict[str, Any], before: float) -> float:
    """PPDPP's 4-level verdict for the patient's state after a turn that started at distress ``before``.

    *Better* needs real relief: distress at least ``BETTER_MARGIN`` below the lowest it has been
    (``h["lowest"]``, which then moves down), so that small comforts repeated every turn cannot
    collect +0.5 a turn without ever solving anything."""
    if h["distress"] <= SOLVED_DISTRESS and h["plan"]:
        return SOLVED
    if h["distress"] <= h["lowest"] - BETTER_MARGIN:
        h["lowest"] = h["distress"]
        return BETTER
    if h["distress"] > before + 1e-9:
        return WORSE
    return SAME


class ScriptedPatient:
    """Patient persona for :class:`~simulators.emotional_support.env.EmotionalSupportEnv` (``UserSimulator``)."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        case = state.case
        distress = case.hidden.get("distress")
        if distress is None:
            distress = initial_distress(case.id, str(case.fields.get("emotion_type", "")))
        rng = state.rng
        state.hidden.update(
            distress=float(distress), initial=float(distress), lowest=float(distress), openness=rng.choice((0.0, 0.2, 0.2, 0.4)),
            tolerance=rng.choice((2, 3)), trust=0.0, disclosed=False, plan=False, questions=0, last=None,
            before=float(distress), level=SAME, stance="guarded",
        )

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [self.react(s) for s in states]

    def react(self, state: DialogueState) -> Turn:
        h = state.hidden
        if "distress" not in h or "plan" not in h:
            self.start(state)
        last = state.turns[-1] if state.turns else Turn(role=state.agent_role, text="")
        s = read_strategy(last)
        x = REPEAT_FACTOR if s == h["last"] else 1.0
        before, was_disclosed = h["distress"], h["disclosed"]
        h["questions"] = h["questions"] + 1 if s == "Question" else 0
        stance = None
        if s == "Question":
            if h["questions"] > h["tolerance"]:
                h["distress"] += 0.5
                h["openness"] -= 0.1
                stance = "annoyed"
            else:
                h["openness"] += 0.4
                if was_disclosed:
                    h["distress"] -= 0.3 * x
        elif s == "Restatement or Paraphrasing":
            h["openness"] += 0.3
            if was_disclosed:
                h["distress"] -= 0.8 * x
                h["trust"] += 0.5
        elif s == "Reflection of feelings":
            h["openness"] += 0.3
            if was_disclosed:
                h["distress"] -= 1.5 * x
                h["trust"] += 1.0
            else:
                h["distress"] -= 0.2
        elif s == "Affirmation and Reassurance":
            h["distress"] -= 1.2 * x if h["trust"] >= 1.0 else 0.2
        elif s in ("Providing Suggestions", "Information"):
            if not was_disclosed:
                h["distress"] += 1.0
                h["openness"] -= 0.3
                stance = "resisting"
            elif h["trust"] < 1.0:
                h["distress"] += 0.5
                stance = "unheard"
            else:
                h["distress"] -= (1.5 if s == "Providing Suggestions" else 1.0) * x
                h["plan"] = True
                stance = "plan"
        elif s == "Self-disclosure":
            h["distress"] -= 0.2
            h["openness"] += 0.15
            h["trust"] += 0.25
        floor = 0.0 if h["plan"] else h["initial"] - COMFORT_RELIEF  # being heard helps only so much
        h["distress"] = min(10.0, max(floor, 0.0, round(h["distress"], 6)))
        h["openness"] = round(h["openness"], 6)
        if not was_disclosed and h["openness"] >= 1.0 - 1e-9:
            h["disclosed"] = True
            stance = stance or "disclose"
        h["last"], h["before"] = s, before
        h["level"] = verdict_level(h, before)
        if h["level"] == SOLVED:
            stance = "solved"
        elif stance is None:
            stance = {BETTER: "better", WORSE: "worse"}.get(h["level"], "open" if h["disclosed"] else "guarded")
        h["stance"] = stance
        ready = stance in ("open", "better") and h["disclosed"] and h["trust"] >= 1.0 and not h["plan"]
        text = patient_line(state, stance, ready)
        return Turn(role=state.user_role, text=text,
                    info={"stance": stance, "disclosed": h["disclosed"], "read_as": s})
