"""TEACh games (Padmakumar et al., AAAI 2022) as loaded for the user-agent evaluation of Philipov et al.
(2024): the loader and its errors, the per-step contexts, the Commander prompt, its parser and the habits."""

from __future__ import annotations

import json

import pytest

from simulators.household.acts import ALL_ACTS, COMMANDER_ACTS, DRIVER_ACTS, normalise_act
from simulators.household.games import Context, Decision, Game, GameTurn, contexts, load_games, split_games
from simulators.household.habits import HabitsUserAgent, acts_if_speaking, react
from simulators.household.parse import parse_response
from simulators.household.prompts import (OBSERVE, answer_text, commander_prompt, few_shot_examples, history_text,
                                          sft_example)
from workbench.errors import WorkbenchError


@pytest.fixture(scope="module")
def games() -> list[Game]:
    return load_games()


def test_the_18_acts_and_their_spellings():
    assert len(ALL_ACTS) == 18 and set(COMMANDER_ACTS) | set(DRIVER_ACTS) == set(ALL_ACTS)
    assert normalise_act("feedbackPositive") == "FeedbackPositive"
    assert normalise_act("informationOther") == "InformationOther"
    assert normalise_act("<<request for instruction>>") == "RequestForInstruction"
    assert normalise_act("Greetings") == "Greetings/Salutations"
    assert normalise_act("Hello") is None


def test_the_development_games_load_with_their_turns(games):
    assert len(games) == 121 and games[0].id == "game-000" and games[-1].id == "game-120"
    first = games[0]
    assert first.goal == "Put all Newspaper on any Tables."
    assert first.turns[:3] == (
        GameTurn("DRIVER", "dialogue", "What shall I do today?", ("RequestForInstruction",)),
        GameTurn("COMMANDER", "dialogue", "newpaper needs to be put on the table", ("Instruction",)),
        GameTurn("DRIVER", "<move>"),
    )
    assert sum(len(g.turns) for g in games) == 5373
    acts = [a for g in games for t in g.turns for a in t.das]
    assert "feedbackPositive" not in acts and "informationOther" not in acts  # normalised on load
    assert sum(t.action == "<move>" and t.role == "COMMANDER" for g in games for t in g.turns) == 123


def test_contexts_hold_the_history_before_each_turn_and_the_human_decision(games):
    steps = [pair for game in games for pair in contexts(game)]
    assert len(steps) == 5373 and sum(d.speak for _, d in steps) == 886
    (c0, d0), (c1, d1), (c2, d2) = contexts(games[0])[:3]
    assert c0 == Context("game-000", games[0].goal, ()) and d0 == Decision(False)  # the Driver speaks
    assert c1.history == games[0].turns[:1]
    assert d1 == Decision(True, ("Instruction",), "newpaper needs to be put on the table")
    assert d2 == Decision(False)


def test_split_is_deterministic_and_by_game(games):
    train, valid = split_games(games)
    assert (len(train), len(valid)) == (85, 36)
    assert not {g.id for g in train} & {g.id for g in valid}
    assert split_games(list(reversed(games)))[1] == sorted(valid, key=lambda g: -int(g.id[5:]))
    assert [g.id for g in split_games(games, seed=1)[1]] != [g.id for g in valid]
    with pytest.raises(WorkbenchError, match="valid_fraction"):
        split_games(games, valid_fraction=1.5)


def _write(tmp_path, data) -> str:
    path = tmp_path / "games.json"
    path.write_text(json.dumps(data, indent=4))
    return str(path)


GOOD_TURN = {"DRIVER": {"action": "<move>"}, "COMMANDER": {"action": "<observe>"}, "turn_action": "<move>"}


def test_a_bad_turn_is_named_with_its_file_line(tmp_path):
    bad = {"DRIVER": {"action": "<fly>"}, "COMMANDER": {"action": "<observe>"}, "turn_action": "<fly>"}
    path = _write(tmp_path, [{"goal": "a", "turns": [GOOD_TURN]}, {"goal": "b", "turns": [GOOD_TURN, bad]}])
    # indent=4: "[" 1, game 0 lines 2-15, game 1 "{" 16, "goal" 17, "turns" 18, turn 0 lines 19-27, turn 1 "{" 28
    with pytest.raises(WorkbenchError, match=rf"^{path}:28: game 1 turn 1: DRIVER has unknown action '<fly>'$"):
        load_games(path)


