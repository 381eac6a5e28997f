"""The scripted student: a learner of Italian with hidden per-unit knowledge of the target.

The target is split into units (phrase, object, colour; see :mod:`.cases`). Each unit is in one
of five states: ``known`` (sure of it), ``shaky`` (just learned: right, but unsure),
``unknown``, ``wrong`` (a misconception: a wrong Italian word) and ``entrenched`` (a
misconception the teacher confirmed). Prior knowledge (known / unknown / wrong) comes from
``case.hidden``; the persona from ``state.rng`` in :meth:`ScriptedStudent.start`: learning rate
``lr ~ U(0.55, 0.85)`` and frustration threshold ``T`` in {2, 3}.

*An attempt* says every unit it has an Italian word for (known/shaky: the right one;
wrong/entrenched: the wrong one) and leaves unknown units in English ("e di fronte alla box
rosa ... I don't know how to say 'box'"); it is *hedged* ("Is it ...?") when it uses a shaky
unit. With no Italian word at all the student says it doesn't know (no attempt).

*Reactions* to the teacher's move (``Turn.strategy`` when it names one of the 5 strategies,
otherwise read from the text by keywords, see :func:`templates.classify`; an unlabelled turn
that matches no keyword but names a unit's Italian is a Hint). "Just attempted"
means the student's previous turn was an attempt.

* ``Question``: the student attempts. Asking again right after an attempt that was not fully
  right, without helping in between, adds 1 frustration.
* ``Hint``: teaches the unit whose Italian the teacher's text names (the first one the student
  does not already know; without any, the first unknown unit): unknown -> shaky with
  probability ``lr`` (``min(1, lr + 0.3)`` when the student just attempted); a misconception is
  rarely overturned by a hint (wrong -> shaky with p 0.25; entrenched never); a known unit is
  a wasted turn. No attempt follows.
* ``Correction``: only right after an attempt with a wrong or missing unit. It fixes the named
  unit (or the attempt's first wrong, else missing, unit): wrong -> shaky; entrenched -> shaky
  with p 0.4; unknown -> shaky as a hint after an attempt. Anywhere else it is confusing (+1
  frustration, nothing learned).
* ``Confirmation``: right after an attempt, the units that attempt used become firm: shaky ->
  known, but wrong -> entrenched; the student restates the attempt with confidence (an attempt;
  the whole sentence right ends the dialogue), or, when the attempt left a unit out, asks about
  that unit instead (no attempt: a gap is not something to confirm). Anywhere else, a restatement included (confirming
  it again teaches nothing, and would otherwise collect "translated a part" every turn), it is a
  wasted turn.
* ``Others``: nothing.
* Once frustration reaches ``T`` the student stops trying: no more attempts (it still listens).

Verdict (:meth:`TutoringEnv.ground_truth`) from the student's latest turn: no attempt ->
"did not try" (-0.5); an attempt with a wrong word -> "incorrect" (-1.0); all units right and
not hedged -> "whole sentence correct" (1.0, done, success); otherwise (some units missing, or
the whole sentence right but hedged, i.e. not committed to until confirmed) -> "part" (0.5).

Consequences (template teacher, 113 cima-valid cases; see the tests): the student never tries
without a Question, so always Hint / Correction / Confirmation / Others never succeeds; always
Question succeeds only when the student already knew everything (about 6%), and frustrates the
student; a random policy rarely lines up Question -> Correction and Question -> Confirmation.
The adaptive teacher asks for an attempt, corrects a misconception right after it shows, hints
missing units, and confirms a hedged right answer. Deterministic given ``state.rng``; O(units)
per turn.
"""

from __future__ import annotations

from typing import Any, Sequence

from workbench.env import DialogueState
from workbench.episodes import Turn

from .cases import join_words
from .strategies import NAMES
from .templates import classify, mentions, student_line

P_HINT_FIXES_WRONG = 0.25
P_CORRECTION_FIXES_ENTRENCHED = 0.4
ATTEMPT_BONUS = 0.3


def named_units(state: DialogueState, text: str) -> list[int]:
    """Units whose Italian the teacher's text names, the ones the student doesn't know first."""
    units, k = state.case.fields["units"], state.hidden["knowledge"]
    named = [i for i, u in enumerate(units) if mentions(text, u["it"])]
    return sorted(named, key=lambda i: k[i] in ("known", "shaky"))


def read_move(state: DialogueState, turn: Turn) -> str:
    """The teacher's move as the student reads it: the turn's strategy when it names one, else its keywords (an
    unlabelled turn that matches none but names a unit's Italian is a Hint)."""
    move = turn.strategy if turn.strategy in NAMES else classify(turn.text)
    if move == "Others" and turn.strategy not in NAMES and named_units(state, turn.text):
        return "Hint"
    return move


