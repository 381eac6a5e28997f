"""The tool-use environment: BFCL items scored by the AST checker in one reply, generated tasks played over several
turns with the tools run in the sandbox, the scripted User's rules, rewards, outcome fields and metrics."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from simulators.tool_use.ast_checker import mutate, reference_calls
from simulators.tool_use.bfcl import load_items
from simulators.tool_use.cases import bfcl_case, load_cases
from simulators.tool_use.env import (CALL_PENALTY, CALL_REWARD, CHECK_ROLE, TOOL_ROLE, ToolUseEnv,
                                    untold_facts)
from simulators.tool_use.prompts import CALL_FORMAT, user_prompt
from simulators.tool_use.user import ScriptedUser
from workbench.tool_calls import parse_calls
from workbench import registry
from workbench.critics import GroundTruthCritic
from workbench.episodes import Case, Turn
from workbench.errors import WorkbenchError
from workbench.tool_calls import ToolCall, format_calls

from .helpers import play


def make_env(max_turns: int | None = None) -> ToolUseEnv:
    return ToolUseEnv(ScriptedUser(), GroundTruthCritic(ToolUseEnv.ground_truth), max_turns=max_turns)


def say(env: ToolUseEnv, state, text: str) -> Turn:
    """One Assistant reply; the turn that answers it."""
    env.advance([state], [Turn(role="Assistant", text=text)])
    return state.turns[-1]


def bfcl_episode(item, text: str):
    env = make_env()
    state = env.begin(bfcl_case(item), 0)
    reply = say(env, state, text)
    return state, reply, env.finish(state)


@pytest.fixture(scope="module")
def simple():
    return load_items("simple_python")[:5]


# -- BFCL -------------------------------------------------------------------------------------------
def test_bfcl_reference_calls_are_valid_and_a_mutated_call_is_not(simple):
    for item in simple:
        calls = [ToolCall(c.name, c.arguments) for c in reference_calls(item)]
        state, reply, episode = bfcl_episode(item, format_calls(calls, "python"))
        assert state.done and reply.role == CHECK_ROLE and reply.text == "AST check: valid."
        assert episode.outcome["ast_valid"] and episode.outcome["success"] and episode.total_reward == 1.0
        assert episode.outcome["calls"] == 1 and episode.outcome["parse_failures"] == 0
    item = simple[0]
    wrong = [ToolCall(c.name, c.arguments) for c in mutate(item, "wrong_type")]
    state, reply, episode = bfcl_episode(item, format_calls(wrong))
    assert state.done and not episode.success and episode.total_reward == 0.0
    assert episode.outcome["ast_error_kind"] == "wrong_type" and reply.text.startswith("AST check: invalid (wrong_type")


def test_bfcl_irrelevance_is_right_without_a_call_and_wrong_with_one():
    item = load_items("irrelevance")[0]
    _, _, episode = bfcl_episode(item, "None of these functions can answer that.")
    assert episode.outcome["ast_valid"] and episode.outcome["calls"] == 0
    assert episode.outcome["category"] == "irrelevance"
    name = item.functions[0]["name"]
    _, _, called = bfcl_episode(item, format_calls([ToolCall(name, {})]))
    assert not called.success and called.outcome["ast_error_kind"] == "called_when_irrelevant"


def test_bfcl_unparsable_reply_is_a_counted_parse_failure(simple):
    state, reply, episode = bfcl_episode(simple[0], '{"name": "calculate_triangle_area", "arguments": {"base": 10')
    assert state.done and not episode.success
    assert episode.outcome["parse_failures"] == 1 and episode.outcome["ast_error_kind"] == "parse_failure"
    assert "unbalanced brackets" in reply.text
    metrics = ToolUseEnv.metrics([episode])
    assert metrics["parse-failure rate"] == 1.0 and metrics["AST"] == 0.0


def test_bfcl_metrics_per_category():
    items = load_items("parallel")[:2] + load_items("multiple")[:2]
    episodes = []
    for i, item in enumerate(items):
        calls = [ToolCall(c.name, c.arguments) for c in reference_calls(item)]
        episodes.append(bfcl_episode(item, format_calls(calls) if i != 3 else "I can't.")[2])
    metrics = ToolUseEnv.metrics(episodes)
    assert metrics["AST"] == 0.75 and metrics["AST parallel"] == 1.0 and metrics["AST multiple"] == 0.5
    assert "AST simple_python" not in metrics and "exec success" not in metrics


def test_cases_sources_and_prompt_show_schemas_and_format():
    chosen = load_cases("bfcl:irrelevance,parallel")
    assert len(chosen) == 264 and {c.fields["category"] for c in chosen} == {"irrelevance", "parallel"}
    assert len(load_cases("bfcl")) == 744
    assert [c.fields["category"] for c in load_cases("bfcl")[:5]] == ["simple_python", "multiple", "parallel",
                                                                       "parallel_multiple", "irrelevance"]
    both = load_cases("all")
    assert len(both) == 744 + 300 and [c.fields["kind"] for c in both[:4]] == ["bfcl", "task", "bfcl", "task"]
    with pytest.raises(WorkbenchError, match="unknown tool-use case source"):
        load_cases("bogus")
    case = load_cases("bfcl:multiple")[0]
    env = make_env()
    observation, info = env.reset(case, 0)
    assert observation == case.fields["question"] and info["tools"] == case.fields["functions"]
    system = ToolUseEnv.agent_prompt(info["state"], ToolUseEnv.strategy("call-tool"))[0].content
    assert CALL_FORMAT in system and case.fields["functions"][0]["name"] in system


# -- generated tasks --------------------------------------------------------------------------------
def deadline_case() -> Case:
    """A hand-made task: the request leaves out the end date, which the User tells when asked."""
    return Case(id="task:deadline", env="tool_use", fields={
        "kind": "task", "difficulty": "easy", "request": "How many days are there from 2024-01-01 to my deadline?",
        "calls": [{"name": "days_between", "arguments": {"start": "2024-01-01", "end": "2024-03-01"}}],
        "answer": "60", "facts": {"end date": "2024-03-01"}})


def next_move(state, rng) -> str:
    """The oracle's plan: ask for the facts the request leaves out, run the ground-truth calls in order, answer."""
    if untold_facts(state):
        return "ask-user"
    ran = [r for t in state.turns if t.role == "Assistant" for r in t.info.get("results", []) if r["ok"]]
    return "call-tool" if len(ran) < len(state.case.fields["calls"]) else "answer"


