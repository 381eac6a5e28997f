"""The ground-truth critique benchmark (MultiCritique's critique evaluation, made exact by scripted simulators).

In a scripted episode the persona's hidden state says what each agent turn did to it. :class:`FlawTrace` wraps the
scripted simulator and, after every reaction, asks the environment (:meth:`DialogueEnv.turn_flaw`) how much the agent's
turn hurt and why, recording it on the agent turn as ``info["flaw"] = {"harm", "criterion"}``. :func:`label` makes a
benchmark item of a traced episode: its worst agent turns (the largest harm; several when they tie) and their criteria.

A critic is scored on the items by :func:`accuracy`: **location accuracy**, the share of items where its most severe
ACU points at a worst turn, and **flaw accuracy**, the share where that ACU's criterion is a worst turn's; a critique
without ACUs scores 0 on both and is counted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.critique.acu import Critique
from workbench.critique.prompts import agent_turn_numbers
from workbench.env import DialogueEnv, DialogueState, UserSimulator
from workbench.episodes import Episode, Turn

TIE = 1e-6


class FlawTrace:
    """A scripted user simulator whose every reaction labels the agent turn it reacted to (module docstring)."""

    def __init__(self, simulator: UserSimulator, env: type[DialogueEnv]):
        self.simulator, self.env, self.name = simulator, env, simulator.name

    def start(self, state: DialogueState) -> None:
        self.simulator.start(state)

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        before = [copy.deepcopy(s.hidden) for s in states]
        replies = self.simulator.respond(states)
        for state, hidden, reply in zip(states, before, replies, strict=True):
            state.turns.append(reply)  # turn_flaw reads the agent turn at turns[-2]
            flaw = self.env.turn_flaw(hidden, state.hidden, state)
            state.turns.pop()
            state.turns[-1].info["flaw"] = (None if flaw is None
                                            else {"harm": round(float(flaw[0]), 6), "criterion": flaw[1]})
        return replies


@dataclass(frozen=True)
class Item:
    """One labelled dialogue: its worst agent turns (1-based) with their criteria, and their harm."""

    episode: Episode
    worst: dict[int, str]
    harm: float


def turn_harms(episode: Episode, agent_role: str) -> list[tuple[float, str | None]]:
    """(harm, criterion) of each agent turn of a traced episode, in order (0 and None for a harmless turn)."""
    harms = []
    for i in agent_turn_numbers(episode.turns, agent_role):
        flaw = episode.turns[i].info.get("flaw")
        harms.append((flaw["harm"], flaw["criterion"]) if flaw else (0.0, None))
    return harms


def label(episode: Episode, agent_role: str) -> Item | None:
    """The benchmark item of a traced episode, None when no agent turn did harm."""
    harms = turn_harms(episode, agent_role)
    worst = max((h for h, _ in harms), default=0.0)
    if worst <= 0:
        return None
    return Item(episode, {n: c for n, (h, c) in enumerate(harms, 1) if h >= worst - TIE}, worst)


def accuracy(items: Sequence[Item], critiques: Sequence[Critique]) -> dict[str, Any]:
    """Location and flaw accuracy of ``critiques`` (one per item) and the counts behind them (module docstring)."""
    location = flaw = both = no_acu = failed = 0
    for item, critique in zip(items, critiques, strict=True):
        top = critique.top()
        failed += critique.info.get("failed", critique.failed)  # as parsed, also for a stored critique
        if top is None:
            no_acu += 1
            continue
        location += top.turn in item.worst
        flaw += top.criterion in item.worst.values()
        both += item.worst.get(top.turn) == top.criterion
    n = max(len(items), 1)
    return {"items": len(items), "location accuracy": location / n, "flaw accuracy": flaw / n,
            "both": both / n, "no ACU": no_acu / n, "failed": failed / n}


def severity(harm: float) -> int:
    """A ground-truth harm (patience or distress units, about 0-1.5) on the ACU's 1-10 severity scale."""
    return int(min(10, max(1, round(1 + 9 * min(harm, 1.0)))))
