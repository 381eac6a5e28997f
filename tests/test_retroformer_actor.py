"""The reflection-following strategy actor: what a reflection's words make of the strategies it names, and how the
actor acts on them (first, prefer, avoid) while its prior is left alone."""

import random

from agents.policies import FixedPolicy, RandomPolicy
from agents.retroformer.actor import ReflectionFollowingPolicy, directives
from workbench.env import DialogueState
from workbench.episodes import Case, Turn
from workbench.registry import env_class

NAMES = ["logical-appeal", "emotion-appeal", "greeting", "proposition-of-donation", "Providing Suggestions"]


def test_directives_read_avoid_first_and_prefer_sentence_by_sentence():
    said = directives(["Avoid greeting and use logical-appeal first. Prefer proposition of donation."], NAMES)
    assert said.first == "logical-appeal"
    assert said.prefer == ["proposition-of-donation"]  # a strategy to use first is not also preferred
    assert said.avoid == ["greeting"]
    said = directives(["Instead of greeting, start with providing suggestions; don't use emotion appeal."], NAMES)
    assert (said.first, said.avoid) == ("Providing Suggestions", ["emotion-appeal", "greeting"])
    assert directives(["Nothing useful here."], NAMES).empty
    said = directives(["Avoid greeting and emotion appeal, then use logical-appeal more and Providing Suggestions "
                       "less."], NAMES)
    assert (said.prefer, said.avoid) == (["logical-appeal"], ["emotion-appeal", "greeting", "Providing Suggestions"])
    said = directives(["Avoid greeting; greeting made them leave."], NAMES)  # a bare mention overrides nothing
    assert said.avoid == ["greeting"] and said.prefer == []


def test_a_later_reflection_overrides_an_earlier_one():
    said = directives(["Prefer greeting.", "Avoid greeting. Prefer emotion-appeal."], NAMES)
    assert said.prefer == ["emotion-appeal"] and said.avoid == ["greeting"]


def state(memory, turns=0, seed=0):
    s = DialogueState(case=Case("c", "persuasion", {}), env="persuasion", agent_role="Persuader",
                      user_role="Persuadee", max_turns=8, seed=seed, memory=list(memory), rng=random.Random(seed))
    s.turns = [Turn("Persuader", "x"), Turn("Persuadee", "y")] * turns
    return s


def test_the_actor_plays_first_then_mostly_preferred_and_never_avoided():
    cls = env_class("persuasion")
    policy = ReflectionFollowingPolicy(RandomPolicy(cls.strategies), cls.strategies, follow=0.8)
    memory = ["Use greeting first, prefer logical-appeal, and avoid emotion-appeal."]
    assert {policy.choose([state(memory, 0, k)])[0][0].name for k in range(20)} == {"greeting"}
    later = [policy.choose([state(memory, 2, k)])[0][0].name for k in range(400)]
    share = later.count("logical-appeal") / len(later)
    assert 0.75 < share < 0.9  # 0.8 followed, plus the prior's own 1/14 of the rest
    assert "emotion-appeal" not in later
    fixed = ReflectionFollowingPolicy(FixedPolicy(cls.strategy("thank")), cls.strategies, follow=0.8)
    assert {fixed.choose([state([], 2, k)])[0][0].name for k in range(20)} == {"thank"}  # no memory: the prior