def test_an_oracle_replaying_the_ground_truth_calls_solves_generated_tasks():
    cases = [c for d in ("easy", "medium", "hard") for c in load_cases(f"tasks:{d}")[:4]]
    assert sum(bool(c.fields["facts"]) for c in cases) == 4  # every third medium and hard task hides a detail
    episodes = play(make_env(), cases, next_move)
    for episode in episodes:
        n, asked = len(episode.case.fields["calls"]), len(episode.case.fields["facts"])
        assert episode.success, (episode.case.fields, [t.text for t in episode.turns])
        assert episode.outcome["calls"] == n and episode.outcome["failed_calls"] == 0
        assert episode.outcome["questions"] == asked and episode.outcome["turns"] == asked + n + 1
        assert episode.total_reward == pytest.approx(1.0 + CALL_REWARD * n)
        replies = [b.role for a, b in zip(episode.turns, episode.turns[1:]) if a.info.get("kind") == "calls"]
        assert replies == [TOOL_ROLE] * n
    metrics = ToolUseEnv.metrics(episodes)
    assert metrics["exec success"] == 1.0 and metrics["valid-call rate"] == 1.0 and metrics["parse-failure rate"] == 0.0
    assert {"exec success easy", "exec success medium", "exec success hard"} <= set(metrics)


def test_the_template_cannot_call_with_a_detail_it_was_not_told():
    env = make_env()
    state = env.begin(deadline_case(), 0)
    call = ToolUseEnv.realise(state, ToolUseEnv.strategy("call-tool"))
    assert call == '{"name": "days_between", "arguments": {"start": "2024-01-01"}}'
    assert say(env, state, call).text == "days_between -> error: invalid arguments: end: Field required"
    assert ToolUseEnv.realise(state, ToolUseEnv.strategy("ask-user")) == "What is the end date?"
    say(env, state, "What is the end date?")
    assert untold_facts(state) == {} and "2024-03-01" in ToolUseEnv.realise(state, ToolUseEnv.strategy("call-tool"))


