"""Human-likeness of user agents (Philipov et al. 2024, arXiv 2410.23535): the F1 metrics on hand-checked
examples, the baselines on a two-game fixture, the LLM agent with a fake chat model, and `workbench evaluate-user`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from apps.cli import main
from simulators.household.games import Context, Decision, load_games
from simulators.household.humanlike import (USER_AGENTS, AgentOptions, AlwaysObserve, LLMUserAgent, MajorityAct,
                                            RuleAfterDriverSpeaks, UserAgentKind, act_f1, evaluate,
                                            make_user_agent, register_user_agent, speak_f1, table)
from workbench.errors import WorkbenchError


def _say(role: str, utterance: str, *das: str) -> dict:
    other = "DRIVER" if role == "COMMANDER" else "COMMANDER"
    return {role: {"action": "dialogue", "utterance": utterance, "das": list(das)}, other: {"action": "<observe>"},
            "turn_action": "dialogue"}


def _act(role: str, action: str) -> dict:
    other = "DRIVER" if role == "COMMANDER" else "COMMANDER"
    return {role: {"action": action}, other: {"action": "<observe>"}, "turn_action": action}


# Game A: the human speaks at turns 1 and 5; game B at turns 0, 2 and 5 (15 steps, 5 spoken).
FIXTURE = [
    {"goal": "Make coffee.", "turns": [
        _say("DRIVER", "hi, what should I do?", "Greetings/Salutations", "RequestForInstruction"),
        _say("COMMANDER", "make coffee", "Instruction"),
        _act("DRIVER", "<move>"),
        _say("DRIVER", "where is the mug?", "RequestForObjectLocationAndOtherDetails"),
        _act("DRIVER", "<move>"),
        _say("COMMANDER", "grab the mug from the sink", "Instruction"),
        _act("DRIVER", "<pickup>"),
        _say("DRIVER", "ok", "Acknowledge"),
        _act("COMMANDER", "<move>"),
    ]},
    {"goal": "Water the plant.", "turns": [
        _say("COMMANDER", "hello", "Greetings/Salutations"),
        _say("DRIVER", "hi, task?", "Greetings/Salutations", "RequestForInstruction"),
        _say("COMMANDER", "water the plant, the cup is on the table", "Instruction", "InformationOnObjectDetails"),
        _act("DRIVER", "<pickup>"),
        _act("DRIVER", "<pour>"),
        _say("COMMANDER", "good job", "feedbackPositive"),
    ]},
]


@pytest.fixture()
def fixture_games(tmp_path):
    path = tmp_path / "two_games.json"
    path.write_text(json.dumps(FIXTURE, indent=2))
    return load_games(path)


def test_speak_f1_by_hand():
    s, o = Decision(True, ("Instruction",)), Decision(False)
    result = speak_f1([s, s, o, o, s], [s, o, s, o, o])  # TP 1, FP 2, FN 1, TN 1
    assert result["confusion"] == [[1, 1], [2, 1]]
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))  # 0.4
    assert speak_f1([o, o], [o, o])["f1"] == 0.0


def test_act_f1_by_hand():
    gold = [("Instruction",), ("Instruction", "InformationOnObjectDetails"), ("FeedbackPositive",)]
    pred = [("Instruction",), ("InformationOnObjectDetails",), ("Instruction",)]
    result = act_f1(pred, gold)
    # Instruction: TP 1, FP 1, FN 1 -> F1 0.5 (support 2); Information...: TP 1 -> 1.0 (1); FeedbackPositive: 0 (1)
    assert result["per_act"]["Instruction"]["f1"] == pytest.approx(0.5)
    assert result["per_act"]["InformationOnObjectDetails"]["f1"] == pytest.approx(1.0)
    assert result["weighted_f1"] == pytest.approx((0.5 * 2 + 1.0 * 1 + 0.0 * 1) / 4)
    assert result["macro_f1"] == pytest.approx(1.5 / 3)


def test_baselines_on_two_games(fixture_games):
    observe = evaluate(AlwaysObserve(), fixture_games)
    assert (observe["steps"], observe["human_speaks"], observe["games"]) == (15, 5, 2)
    assert observe["speak"]["confusion"] == [[0, 5], [0, 10]] and observe["acts_given_speech"] is None

    # the rule speaks after A1, A4, A8 (Driver utterances) and B2: TP A1 B2, FP A4 A8
    rule = evaluate(RuleAfterDriverSpeaks(), fixture_games)
    assert rule["speak"]["confusion"] == [[2, 3], [2, 8]]
    assert rule["speak"]["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    # acts on the 5 spoken steps: Instruction TP 2 FN 1 -> 0.8 (support 3); three acts with support 1 at 0
    assert rule["acts"]["weighted_f1"] == pytest.approx(0.8 * 3 / 6)
    assert rule["acts"]["macro_f1"] == pytest.approx(0.8 / 4)

    majority = evaluate(MajorityAct(fixture_games), fixture_games)
    assert majority["speak"] == rule["speak"] and majority["acts"] == rule["acts"]
    # always Instruction: TP 3, FP 2 -> 0.75 (support 3)
    assert majority["acts_given_speech"]["weighted_f1"] == pytest.approx(0.75 * 3 / 6)
    assert majority["acts_given_speech"]["macro_f1"] == pytest.approx(0.75 / 4)

    # habits: speak at A1, A4 (location question), A5 (still unanswered), A8 (after ok), B2
    scripted = evaluate(make_user_agent("scripted", fixture_games), fixture_games)
    assert scripted["speak"]["confusion"] == [[3, 2], [2, 8]] and scripted["speak"]["f1"] == pytest.approx(0.6)
    assert scripted["acts"]["weighted_f1"] == pytest.approx(0.4)
    # given speech: Instruction TP 2 FP 2 FN 1 -> 4/7; the rest 0
    assert scripted["acts_given_speech"]["weighted_f1"] == pytest.approx(4 / 7 * 3 / 6)
    assert scripted["acts_given_speech"]["macro_f1"] == pytest.approx(4 / 7 / 4)

    text = table([("rule", rule), ("scripted", scripted)])
    assert "| rule | 50.0 | 40.0 | 44.4 | 40.0 | 20.0 | - | - | none |" in text
    assert "| scripted | 60.0 | 60.0 | 60.0 | 40.0 | 20.0 | 28.6 | 14.3 | none |" in text
    assert evaluate(AlwaysObserve(), fixture_games, limit_steps=3)["steps"] == 3


class RuleChat(BaseChatModel):
    """Answers from the last prompt line before the query, whatever order the batch is served in:
    a Driver question -> an instruction; a forced utterance (prompt ending in "<<") -> an act after a question,
    an unknown act otherwise; after a ``<pickup>``, ``###`` (nothing usable); else observe."""

    @property
    def _llm_type(self) -> str:
        return "rule-chat"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].content)
        last = prompt.rsplit("\n", 2)[-2]
        if prompt.endswith("<<"):
            text = "InformationOnObjectDetails>> it is there" if "?" in last else "Smalltalk>> hm"
        elif "?" in last:
            text = "<<Instruction>> do the task\nDRIVER: ok"
        else:
            text = "###" if "<pickup>" in last else "OBSERVE"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def test_llm_agent_parses_batched_answers_and_counts_fallbacks(fixture_games):
    agent = LLMUserAgent(RuleChat(), few_shot=2, train_games=fixture_games, batch_size=4)
    assert "Example 2:" in agent.prompt(Context("g", "Make coffee.", ()))
    result = evaluate(agent, fixture_games)
    # questions end A0, A3, B1 -> speak at A1, A4, B2; A7 and B4 follow a <pickup> -> unparsable
    assert result["speak"]["confusion"] == [[2, 3], [1, 9]]
    assert result["fallbacks"] == {"unparsable": 2, "no-act": 3}  # the forced acts at A5, B0, B5 are unknown
    assert result["acts_given_speech"]["per_act"]["InformationOnObjectDetails"]["support"] == 1
    with pytest.raises(WorkbenchError, match="few_shot=99"):
        LLMUserAgent(RuleChat(), few_shot=99, train_games=fixture_games)