@pytest.mark.parametrize("data, message", [
    ({"goal": "x"}, r":1: expected a JSON list of games, got dict"),
    ([{"goal": "x"}], r":2: game 0: expected \{\"goal\": str, \"turns\": \[...\]\}"),
    ([{"goal": "x", "turns": [{"DRIVER": {"action": "<move>"}, "COMMANDER": {"action": "<move>"}}]}],
     r":5: game 0 turn 0: exactly one role must act"),
    ([{"goal": "x", "turns": [{"DRIVER": {"action": "<observe>"},
                               "COMMANDER": {"action": "dialogue", "utterance": "hi", "das": ["Smalltalk"]}}]}],
     r":5: game 0 turn 0: COMMANDER has unknown dialogue act 'Smalltalk'"),
])
def test_malformed_games_files(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(WorkbenchError, match=message):
        load_games(path)


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"goal": "x",\n   "turns": [}\n]')
    with pytest.raises(WorkbenchError, match=rf"^{path}:3: not valid JSON"):
        load_games(path)
    with pytest.raises(WorkbenchError, match="cannot read the games file"):
        load_games(tmp_path / "missing.json")


HISTORY = (
    GameTurn("DRIVER", "dialogue", "what should I do?", ("RequestForInstruction",)),
    GameTurn("COMMANDER", "dialogue", "grab the mug in the sink", ("Instruction", "InformationOnObjectDetails")),
    GameTurn("DRIVER", "<pickup>", target="Mug_1"),
    GameTurn("COMMANDER", "<move>"),
)


def test_the_prompt_renders_the_history_one_move_a_line():
    prompt = commander_prompt("Make a cup of coffee.", HISTORY)
    assert prompt.endswith(
        "Goal: Make a cup of coffee.\n"
        "COMMANDER: <observe>\n"
        "DRIVER: what should I do? <<RequestForInstruction>>\n"
        "COMMANDER: grab the mug in the sink <<Instruction, InformationOnObjectDetails>>\n"
        "COMMANDER: <observe>\n"
        "DRIVER: <pickup> Mug_1\n"
        "COMMANDER: <observe>\n"
        "COMMANDER response:")
    assert prompt.startswith("You are the COMMANDER") and "OBSERVE" in prompt
    # whole moves are kept: 3 lines allow the last two moves (2 + 1 lines), never half a move
    assert history_text("g", HISTORY, max_lines=3) == (
        "Goal: g\nCOMMANDER: <observe>\nDRIVER: <pickup> Mug_1\nCOMMANDER: <observe>\nCOMMANDER response:")
    assert commander_prompt("g", HISTORY, speaking=True).endswith("COMMANDER response: <<")


def test_answers_few_shot_examples_and_sft_rows(games):
    assert answer_text(Decision(False)) == OBSERVE
    assert answer_text(Decision(True, ("Instruction", "InformationOnObjectDetails"), "the mug")) == \
        "<<Instruction, InformationOnObjectDetails>> the mug"
    train, _ = split_games(games)
    examples = few_shot_examples(train, 3)
    assert [d.speak for _, d in examples] == [True, False, True] and examples == few_shot_examples(train, 3)
    assert all(c.history for c, _ in examples) and few_shot_examples(train, 0) == []
    prompt = commander_prompt("g", HISTORY, examples)
    assert prompt.count("COMMANDER response:") == 4 and "Example 3:" in prompt
    assert f"COMMANDER response: {answer_text(examples[0][1])}" in prompt
    context, decision = contexts(games[0])[1]
    row = sft_example(context, decision)
    assert row["completion"] == "<<Instruction>> newpaper needs to be put on the table"
    assert row["prompt"].startswith("### Instruction:\n") and row["prompt"].endswith("### Response:\n")


SPEAK = lambda *das, u="": (Decision(True, das, u), None)  # noqa: E731


