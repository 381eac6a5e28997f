"""How the agent sees the tools, and the role-play and critic prompts of the tool-use environment.

**Tools** are shown the way BFCL shows functions (Patil et al., "The Berkeley Function Calling Leaderboard"):
one JSON object a line, ``{"name", "description", "parameters"}``, ``parameters`` a JSON schema of the
arguments. BFCL items bring their schema dicts; executable tools (langchain-core ``StructuredTool``) are
converted with ``convert_to_openai_tool``.

**Calls** (:data:`CALL_FORMAT`, the one statement of the format, told to every agent): the whole reply is the
call, on one line: a JSON object ``{"name": ..., "arguments": {...}}``, a JSON list of such objects, or Python
syntax ``[name(a=1), other(b="x")]``; any other reply is a message to the user. :func:`workbench.tool_calls.
parse_calls` reads it (a reply that starts like a call but does not parse is a parse failure).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Mapping, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from workbench.env import DialogueState, Strategy, Verdict
from workbench.tool_calls import ToolCall, format_calls
from workbench.roleplay import critic_messages, role_prompt

CALL_FORMAT = ('To call tools, reply with only the call, on one line: a JSON object {"name": "<tool>", '
               '"arguments": {...}}, a JSON list of such objects for several calls, or Python syntax '
               '[tool(a=1), other(b="x")]. Any other reply is a message to the user.')
CRITIC_SYSTEM = ("You judge an Assistant that answers a User's request by calling tools. Read the request and the "
                 "dialogue, with the tools' results, and answer with one sentence.")
CRITIC_QUESTION = ("Question: Has the Assistant given the User a correct final answer? Answer \"The answer is "
                   "correct.\" or \"The answer is not correct.\"")
CRITIC_SHOTS = (
    ("User: What is 12 times 7?\nAssistant: {\"name\": \"calculator\", \"arguments\": {\"expression\": \"12*7\"}}\n"
     "Tool: calculator -> 84\nAssistant: 12 times 7 is 84.\nUser: Thanks, that's right.", "The answer is correct."),
    ("User: What is 12 times 7?\nAssistant: It is 74.\nUser: That doesn't look right.", "The answer is not correct."),
)


def tool_schema(tool: BaseTool) -> dict[str, Any]:
    """An executable tool as BFCL shows a function: name, description and the arguments' JSON schema."""
    function = convert_to_openai_tool(tool)["function"]
    return {"name": function["name"], "description": function.get("description", ""),
            "parameters": function.get("parameters", {"type": "object", "properties": {}})}


def tools_block(schemas: Sequence[Mapping[str, Any]]) -> str:
    """The tools, one JSON object a line, then :data:`CALL_FORMAT`."""
    lines = [json.dumps({k: s[k] for k in ("name", "description", "parameters") if k in s}, ensure_ascii=False)
             for s in schemas]
    return "Tools:\n" + "\n".join(lines) + "\n" + CALL_FORMAT


SHOTS = 2
"""Worked examples in a BFCL prompt (few-shot: the embedded models are base models)."""
NO_FIT = "None of these functions can do that, so I cannot call one for it."
"""The demonstrated reply when no function fits (BFCL's irrelevance category)."""


@lru_cache(maxsize=None)
def bfcl_demos(category: str) -> str:
    """:data:`SHOTS` worked examples of ``category`` from the *train* split of the BFCL cases (the split
    ``workbench evaluate`` holds out: :func:`workbench.splits.split_cases`, share 0.3), each its functions, the
    question and the right reply: the reference calls in Python syntax, or :data:`NO_FIT`."""
    from workbench.splits import split_cases

    from .ast_checker import reference_calls
    from .bfcl import load_items
    from .cases import bfcl_case

    items = {f"bfcl:{item.id}": item for item in load_items(category)}
    train = split_cases([bfcl_case(item) for item in items.values()], "train", 0.3)
    blocks = []
    for case in sorted(train, key=lambda c: c.id)[:SHOTS]:
        item = items[case.id]
        calls = [ToolCall(name, args) for name, args in reference_calls(item)]
        reply = format_calls(calls, "python") if calls else NO_FIT
        functions = "\n".join(json.dumps(f, ensure_ascii=False) for f in item.functions)
        blocks.append(f"Functions:\n{functions}\nUser: {item.question}\nAssistant: {reply}")
    return "Examples:\n\n" + "\n\n".join(blocks)