def test_the_user_tells_a_hidden_fact_when_asked_and_not_what_it_does_not_know():
    env = make_env()
    state = env.begin(deadline_case(), 0)
    reply = say(env, state, "What is your deadline?")
    assert reply.role == "User" and reply.text == "The end date is 2024-03-01." and reply.info["act"] == "reveal"
    assert say(env, state, "Which airline are you flying with?").text == "Sorry, I don't know that."
    tool = say(env, state, '{"name": "days_between", "arguments": {"start": "2024-01-01", "end": "2024-03-01"}}')
    assert tool.role == TOOL_ROLE and tool.text == "days_between -> 60"
    assert say(env, state, "Is it 60 days? Or 61?").info["act"] == "unknown"  # a question is never an answer
    accept = say(env, state, "There are 60 days until your deadline.")
    episode = env.finish(state)
    assert state.done and accept.info["act"] == "accept" and episode.success
    assert episode.outcome["questions"] == 3 and episode.outcome["calls"] == 1
    assert [t.reward for t in episode.turns if t.role == "Assistant"] == [0.0, 0.0, CALL_REWARD, 0.0, 1.0]


def test_a_wrong_final_answer_is_rejected_and_the_turn_limit_truncates():
    env = make_env(max_turns=2)
    state = env.begin(deadline_case(), 0)
    reply = say(env, state, "There are 59 days left.")
    assert reply.info["act"] == "reject" and not state.done and not state.truncated
    say(env, state, "It is 61 days.")
    episode = env.finish(state)
    assert state.truncated and not episode.success and episode.outcome["rejected"] == 2 and episode.total_reward == 0.0


def test_tool_errors_and_unparsable_calls_become_tool_turns_and_cost_a_little():
    env = make_env()
    state = env.begin(deadline_case(), 0)
    error = say(env, state, '{"name": "calculator", "arguments": {"expression": "1/0"}}')
    assert error.role == TOOL_ROLE and error.text == "calculator -> error: ValueError: division by zero"
    assert state.turns[-2].reward == -CALL_PENALTY
    unknown = say(env, state, "[no_such_tool(x=1)]")
    assert "unknown tool 'no_such_tool'" in unknown.text
    broken = say(env, state, '{"name": "days_between", "arguments": {"start": "2024-01-01"')
    assert broken.role == TOOL_ROLE and broken.text == "Could not parse the tool call: unbalanced brackets."
    assert state.turns[-2].reward == -CALL_PENALTY and not state.done
    outcome = env.finish(state).outcome
    assert outcome["failed_calls"] == 2 and outcome["parse_failures"] == 1 and outcome["valid_calls"] == 0
    metrics = ToolUseEnv.metrics([env.finish(state)])
    assert metrics["valid-call rate"] == 0.0 and metrics["parse-failure rate"] == pytest.approx(1 / 3)


def test_repeating_a_call_earns_nothing_more():
    env = make_env()
    state = env.begin(deadline_case(), 0)
    call = '{"name": "days_between", "arguments": {"start": "2024-01-01", "end": "2024-03-01"}}'
    say(env, state, call)
    say(env, state, call)
    assert [t.reward for t in state.turns if t.role == "Assistant"] == [CALL_REWARD, 0.0]


def test_the_llm_user_sees_messages_but_not_calls():
    env = ToolUseEnv(ToolUseEnv.llm_simulator(FakeListChatModel(responses=["It is on 2024-03-01."])),
                     GroundTruthCritic(ToolUseEnv.ground_truth))
    state = env.begin(deadline_case(), 0)
    say(env, state, '{"name": "calculator", "arguments": {"expression": "2+2"}}')
    reply = say(env, state, "When is your deadline?")
    assert reply.role == "User" and reply.text == "It is on 2024-03-01." and reply.info["generated"]
    messages = user_prompt(state)
    assert "end date: 2024-03-01" in messages[0].content
    assert [m.content for m in messages[1:]] == [deadline_case().fields["request"], "When is your deadline?",
                                                 "It is on 2024-03-01."]
    say(env, state, "60 days.")
    assert state.done and env.finish(state).success