@pytest.mark.parametrize("text, expected", [
    ("OBSERVE", (Decision(False), None)),
    ("observe.", (Decision(False), None)),
    ("<<Observe>>", (Decision(False), None)),
    ("COMMANDER response: <observe>", (Decision(False), None)),
    ("I think I will just observe now.", (Decision(False), None)),
    ("", (Decision(False), "unparsable")),
    (" ... ", (Decision(False), "unparsable")),
    ("DRIVER: <pickup>", (Decision(False), "unparsable")),
    ("<<Instruction>> pick up the mug", SPEAK("Instruction", u="pick up the mug")),
    ("pick up the mug <<instruction>>", SPEAK("Instruction", u="pick up the mug")),
    ("<<Instruction, informationonobjectdetails>> it is in the sink",
     SPEAK("Instruction", "InformationOnObjectDetails", u="it is in the sink")),
    ("Instruction: pick up the mug", SPEAK("Instruction", u="pick up the mug")),
    ("Instruction>> pick up the mug", SPEAK("Instruction", u="pick up the mug")),
    ("<<Instruction pick up the mug", SPEAK("Instruction", u="pick up the mug")),
    ("the mug (in the sink) [InformationOnObjectDetails]",
     SPEAK("InformationOnObjectDetails", u="the mug (in the sink)")),
    ('Dialogue act: FeedbackPositive. Utterance: "well done"', SPEAK("FeedbackPositive", u="well done")),
    ("<<Greetings>> hi! <<feedback positive>>", SPEAK("Greetings/Salutations", "FeedbackPositive", u="hi!")),
    ("COMMANDER: <<Instruction>> slice the bread\nDRIVER: <slice>\nCOMMANDER: <observe>",
     SPEAK("Instruction", u="slice the bread")),
    ("<<Instruction>>", (Decision(True, ("Instruction",), ""), "no-utterance")),
    ("<<Smalltalk>> nice weather", (Decision(True, ("Instruction",), "nice weather"), "unknown-act")),
    ("put the mug in the coffee machine", (Decision(True, ("Instruction",), "put the mug in the coffee machine"),
                                           "unknown-act")),
])
def test_parse_response(text, expected):
    assert parse_response(text) == expected


def _driver(utterance: str, *das: str) -> GameTurn:
    return GameTurn("DRIVER", "dialogue", utterance, das)


def test_habits_answer_driver_requests():
    goal = "Make a cup of coffee."
    assert react(goal, ()) == Decision(False)
    assert react(goal, (_driver("hi, what should I do?", "Greetings/Salutations", "RequestForInstruction"),)) == \
        Decision(True, ("Instruction",), "make a cup of coffee.")
    where = _driver("where is the mug?", "RequestForObjectLocationAndOtherDetails")
    answer = Decision(True, ("InformationOnObjectDetails",), "the mug is nearby, check the counters and the cabinets.")
    assert react(goal, (where,)) == answer
    assert react(goal, (where, GameTurn("DRIVER", "<move>"))) == answer  # still unanswered one step later
    assert react(goal, (where, GameTurn("DRIVER", "<move>"), GameTurn("DRIVER", "<move>"))) == Decision(False)
    assert react(goal, (_driver("I can't pick it up", "NotifyFailure"),)).das == ("Instruction",)
    assert react(goal, (_driver("is it done?", "Confirm"),)) == Decision(True, ("Affirm",), "yes.")
    assert react(goal, (_driver("ok", "Acknowledge"),)).das == ("Instruction",)
    assert react(goal, (_driver("hello", "Greetings/Salutations"),)) == Decision(False)
    assert react(goal, (GameTurn("DRIVER", "<pickup>"),)) == Decision(False)
    said = GameTurn("COMMANDER", "dialogue", "the mug is in the sink", ("InformationOnObjectDetails",))
    assert acts_if_speaking(goal, (said,)) == ("InformationOnObjectDetails",)
    assert acts_if_speaking(goal, (GameTurn("DRIVER", "<pickup>"),)) == ("Instruction",)
    agent = HabitsUserAgent()
    assert agent.decide([Context("g", goal, (where,))]) == [answer] and agent.fallbacks == {}
