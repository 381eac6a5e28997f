"""The ground-truth critique benchmark's labels: scripted episodes whose worst agent turn is known by construction."""

from __future__ import annotations

import pytest

from agents.multicritique.data import traced_env
from workbench.critique.acu import ACU, Critique
from workbench.critique.labels import accuracy, label, turn_harms
from workbench.errors import WorkbenchError
from workbench.hindsight.replay import Move, Plan, replay
from workbench.registry import env_class

PLANS = {
    # greet (harmless), a bare offer of $1 (far below any floor: a lowball, +1 annoyance), then small talk (at most a
    # stall, +0.5 annoyance, which the lowball outweighs; the seller never walks: patience >= 2)
    "negotiation": ([Move("greet"), Move(None, "I'll give you $1 for it."), Move("greet")], {2: "lowball"}),
    # a question (openness <= 0.8: no disclosure yet), advice before the problem is shared (+1 distress), a question
    "emotional_support": ([Move("Question"), Move("Providing Suggestions"), Move("Question")],
                          {2: "advice-before-exploration"}),
    # a greeting, an argument, the same argument again (+0.4 fatigue against at most 0.15 for the first)
    "persuasion": ([Move("greeting"), Move("logical-appeal"), Move("logical-appeal")], {3: "repeated-argument"}),
}


def played(name, moves, cases=6):
    cls = env_class(name)
    plans = [Plan(c.id, c, 100 + i, list(moves)) for i, c in enumerate(cls.cases()[:cases])]
    return cls, replay(traced_env(cls), plans, progress=False)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_worst_turn_known_by_construction_is_the_label(name):
    moves, worst = PLANS[name]
    cls, episodes = played(name, moves)
    for episode in episodes:
        item = label(episode, cls.agent_role)
        assert item is not None and item.worst == worst, (episode.id, turn_harms(episode, cls.agent_role))
        assert item.harm == max(h for h, _ in turn_harms(episode, cls.agent_role)) > 0


def test_a_harmless_dialogue_is_no_item_and_accuracy_scores_the_most_severe_acu():
    cls, episodes = played("emotional_support", [Move("Question"), Move("Reflection of feelings")])
    assert [label(e, cls.agent_role) for e in episodes] == [None] * len(episodes)
    cls, episodes = played("negotiation", PLANS["negotiation"][0], cases=4)
    items = [label(e, cls.agent_role) for e in episodes]
    critiques = [Critique([ACU(1, "lowball", 3), ACU(2, "lowball", 9)]),      # right turn, right flaw
                 Critique([ACU(2, "stalling", 9)]),                           # right turn, wrong flaw
                 Critique([ACU(3, "lowball", 9), ACU(2, "lowball", 1)]),      # the most severe points elsewhere
                 Critique(verdict="failure")]                                 # no ACU
    assert accuracy(items, critiques) == {"items": 4, "location accuracy": 0.5, "flaw accuracy": 0.5, "both": 0.25,
                                          "no ACU": 0.25, "failed": 0.0}


def test_an_environment_without_labels_says_so():
    cls = env_class("tutoring")
    assert cls.criteria == ()
    with pytest.raises(WorkbenchError, match="no ground-truth critique labels"):
        cls.turn_flaw({}, {}, None)