def test_registered_through_the_registry_with_the_ground_truth_critic_for_any_user(monkeypatch):
    monkeypatch.setitem(registry._EXTRA, "tool_use", "simulators.tool_use.env:ToolUseEnv")
    env = registry.make_env("tool_use", simulator="llm", sim_model=FakeListChatModel(responses=["ok"]))
    assert isinstance(env, ToolUseEnv) and isinstance(env.critic, GroundTruthCritic)
    assert [s.name for s in env.strategies] == ["call-tool", "ask-user", "answer"]


def test_bfcl_prompts_show_worked_examples_from_the_train_split_only():
    import re

    from simulators.tool_use.prompts import NO_FIT, SHOTS, bfcl_demos
    from workbench.splits import split_cases

    for category in ("simple_python", "parallel", "irrelevance"):
        demos = bfcl_demos(category)
        questions = re.findall(r"^User: (.*)$", demos, flags=re.M)
        replies = re.findall(r"^Assistant: (.*)$", demos, flags=re.M)
        assert len(questions) == len(replies) == SHOTS
        cases = [bfcl_case(item) for item in load_items(category)]
        heldout = {c.fields["question"] for c in split_cases(cases, "heldout", 0.3)}
        assert not heldout & set(questions)  # never a held-out item
        for reply in replies:
            assert reply == NO_FIT if category == "irrelevance" else parse_calls(reply).calls


def test_task_prompts_show_worked_dialogues_with_real_tool_results():
    from simulators.tool_use.prompts import task_demos
    from simulators.tool_use.tools import make_tools

    demos = task_demos()
    requests = [line.removeprefix("User: ") for line in demos.splitlines() if line.startswith("User: ")]
    assert len(requests) == 2
    assert not set(requests) & {c.fields["request"] for c in load_cases("tasks")}  # none of the env's own tasks
    tools = make_tools()
    for line in demos.splitlines():
        if line.startswith("Assistant: {"):
            call = parse_calls(line.removeprefix("Assistant: ")).calls[0]
            assert f"Tool: {call.name} -> {tools[call.name].invoke(dict(call.arguments))}" in demos


def test_the_expert_reply_solves_every_task_and_bfcl_item_and_levels_follow_the_curriculum():
    env = make_env()
    cases = load_cases("tasks")[::10] + [bfcl_case(item) for c in ("simple_python", "parallel", "irrelevance")
                                         for item in load_items(c)[:5]]
    asked = 0
    for case in cases:
        state = env.begin(case, seed=0)
        while not (state.done or state.truncated):
            reply = ToolUseEnv.expert_reply(state)
            asked += reply.startswith("What is the")
            env.advance([state], [Turn(role=env.agent_role, text=reply)])
        assert state.verdicts[-1].success, (case.id, [t.text for t in state.turns])
    assert asked  # some tasks hide a fact the expert has to ask for
    levels = [ToolUseEnv.difficulty(c) for c in cases]
    assert set(levels) == {"easy", "medium", "hard"}
    assert ToolUseEnv.difficulty(bfcl_case(load_items("parallel_multiple")[0])) == "hard"


def test_reply_check_accepts_the_expert_and_equivalent_replies_and_rejects_wrong_ones():
    env = make_env()
    checked = 0
    for case in load_cases("tasks")[::25] + [bfcl_case(load_items("parallel")[0])]:
        state = env.begin(case, seed=0)
        while not (state.done or state.truncated):
            reply = ToolUseEnv.expert_reply(state)
            assert env.reply_check(state, reply), (case.id, reply)
            wrong = "The answer is 123456789." if parse_calls(reply).calls else '[{"name": "nope", "arguments": {}}]'
            assert not env.reply_check(state, wrong)
            assert not env.reply_check(state, "[broken(")
            checked += 1
            env.advance([state], [Turn(role=env.agent_role, text=reply)])
    task = load_cases("tasks:easy")[0]
    state = env.begin(task, seed=0)
    call = parse_calls(ToolUseEnv.expert_reply(state)).calls
    if call:  # the same call in Python syntax runs to the same output: accepted
        assert env.reply_check(state, format_calls(call, "python"))
    assert checked > 5
