"""What critics, the meta-critic and the reviser are asked (MultiCritique, Lan et al. 2024, Sec. 3.1-3.3).

A critic reads the dialogue with the agent's turns numbered and the environment's criteria, and writes a critique in
the ACU text form (:mod:`workbench.critique.acu`); a persona (:data:`PERSONAS`) makes one model several critic
agents. The meta-critic rates one ACU ("yes 7": correct, importance 7). The reviser rewrites the criticised turn.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from workbench.critique.acu import ACU, VERDICTS
from workbench.env import DialogueEnv
from workbench.errors import WorkbenchError
from workbench.episodes import Turn

PERSONAS = (
    "You are a strict reviewer who looks for the turn that did the most damage.",
    "You judge the dialogue from the user's side: what made the user less willing to cooperate?",
    "You are a coach for this task who knows which moves work and when.",
    "You review each turn in order and note every mistake, however small.",
)
"""Critic agents made of one model (MultiCritique's several critics, here several points of view)."""

_FORMAT = ("Write the critique in exactly this form, one ACU line per flaw, at most {k}, the worst first:\n"
           "Verdict: {verdicts}\nScore: <1-10, how well the {agent} did>\n"
           "ACU: turn <N> | <criterion> | severity <1-10> | flaw: <what went wrong> | suggestion: <what to do instead>")


def agent_turn_numbers(turns: Sequence[Turn], agent_role: str) -> list[int]:
    """Index in ``turns`` of each agent turn (number ``k`` is at position ``k - 1``), the fixed opening left out."""
    return [i for i, t in enumerate(turns) if t.role == agent_role and not t.info.get("opening")]


def numbered_dialogue(turns: Sequence[Turn], agent_role: str) -> str:
    """The dialogue as lines, each agent turn marked ``[Turn N]``."""
    numbers = {i: n for n, i in enumerate(agent_turn_numbers(turns, agent_role), 1)}
    return "\n".join(f"[Turn {numbers[i]}] {t.role}: {t.text}" if i in numbers else f"{t.role}: {t.text}"
                     for i, t in enumerate(turns))


def criteria_lines(env: type[DialogueEnv]) -> str:
    return "\n".join(f"- {c.name}: {c.description}" for c in env.criteria)


def critique_prompt(env: type[DialogueEnv], turns: Sequence[Turn], persona: str | None = None, k: int = 3,
                    example: int = 0) -> list[BaseMessage]:
    """The critic's prompt for the dialogue ``turns`` (a finished one or one in flight): the instruction, one worked
    example, then the dialogue; a base model sees a transcript that ends in "Critique:". The example names criterion
    ``example`` (modulo their number) at turn ``example % 3 + 1`` of a three-turn sketch, so critic agents given
    different examples do not all copy one (a base model echoes its example)."""
    if not env.criteria:
        raise WorkbenchError(f"environment {env.name!r} has no critique criteria to critique by")
    shown = env.criteria[example % len(env.criteria)]
    system = (f"{persona + ' ' if persona else ''}You critique the {env.agent_role} in a dialogue. Task: "
              f"{env.description}\nCriteria (name: what it means):\n{criteria_lines(env)}\n"
              + _FORMAT.format(k=k, verdicts=" or ".join(VERDICTS), agent=env.agent_role))
    sketch = "\n".join(f"[Turn {n}] {env.agent_role}: ...\n{env.user_role}: ..." for n in (1, 2, 3))
    answer = (f"Verdict: failure\nScore: 3\nACU: turn {example % 3 + 1} | {shown.name} | severity 8 | flaw: "
              f"{shown.description} | suggestion: avoid it")
    return [SystemMessage(system), HumanMessage(sketch, name="Dialogue"), AIMessage(answer, name="Critique"),
            HumanMessage(numbered_dialogue(turns, env.agent_role), name="Dialogue")]


def transcript_options(model: Any) -> dict[str, Any]:
    """Bind options that make a local model (transformers or llama.cpp) read prompts as "Role: text" transcripts, the
    form critics are trained on, whatever chat template its tokenizer has; none for other chat models."""
    return {"use_chat_template": False} if "use_chat_template" in getattr(model, "OPTIONS", ()) else {}


def meta_prompt(env: type[DialogueEnv], turns: Sequence[Turn], acu: ACU) -> list[BaseMessage]:
    """The meta-critic's question about one ACU: is it correct, and how important (1-10)? Two worked answers (one no,
    one yes) come first (a base model sees a transcript that ends in "Answer:")."""
    system = (f"You check critiques of the {env.agent_role} in a dialogue. Task: {env.description}\n"
              f"Criteria:\n{criteria_lines(env)}\nAnswer 'yes' or 'no' (is the critique correct?) and the "
              "importance of the flaw from 1 to 10.")
    first = env.criteria[0].name
    return [SystemMessage(system),
            HumanMessage(f"[Turn 1] {env.agent_role}: Hello.\nCritique: turn 1 | {first}", name="Critique"),
            AIMessage("no 1", name="Answer"),
            HumanMessage(f"[Turn 1] {env.agent_role}: Hello.\n[Turn 2] {env.agent_role}: ({first})\nCritique: turn 2 | "
                         f"{first}", name="Critique"),
            AIMessage("yes 8", name="Answer"),
            HumanMessage(f"{numbered_dialogue(turns, env.agent_role)}\nCritique: turn {acu.turn} | {acu.criterion} | "
                         f"{acu.flaw}", name="Critique")]


_META = re.compile(r"\b(yes|no|correct|incorrect|right|wrong)\b(?:\D{0,24}?(\d+))?", re.I)


def parse_meta(text: str) -> tuple[bool, int | None] | None:
    """A meta-critic answer: (correct, importance or None); None when it says neither yes nor no."""
    m = _META.search(text or "")
    if m is None:
        return None
    correct = m.group(1).lower() in ("yes", "correct", "right")
    return correct, (int(min(10, max(1, int(m.group(2))))) if m.group(2) else None)


def revision_prompt(env: type[DialogueEnv], turns: Sequence[Turn], acu: ACU) -> list[BaseMessage]:
    """The reviser's prompt (MARV, Sec. 3.3): the dialogue up to the criticised turn and the critique; it writes
    that turn again."""
    index = agent_turn_numbers(turns, env.agent_role)[acu.turn - 1]
    system = (f"You are the {env.agent_role}. Task: {env.description} A reviewer criticised your next turn: "
              f"{acu.criterion}: {acu.flaw} Suggestion: {acu.suggestion} Write a better turn, one or two sentences.")
    history = "\n".join(f"{t.role}: {t.text}" for t in turns[:index])
    return [SystemMessage(system), HumanMessage(f"{history}\n{env.agent_role}:")]
