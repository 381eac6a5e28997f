"""The app's chat with a tool-using agent: calls run and their results show one by one without the person, who
answers only the agent's messages (questions and the final answer)."""

from agents.policies import FixedPolicy
from agents.template import TemplateAgent
from apps.gui.chat import ChatSession
from simulators.tool_use.cases import load_cases
from simulators.tool_use.env import TOOL_ROLE, ToolUseEnv
from workbench.episodes import Turn
from workbench.tool_calls import parse_calls


def start(case) -> ChatSession:
    """A chat without a critic model: the environment's own check judges (the tool results, the answer)."""
    return ChatSession.start(ToolUseEnv, Expert(), None, case, seed=0)


class Expert:
    """The environment's expert as the agent."""

    def act(self, states):
        return [Turn(role=ToolUseEnv.agent_role, text=ToolUseEnv.expert_reply(s)) for s in states]


def test_calls_play_on_without_the_person_and_messages_wait_for_the_person():
    case = next(c for c in load_cases("tasks:hard") if c.fields["facts"])  # the agent must ask for a detail
    session = start(case)
    shown = 0
    while not session.finished:
        for _ in session.unattended():
            shown += 1
            assert session.turns()[-2].role == TOOL_ROLE  # each call's result is on the page as it happens
        if session.finished:
            break
        pending = session.pending.text
        assert not parse_calls(pending).calls  # the person is asked only when the agent speaks to them
        session.send("My " + ", ".join(f"{k} is {v}" for k, v in case.fields["facts"].items()) + "."
                     if pending.endswith("?") else "Thank you.")
    assert session.outcome()["success"] and shown == len(case.fields["calls"])
    messages = session.messages()
    tool = [m for m in messages if m.get("metadata", {}).get("title") == TOOL_ROLE]
    assert len(tool) == shown and all(m["role"] == "assistant" for m in tool)
    assert sum(m["role"] == "user" for m in messages) == 3  # the request, the details, the thanks


def test_undo_takes_back_the_persons_message_and_the_calls_that_followed():
    case = next(c for c in load_cases("tasks:medium") if c.fields["facts"])
    session = start(case)
    list(session.unattended())
    before = [t.text for t in session.turns()]
    session.send("My " + ", ".join(f"{k} is {v}" for k, v in case.fields["facts"].items()) + ".")
    list(session.unattended())
    assert len(session.turns()) > len(before) + 2
    session.undo()
    assert [t.text for t in session.turns()] == before


def test_the_terminal_chat_shows_each_call_and_result_and_asks_the_person_only_for_messages(tmp_path):
    from apps.chat import ChatConfig, run_chat

    asked, shown = [], []
    config = ChatConfig(env="tool_use", seed=0, policy="fixed:call-tool", max_turns=3, out=str(tmp_path / "chats"))
    episode = run_chat(config, read=lambda prompt: asked.append(prompt) or "/quit", write=shown.append)
    assert not asked and episode.outcome["turns"] == 3 and episode.outcome["calls"] == 3
    assert sum(line.startswith("  Tool: ") for line in shown) == 3


class Calculating:
    """Calls the calculator once, then says what it returned."""

    def act(self, states):
        return [Turn(role=ToolUseEnv.agent_role, text='{"name": "calculator", "arguments": {"expression": "6 * 7"}}'
                     if s.agent_turns == 0 else "It is 42.") for s in states]


def test_a_person_can_ask_their_own_question_and_nothing_judges_the_answer():
    from apps.chat import pick_case

    case = pick_case(ToolUseEnv.cases(), "What is six times seven?", 0, ToolUseEnv.open_case)
    assert case.id.startswith("open:") and case.fields["request"] == "What is six times seven?"
    session = ChatSession.start(ToolUseEnv, Calculating(), None, case, seed=0, max_turns=3)
    assert session.turns()[0].text == "What is six times seven?"
    list(session.unattended())
    assert [t.text for t in session.turns()[2:]] == ["calculator -> 42", "It is 42."]
    session.send("Thanks!")
    assert not session.finished and session.state.verdicts[-1].reward == 0
    template = ChatSession.start(ToolUseEnv, TemplateAgent(ToolUseEnv, FixedPolicy(ToolUseEnv.strategy("call-tool"))),
                                 None, case, seed=0)
    assert not parse_calls(template.pending.text).calls  # the template has no ground truth to replay here
