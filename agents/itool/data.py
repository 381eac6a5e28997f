"""iTool's warm-up data (Zeng et al. 2025, arXiv 2501.09766, Sec. 3.1): the expert's replies on a tool-use
environment's cases as TRL prompt-completion rows, in curriculum order easy -> medium -> hard.

The environment is passed in (a class with ``expert_reply(state)`` and ``difficulty(case)``, e.g. the ``tool_use``
environment reached through :func:`workbench.registry.make_env`), so this module never imports ``simulators``.
Each case is played to its end by the expert (the environment's scripted User and tools answer); every Assistant
turn becomes one row: the prompt is the Assistant's role-play prompt rendered as the transcript a base model reads
(:func:`workbench.llm.local.format_transcript`, exactly as ``LocalChatModel`` renders it at inference), the
completion the expert's reply after a space.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Case, Turn
from workbench.errors import WorkbenchError
from workbench.llm.local import format_transcript

CURRICULUM = ("easy", "medium", "hard")
"""The warm-up order."""


@dataclass
class Step:
    """One expert Assistant turn: the dialogue just before it (a copy, for checking other replies there) and its
    training row."""

    state: DialogueState
    row: dict[str, Any]


def expert_steps(env: DialogueEnv, cases: Sequence[Case], seed: int = 0) -> list[Step]:
    """Every expert Assistant turn of every case, each row with ``prompt``, ``completion``, ``difficulty`` and
    ``case``; a case the expert does not solve is an error (its rows would teach a wrong reply)."""
    for hook in ("expert_reply", "difficulty"):
        if not callable(getattr(env, hook, None)):
            raise WorkbenchError(f"the {env.name} environment has no {hook}(): iTool needs a tool-use environment")
    steps = []
    for case in cases:
        state = env.begin(case, seed)
        level = env.difficulty(case)
        while not (state.done or state.truncated):
            reply = env.expert_reply(state)
            prompt = format_transcript(env.agent_prompt(state, None), assistant_label=env.agent_role)[0]
            steps.append(Step(copy.deepcopy(state), {"prompt": prompt, "completion": " " + reply,
                                                     "difficulty": level, "case": case.id}))
            env.advance([state], [Turn(role=env.agent_role, text=reply)])
        if not state.verdicts[-1].success:
            raise WorkbenchError(f"the expert does not solve case {case.id}: its replies are no training target")
    return steps


def expert_rows(env: DialogueEnv, cases: Sequence[Case], seed: int = 0) -> list[dict[str, Any]]:
    """The rows of :func:`expert_steps`."""
    return [step.row for step in expert_steps(env, cases, seed)]


def curriculum(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` stably ordered easy -> medium -> hard (iTool's warm-up curriculum)."""
    unknown = {r["difficulty"] for r in rows} - set(CURRICULUM)
    if unknown:
        raise WorkbenchError(f"unknown difficulty {sorted(unknown)[0]!r} (expected {', '.join(CURRICULUM)})")
    return sorted(rows, key=lambda r: CURRICULUM.index(r["difficulty"]))
