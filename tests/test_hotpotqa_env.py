"""The HotpotQA ReAct environment: actions against the question's own paragraphs, the exact-match reward at Finish
with F1 beside it, turns without an action sent to the asker and counted, truncation without an answer, and case
files that are malformed stopping with the file and line."""

import json

import pytest

from simulators.hotpotqa.env import REMINDER, parse_action
from workbench.episodes import Turn
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_env

ROW = {"id": "q1", "question": "Which band formed first, Alpha Band or Beta Band?", "answer": "Alpha Band",
       "type": "comparison", "level": "hard", "supporting_facts": {"title": ["Alpha Band"], "sent_id": [0]},
       "context": {"title": ["Alpha Band", "Beta Band"],
                   "sentences": [["Alpha Band is a rock band.", "It formed in 1990."],
                                 ["Beta Band is a pop band.", "It formed in 1995."]]}}


@pytest.fixture
def case_file(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    return path


def play(env, case, replies):
    state = env.begin(case, 0)
    for reply in replies:
        env.advance([state], [Turn(env.agent_role, reply)])
        if state.done or state.truncated:
            break
    return state, env.finish(state)


def test_parse_action_takes_the_last_action_of_the_line():
    assert parse_action("I need Alpha. Action: Search[Alpha Band]") == ("search", "Alpha Band")
    assert parse_action("lookup [formed]") == ("lookup", "formed")
    assert parse_action("Search[x] then Finish[ yes ]") == ("finish", "yes")
    assert parse_action("I think it is Alpha Band.") is None


def test_search_lookup_and_an_exact_finish_succeed_with_reward_one(case_file):
    env = make_env("hotpotqa")
    (case,) = env.cases(case_file)
    state, episode = play(env, case, ["Action: Search[Alpha Band]", "Action: Lookup[formed]",
                                      "Alpha formed in 1990. Action: Finish[the Alpha Band]"])
    observations = [t.text for t in state.turns if t.role == "Observation"]
    assert observations[:2] == ["Alpha Band is a rock band. It formed in 1990.", "(Result 1 / 1) It formed in 1990."]
    assert state.done and episode.success and episode.total_reward == 1.0
    assert {k: episode.outcome[k] for k in ("em", "f1", "answer", "searches", "lookups")} == {
        "em": True, "f1": 1.0, "answer": "the Alpha Band", "searches": 1, "lookups": 1}


def test_a_wrong_answer_ends_with_reward_zero_and_partial_f1(case_file):
    env = make_env("hotpotqa")
    (case,) = env.cases(case_file)
    _, episode = play(env, case, ["Action: Finish[Beta Band]"])
    assert not episode.success and episode.total_reward == 0.0
    assert episode.outcome["f1"] == pytest.approx(0.5)  # "band" shared: precision 1/2, recall 1/2
    metrics = env_class("hotpotqa").metrics([episode])
    assert metrics["EM"] == 0.0 and metrics["F1"] == pytest.approx(0.5) and metrics["finished"] == 1.0


def test_a_turn_without_an_action_goes_to_the_asker_and_counts_as_invalid(case_file):
    env = make_env("hotpotqa", max_turns=2)
    (case,) = env.cases(case_file)
    state, episode = play(env, case, ["I am not sure what to do.", "Still thinking."])
    assert [t.text for t in state.turns if t.role == "User"][1:] == [REMINDER, REMINDER]
    assert state.truncated and not episode.outcome["finished"] and episode.outcome["answer"] is None
    assert env_class("hotpotqa").metrics([episode])["invalid actions"] == 1.0
    assert env.addresses_user(state, Turn("Agent", "hmm")) and not env.addresses_user(state, Turn("Agent", "Search[x]"))


def test_the_shared_questions_load_and_a_malformed_file_names_its_line(tmp_path):
    cases = env_class("hotpotqa").cases()
    assert len(cases) == 60 and all(len(c.fields["titles"]) == 10 for c in cases)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "context": {"title": ["a"], "sentences": []}}) + "\n")
    with pytest.raises(WorkbenchError, match=r"bad.jsonl:2: context has 1 titles and 0 paragraphs"):
        env_class("hotpotqa").cases(bad)
