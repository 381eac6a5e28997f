"""The scripted User of a generated tool-use task: it asked the request, knows the details the request left out
(``facts``), and reads each Assistant message (never its tool calls) with three rules, in order:

1. **A question** (a ``?`` in the text, or a first word such as "what", "which", "could"): it tells the fact whose
   name (or a word the requests use for it, :data:`ALIASES`) shares the most words with the question ("The end
   date is 2024-03-01."), or says it does not know when no fact is asked about. A question is never taken for an
   answer, so that "Is it 60? Or 61?" cannot guess its way to success.
2. **A right answer** (:func:`states_answer`): it accepts ("That's right, thank you!"); the environment then ends
   the episode as a success.
3. **Anything else** is a wrong final answer: it rejects it and asks the Assistant to check again.

Revealed fact names are kept in ``state.hidden["revealed"]``; ``Turn.info["act"]`` says which rule answered
(``reveal``, ``unknown``, ``accept``, ``reject``) and ``info["fact"]`` the fact told.
"""

from __future__ import annotations

import re
from typing import Sequence

from workbench.env import DialogueState
from workbench.episodes import Turn

from .cases import case_task

_QUESTION_START = re.compile(r"^\s*(what|which|who|whom|where|when|how|why|could|can|would|will|do|does|did|is|are|"
                             r"should|may|please (tell|confirm|provide|specify))\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")
ALIASES: dict[str, tuple[str, ...]] = {"end date": ("deadline",), "start date": ("starting", "begin")}
"""Words that name a fact besides its own name's words (the generated requests say "my deadline", :mod:`.tasks`)."""
_STOP = frozenset({"the", "a", "an", "of", "to", "in", "for", "and", "or", "is", "id", "name", "value"})


def is_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_START.match(text))


def key_words(name: str) -> set[str]:
    """A fact name's content words and aliases ("end date" -> {"end", "date", "deadline"})."""
    words = set(_WORD.findall(name.lower().replace("_", " ")))
    return ((words - _STOP) or words) | set(ALIASES.get(name, ()))


def states_answer(text: str, task) -> bool:
    """Whether an Assistant message gives the task's answer: not a question, and :func:`.tasks.answer_matches`."""
    from .tasks import answer_matches

    return not is_question(text) and answer_matches(text, task)


def asked_fact(text: str, facts: dict[str, str]) -> str | None:
    """The fact whose name shares the most words with ``text`` (the first such fact on a tie); None if none does."""
    said = set(_WORD.findall(text.lower()))
    said |= {w[:-1] for w in said if w.endswith("s")}
    best, best_score = None, 0
    for name in facts:
        score = len(key_words(name) & said)
        if score > best_score:
            best, best_score = name, score
    return best


class ScriptedUser:
    """The rule-based User (module docstring)."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        state.hidden["revealed"] = []

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [self.react(state) for state in states]

    def react(self, state: DialogueState) -> Turn:
        text, role = state.turns[-1].text, state.user_role
        task = case_task(state.case)
        if is_question(text):
            fact = asked_fact(text, task.facts)
            if fact is None:
                return Turn(role=role, text="Sorry, I don't know that.", info={"act": "unknown"})
            if fact not in state.hidden["revealed"]:
                state.hidden["revealed"].append(fact)
            return Turn(role=role, text=f"The {fact.replace('_', ' ')} is {task.facts[fact]}.",
                        info={"act": "reveal", "fact": fact})
        if states_answer(text, task):
            return Turn(role=role, text=state.rng.choice(("That's right, thank you!", "Perfect, thanks!")),
                        info={"act": "accept"})
        return Turn(role=role, text=state.rng.choice(("That doesn't look right. Could you check again?",
                                                      "Hmm, I don't think that's correct. Please check.")),
                    info={"act": "reject"})
