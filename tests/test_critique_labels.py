"""The ground-truth critique benchmark's labels: scripted episodes whose worst agent turn is known by construction."""

from __future__ import annotations

import pytest

from agents.multicritique.data import traced_env
from simulators.marketplace.cases import cheapest_fit
from workbench.critique.acu import ACU, Critique
from workbench.critique.labels import accuracy, label, turn_harms
from workbench.errors import WorkbenchError
from workbench.hindsight.replay import Move, Plan, replay
from workbench.registry import env_class


def affordable(case):
    return sorted((o for o in case.fields["options"] if o["price"] <= case.fields["budget"]), key=lambda o: o["price"])


def needs(case, option):
    return case.fields["need"] in option["features"]


# env, the agent's moves, the worst turns by construction, and which cases make them so (None: any)
PLANS = {
    # greet (harmless), a bare offer of $1 (far below any floor: a lowball, +1 annoyance), then small talk (at most a
    # stall, +0.5 annoyance, which the lowball outweighs; the seller never walks: patience >= 2)
    "negotiation": ("negotiation", [Move("greet"), Move(None, "I'll give you $1 for it."), Move("greet")],
                    {2: "lowball"}, None),
    # a question (openness <= 0.8: no disclosure yet), advice before the problem is shared (+1 distress), a question
    "emotional_support": ("emotional_support", [Move("Question"), Move("Providing Suggestions"), Move("Question")],
                          {2: "advice-before-exploration"}, None),
    # a greeting, an argument, the same argument again (+0.4 fatigue against at most 0.15 for the first)
    "persuasion": ("persuasion", [Move("greeting"), Move("logical-appeal"), Move("logical-appeal")],
                   {3: "repeated-argument"}, None),
    # a correction before any attempt (+1 frustration, threshold >= 2: the student does not give up), then harmless
    "tutoring-correction": ("tutoring", [Move("Correction"), Move("Hint"), Move("Others")],
                            {1: "misplaced-correction"}, None),
    # an attempt with a wrong word, confirmed (it hardens), then nothing
    "tutoring-confirmation": ("tutoring", [Move("Question"), Move("Confirmation"), Move("Others")],
                              {2: "confirmed-mistake"}, lambda c: "wrong" in c.hidden["knowledge"]),
    # an attempt that is not the whole sentence, asked for again without help (+1 frustration), then a hint
    "tutoring-question": ("tutoring", [Move("Question"), Move("Question"), Move("Hint")], {2: "repeated-question"},
                          lambda c: {"unknown", "known"} <= set(c.hidden["knowledge"])),
    # facts-free small talk (the customer asks again), then the cheapest option said to have what it lacks
    "marketplace-claim": ("marketplace", [Move("hedge"), Move("claim-cheapest")], {2: "false-feature-claim"},
                          lambda c: not needs(c, affordable(c)[0])),
    "marketplace-premium": ("marketplace", [Move("hedge"), Move("recommend-premium")], {2: "upsell"},
                            lambda c: needs(c, affordable(c)[-1])
                            and affordable(c)[-1]["price"] > cheapest_fit(c)["price"]),
    "marketplace-denial": ("marketplace", [Move("hedge"), Move("disclose-none")], {2: "false-denial"},
                           lambda c: cheapest_fit(c) is not None),
    # no answer until the last turn, when the customer leaves without what an option had
    "marketplace-evasion": ("marketplace", [Move("hedge")] * 3, {3: "no-answer"},
                            lambda c: cheapest_fit(c) is not None),
}


def played(name, moves, cases=6, keep=None):
    cls = env_class(name)
    chosen = [c for c in cls.cases() if keep is None or keep(c)][:cases]
    assert len(chosen) == cases
    plans = [Plan(c.id, c, 100 + i, list(moves)) for i, c in enumerate(chosen)]
    return cls, replay(traced_env(cls), plans, progress=False)


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_the_worst_turn_known_by_construction_is_the_label(plan):
    name, moves, worst, keep = PLANS[plan]
    cls, episodes = played(name, moves, keep=keep)
    for episode in episodes:
        item = label(episode, cls.agent_role)
        assert item is not None and item.worst == worst, (episode.id, turn_harms(episode, cls.agent_role))
        assert item.harm == max(h for h, _ in turn_harms(episode, cls.agent_role)) > 0


def test_a_harmless_dialogue_is_no_item_and_accuracy_scores_the_most_severe_acu():
    cls, episodes = played("emotional_support", [Move("Question"), Move("Reflection of feelings")])
    assert [label(e, cls.agent_role) for e in episodes] == [None] * len(episodes)
    cls, episodes = played("negotiation", PLANS["negotiation"][1], cases=4)
    items = [label(e, cls.agent_role) for e in episodes]
    critiques = [Critique([ACU(1, "lowball", 3), ACU(2, "lowball", 9)]),      # right turn, right flaw
                 Critique([ACU(2, "stalling", 9)]),                           # right turn, wrong flaw
                 Critique([ACU(3, "lowball", 9), ACU(2, "lowball", 1)]),      # the most severe points elsewhere
                 Critique(verdict="failure")]                                 # no ACU
    assert accuracy(items, critiques) == {"items": 4, "location accuracy": 0.5, "flaw accuracy": 0.5, "both": 0.25,
                                          "no ACU": 0.25, "failed": 0.0}


def test_an_environment_without_labels_says_so():
    cls = env_class("household")
    assert cls.criteria == ()
    with pytest.raises(WorkbenchError, match="no ground-truth critique labels"):
        cls.turn_flaw({}, {}, None)