class ScriptedStudent:
    """Programmatic student (dynamics in the module docstring)."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        c = state.case.hidden
        state.hidden.update(
            knowledge=list(c["knowledge"]), wrong=list(c["wrong"]),
            lr=state.rng.uniform(0.55, 0.85), threshold=state.rng.choice((2, 3)),
            frustration=0, last_attempt=None, last_kind="none",
        )

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [self._respond(s) for s in states]

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _attempt(state: DialogueState) -> dict[str, Any] | None:
        h, units = state.hidden, state.case.fields["units"]
        said, status = [], []
        for u, k, w in zip(units, h["knowledge"], h["wrong"]):
            if k in ("known", "shaky"):
                said.append(u["it"]); status.append("correct")
            elif k in ("wrong", "entrenched"):
                said.append(w); status.append("wrong")
            else:
                said.append(None); status.append("missing")
        if all(s == "missing" for s in status):
            return None
        hedged = any(k == "shaky" for k in h["knowledge"])
        return {"said": said, "units": status, "hedged": hedged}

    def _say_attempt(self, state: DialogueState, restate: bool = False) -> Turn:
        rng, units = state.rng, state.case.fields["units"]
        att = self._attempt(state)
        if att is None:
            return self._turn(state, student_line("blank", rng))
        words = [s if s is not None else (u["en"] or "...") for s, u in zip(att["said"], units)]
        a = join_words(words)
        if restate:
            att["hedged"], att["restated"] = False, True
            text = student_line("restate", rng, a=a)
        else:
            text = student_line("hedged" if att["hedged"] else "attempt", rng, a=a)
        missing = [u["en"] or "..." for u, s in zip(units, att["units"]) if s == "missing"]
        if missing and not restate:
            text += student_line("missing", rng, en=missing[0])
        return self._turn(state, text, att)

    def _turn(self, state: DialogueState, text: str, attempt: dict[str, Any] | None = None) -> Turn:
        h = state.hidden
        h["last_attempt"] = attempt
        info: dict[str, Any] = {"attempt": attempt is not None, "frustration": h["frustration"]}
        if attempt is not None:
            info.update(units=list(attempt["units"]), said=list(attempt["said"]), hedged=attempt["hedged"])
        return Turn(role=state.user_role, text=text, strategy="attempt" if attempt else "reply", info=info)

    # -- one reply ------------------------------------------------------------------------
    def _respond(self, state: DialogueState) -> Turn:
        h, rng, units = state.hidden, state.rng, state.case.fields["units"]
        if "knowledge" not in h:
            self.start(state)
        last = state.turns[-1] if state.turns else Turn(role=state.agent_role, text="")
        move = read_move(state, last)
        prev = h["last_attempt"]  # the student's previous turn, if it was an attempt
        k, wrong = h["knowledge"], h["wrong"]
        giving_up = h["frustration"] >= h["threshold"]

        if move == "Question":
            if prev is not None and not (all(s == "correct" for s in prev["units"]) and not prev["hedged"]):
                h["frustration"] += 1
            if h["frustration"] >= h["threshold"]:
                return self._turn(state, student_line("frustrated", rng))
            return self._say_attempt(state)

        if move == "Hint":
            named = named_units(state, last.text)
            if named:
                i = named[0]
            else:
                todo = [j for j, s in enumerate(k) if s == "unknown"]
                if not todo:
                    return self._turn(state, student_line("knew", rng))
                i = todo[0]
            u = units[i]
            en = u["en"] or "that"
            if k[i] in ("known", "shaky"):
                return self._turn(state, student_line("knew", rng))
            if k[i] == "unknown":
                p = min(1.0, h["lr"] + ATTEMPT_BONUS) if prev is not None else h["lr"]
                if rng.random() < p:
                    k[i] = "shaky"
                    return self._turn(state, student_line("learned", rng, en=en, it=u["it"]))
                return self._turn(state, student_line("not-learned", rng))
            if k[i] == "wrong" and rng.random() < P_HINT_FIXES_WRONG:
                k[i], wrong[i] = "shaky", None
                return self._turn(state, student_line("learned", rng, en=en, it=u["it"]))
            return self._turn(state, student_line("kept-wrong", rng, wrong=wrong[i]))

        if move == "Correction":
            flawed = [j for j, s in enumerate(prev["units"]) if s != "correct"] if prev else []
            if not flawed:
                h["frustration"] += 1
                return self._turn(state, student_line("confused", rng))
            named = [j for j in named_units(state, last.text) if j in flawed]
            wrong_first = [j for j in flawed if prev["units"][j] == "wrong"] + \
                          [j for j in flawed if prev["units"][j] == "missing"]
            i = named[0] if named else wrong_first[0]
            u = units[i]
            if k[i] == "unknown":
                if rng.random() < min(1.0, h["lr"] + ATTEMPT_BONUS):
                    k[i] = "shaky"
                    return self._turn(state, student_line("learned", rng, en=u["en"] or "that", it=u["it"]))
                return self._turn(state, student_line("not-learned", rng))
            if k[i] in ("wrong", "entrenched"):
                if k[i] == "wrong" or rng.random() < P_CORRECTION_FIXES_ENTRENCHED:
                    was = wrong[i]
                    k[i], wrong[i] = "shaky", None
                    return self._turn(state, student_line("fixed", rng, it=u["it"], wrong=was))
                return self._turn(state, student_line("insist", rng, wrong=wrong[i]))
            return self._turn(state, student_line("knew", rng))

        if move == "Confirmation":
            if prev is None or giving_up:
                return self._turn(state, student_line("confirm-nothing", rng))
            if prev.get("restated"):
                return self._turn(state, student_line("confirmed-already", rng))
            for j, s in enumerate(prev["units"]):
                if s == "correct" and k[j] == "shaky":
                    k[j] = "known"
                elif s == "wrong" and k[j] == "wrong":
                    k[j] = "entrenched"
            if "missing" in prev["units"]:
                en = units[prev["units"].index("missing")]["en"] or "the rest"
                return self._turn(state, student_line("still-missing", rng, en=en))
            return self._say_attempt(state, restate=True)

        return self._turn(state, student_line("frustrated" if giving_up else "others", rng))