def test_user_agent_specs_and_the_extension_point(fixture_games):
    assert isinstance(make_user_agent("always-observe", []), AlwaysObserve)
    with pytest.raises(WorkbenchError, match="unknown user agent 'oracle'"):
        make_user_agent("oracle", [])
    with pytest.raises(WorkbenchError, match="takes no argument"):
        make_user_agent("rule:x", [])
    seen = []
    register_user_agent("echo", UserAgentKind(lambda arg, games, options: seen.append((arg, len(games), options))
                                              or AlwaysObserve(), "test kind"))
    try:
        assert isinstance(make_user_agent("echo:folder", fixture_games, AgentOptions(few_shot=3)), AlwaysObserve)
        assert seen == [("folder", 2, AgentOptions(few_shot=3))]
    finally:
        USER_AGENTS.pop("echo")


def test_cli_runs_the_non_llm_agents(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate-user", "--simulators", "always-observe,rule", "majority", "scripted",
                 "--max_games", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| scripted |" in printed and f"run directory: {out}" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["agents"]) == ["always-observe", "rule", "majority", "scripted"]
    assert metrics["games"] == 5 and metrics["train_games"] == 85
    summary = (out / "summary.md").read_text()
    assert "43.4%" in summary and "62.5%" in summary and "| majority |" in summary
    assert (out / "plots" / "confusion.png").stat().st_size > 1000


@pytest.mark.parametrize("argv, message", [
    (["--simulators", "rule,oracle"], "error: unknown user agent 'oracle' (known: "),
    (["--simulators", "llm:openai:"], "error: model spec 'openai:' names no model"),
    (["--split", "test"], "error: unknown --split 'test'"),
    (["--max_games", "-1"], "error: --max_games must be at least 0, got -1"),
    (["--valid_fraction", "0"], "error: no valid games"),
])
def test_cli_errors_are_one_line_and_make_no_folder(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["evaluate-user", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not out.exists()


def test_cli_names_the_line_of_a_malformed_games_file(tmp_path, capsys):
    data = tmp_path / "games.json"
    data.write_text(json.dumps([{"goal": "x", "turns": [{"DRIVER": {"action": "<fly>"},
                                                         "COMMANDER": {"action": "<observe>"}}]}], indent=1))
    assert main(["evaluate-user", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"error: {data}:5: game 0 turn 0: DRIVER has unknown action '<fly>'\n"
    assert not Path(tmp_path / "run").exists()
