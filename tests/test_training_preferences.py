"""Preference pairs from episodes (by return, by critic verdict, by hindsight) and from app feedback."""

import pytest

from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.training.preferences import feedback_rows, preference_pairs

CASE = Case("c1", "negotiation", {})


def episode(eid, agent_texts, rewards, case=CASE, provenance=None):
    turns = [Turn("Seller", "Hi, it is $100.")]
    for text, reward in zip(agent_texts, rewards):
        turns += [Turn("Buyer", text, reward=reward), Turn("Seller", "Hmm.")]
    return Episode(eid, "negotiation", case, turns, provenance=provenance or {})


def test_best_against_worst_return_from_the_same_state():
    eps = [episode("a", ["$80?", "ok"], [-0.1, 0.5]), episode("b", ["$60?", "no"], [-0.1, -0.5]),
           episode("c", ["$90?", "ok"], [0.4, 0.1])]
    rows = preference_pairs(eps, "Buyer", by="return")
    assert len(rows) == 1  # one state (the opening) shared by all three
    row = rows[0]
    assert row["prompt"] == [{"role": "user", "content": "Hi, it is $100."}]
    assert row["chosen"][0]["content"] == "$90?"   # return 0.5 from the first move ("$80?": 0.4)
    assert row["rejected"][0]["content"] == "$60?"  # return -0.6


def test_critic_pairs_use_the_turns_own_reward():
    eps = [episode("a", ["$80?", "ok"], [-0.1, 0.5]), episode("c", ["$90?", "ok"], [0.4, 0.0])]
    row = preference_pairs(eps, "Buyer", by="critic")[0]
    assert (row["chosen"][0]["content"], row["rejected"][0]["content"]) == ("$90?", "$80?")


def test_margin_and_separate_cases():
    other = Case("c2", "negotiation", {})
    eps = [episode("a", ["$80?"], [0.1]), episode("b", ["$60?"], [0.0], case=other)]
    assert preference_pairs(eps, "Buyer") == []  # different cases never pair
    eps = [episode("a", ["$80?"], [0.1]), episode("b", ["$60?"], [0.0])]
    assert len(preference_pairs(eps, "Buyer", min_margin=0.05)) == 1
    assert preference_pairs(eps, "Buyer", min_margin=0.2) == []


def test_hindsight_branches_against_their_original():
    original = episode("o", ["$60?", "no"], [-0.1, -0.5])
    branch = episode("o/b1", ["$60?", "Could you do $85?"], [-0.1, 0.6],
                     provenance={"branch_of": "o", "branch_turn": 3})
    rows = preference_pairs([original, branch], "Buyer", by="hindsight")
    assert len(rows) == 1
    assert rows[0]["chosen"][0]["content"] == "Could you do $85?"
    assert rows[0]["rejected"][0]["content"] == "no"
    assert rows[0]["prompt"][-1] == {"role": "user", "content": "Hmm."}


def test_feedback_records_become_pairs_and_labels():
    prompt = [{"role": "user", "content": "Hi"}]
    pairs, unpaired = feedback_rows([
        {"prompt": prompt, "response": "Yo", "edit": "Hello, how can I help?", "rating": None},
        {"prompt": prompt, "response": "Hello!", "rating": "like"},
        {"prompt": prompt, "response": "Go away", "rating": "dislike"},
    ])
    assert pairs == [{"prompt": prompt, "chosen": [{"role": "assistant", "content": "Hello, how can I help?"}],
                      "rejected": [{"role": "assistant", "content": "Yo"}]},
                     {"prompt": prompt, "chosen": [{"role": "assistant", "content": "Hello!"}],
                      "rejected": [{"role": "assistant", "content": "Go away"}]}]
    assert [r["label"] for r in unpaired] == [True, False]
    other = [{"role": "user", "content": "Bye"}]
    pairs, _ = feedback_rows([{"prompt": prompt, "response": "Hello!", "rating": "like"},
                              {"prompt": other, "response": "Go away", "rating": "dislike"}])
    assert pairs == []  # a like and a dislike pair up only under the same prompt
    with pytest.raises(WorkbenchError, match="rating must be"):
        feedback_rows([{"prompt": prompt, "response": "x", "rating": "meh"}])
    with pytest.raises(WorkbenchError, match="unknown pairing"):
        preference_pairs([], "Buyer", by="vibes")