DEMO_SEED = 1000
"""Seed of the generated tasks shown as worked examples (the environment's own cases use seed 0)."""


@lru_cache(maxsize=None)
def task_demos() -> str:
    """Worked examples of generated tasks, one easy and one medium without hidden facts (seed :data:`DEMO_SEED`):
    the request, one call a turn with the tool's real result as a "Tool" line (as the environment writes it),
    then the final answer."""
    from .tasks import generate_tasks
    from .tools import make_tools

    tools = make_tools()
    blocks = []
    for difficulty in ("easy", "medium"):
        task = next(t for t in generate_tasks(20, difficulty, DEMO_SEED) if not t.facts)
        lines = [f"User: {task.request}"]
        for call in task.calls:
            lines += [f"Assistant: {format_calls([call], 'json')}",
                      f"Tool: {call.name} -> {tools[call.name].invoke(dict(call.arguments))}"]
        lines.append(f"Assistant: The answer is {task.answer}.")
        blocks.append("\n".join(lines))
    return "Examples:\n\n" + "\n\n".join(blocks)


def agent_prompt(state: DialogueState, schemas: Sequence[Mapping[str, Any]], strategy: Strategy | None,
                 bfcl: bool) -> list[BaseMessage]:
    """PPDPP's role-play prompt for the Assistant: its job, the tools and the call format, worked examples
    (:func:`bfcl_demos` of the item's category, or :func:`task_demos`) next to the dialogue, the strategy's
    instruction, then the dialogue (tool results as "Tool" turns)."""
    job = ("Answer the User's request with the function calls it needs, in one reply; if no function fits, say so "
           "in plain text." if bfcl else
           "Call tools to work out the answer to the User's request, ask the User for details the request leaves "
           "out, then give the final answer in one sentence.")
    demos = bfcl_demos(state.case.fields["category"]) if bfcl else task_demos()
    system = f"Now enter the role-playing mode. You play the Assistant. {job}\n{tools_block(schemas)}\n\n{demos}"
    return role_prompt(system, state, state.agent_role, strategy)


def user_prompt(state: DialogueState) -> list[BaseMessage]:
    """The User's role-play prompt: the request and the details it left out; the User sees the Assistant's
    messages, not its tool calls or their results."""
    f = state.case.fields
    request = f.get("request") or f.get("question", "")
    facts = "; ".join(f"{key.replace('_', ' ')}: {value}" for key, value in (f.get("facts") or {}).items())
    system = (f"Now enter the role-playing mode. You play the User, who asked an Assistant: \"{request}\" "
              + (f"You know these details, which your request left out: {facts}. " if facts else "")
              + "Answer the Assistant's questions with these details only; if it asks something else, say you do "
                "not know. When it gives a final answer, say briefly whether you accept it. Reply with only one "
                "short sentence.")
    return [SystemMessage(content=system), *_user_view(state)]


def _user_view(state: DialogueState) -> list[BaseMessage]:
    """The dialogue as the User saw it: its own turns and the Assistant's messages (no calls, no tool results)."""
    messages: list[BaseMessage] = []
    for t in state.turns:
        if t.role == state.user_role:
            messages.append(AIMessage(content=t.text, name=t.role))
        elif t.role == state.agent_role and t.info.get("kind", "message") == "message":
            messages.append(HumanMessage(content=t.text, name=t.role))
    return messages


def critic_prompt(state: DialogueState) -> list[BaseMessage]:
    """The optional LLM critic (the environment's own check is the default): is the final answer correct?"""
    f = state.case.fields
    return critic_messages(CRITIC_SYSTEM, CRITIC_SHOTS, CRITIC_QUESTION, state,
                           context=f"The User's request: {f.get('request') or f.get('question', '')}")


def aggregate_verdicts(state: DialogueState, parsed: list[bool]) -> Verdict:
    """Majority of the parsed samples: correct -> reward 1, done, success; otherwise 0 (no parsed sample: not
    correct)."""
    success = bool(parsed) and sum(parsed) > len(parsed) / 2
    return Verdict(reward=1.0 if success else 0.0, done=success, success=success)
