"""Refine-and-Imitate's sentence-level rewards: repetition, inconsistency, relevance, length, and the critic
wrapper."""

import pytest

from workbench.env import Verdict
from workbench.episodes import Turn
from workbench.llm.embedded import SentenceEncoder
from workbench.registry import make_env
from workbench.sentence_rewards import SentenceRewardCritic, SentenceScorer, contradicts, sentences

TASK = "Persuade the user to donate part of a $2 task payment to Save the Children."


@pytest.fixture(scope="module")
def scorer():
    return SentenceScorer(SentenceEncoder(), TASK)


def test_a_repeated_sentence_is_penalised(scorer):
    earlier = ["Save the Children helps kids in over 100 countries."]
    again = scorer.score("Save the Children helps kids in over 100 countries.", earlier)
    fresh = scorer.score("Would you donate some of your payment today?", earlier)
    assert again["repetition"] == 1 and fresh["repetition"] == 0
    assert again["reward"] == pytest.approx(again["relevance"] - 1.0)


def test_a_contradiction_of_an_earlier_sentence_is_penalised(scorer):
    assert contradicts("I will donate $1 too.", "I will donate $2 too.")
    assert contradicts("The charity is not rated.", "The charity is rated.")
    assert not contradicts("The charity is rated.", "The charity is rated well.")
    parts = scorer.score("I am not donating to Save the Children myself.", ["I am donating to Save the Children myself."])
    assert parts["inconsistency"] == 1 and parts["repetition"] == 0


def test_relevance_and_length(scorer):
    on_task = scorer.score("Your donation to Save the Children helps children in need.", [])
    off_task = scorer.score("My favourite football team won the league last night.", [])
    assert on_task["relevance"] > off_task["relevance"] + 0.2
    assert scorer.score("Hi.", [])["length"] == 1 and on_task["length"] == 0
    assert sentences("One. Two! Three?") == ["One.", "Two!", "Three?"]


def test_the_critic_adds_the_weighted_sentence_reward(scorer):
    env = make_env("persuasion")
    state = env.begin(env.cases()[0], 0)

    class Zero:
        def judge(self, states):
            return [Verdict(reward=0.5, done=False, success=False) for _ in states]

    state.turns += [Turn("Persuader", "Save the Children helps kids."), Turn("Persuadee", "Okay."),
                    Turn("Persuader", "Save the Children helps kids."), Turn("Persuadee", "I see.")]
    (verdict,) = SentenceRewardCritic(Zero(), scorer, "Persuader", weight=0.1).judge([state])
    parts = verdict.info["sentence"]
    assert parts["repetition"] == 1 and verdict.reward == pytest.approx(0.5 + 0.1 * parts["reward"])
