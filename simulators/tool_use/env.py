"""The tool-use environment: an Assistant answers a User's request by calling tools.

Each Assistant reply is read with :func:`workbench.tool_calls.parse_calls` (the format: :data:`.prompts.CALL_FORMAT`)
as calls, a parse failure, or a message to the User; ``Turn.info["kind"]`` says which (``calls``, ``failure``,
``message``) and ``info["calls"]`` holds the calls. Two kinds of cases (:mod:`.cases`):

*BFCL items* (Patil et al., "The Berkeley Function Calling Leaderboard"). The User states the question; the
Assistant sees the item's function schemas and has one reply, checked by BFCL's AST rules
(:func:`.ast_checker.check`); a "Checker" turn states the verdict and the episode ends. Success and reward 1 when
the check passes. A reply that does not parse is invalid (kind ``parse_failure``), except for ``irrelevance``,
where, as in BFCL's own checker, output that decodes to no call is right; it is counted as a parse failure either way.

*Generated tasks* (:mod:`.tasks`; execution feedback after OpenAGI's RLTF, Ge et al. 2023, and iTool, Zeng et al.
2025). The Assistant may call the executable tools (:func:`.tools.make_tools`) over several turns: calls run in the
sandbox (:func:`workbench.tool_sandbox.run_calls`, :attr:`ToolUseEnv.tool_timeout` seconds each) and their results
(or errors) come back as one "Tool" turn; a parse failure comes back as a "Tool" turn naming the reason. A message
goes to the User simulator (the scripted User of :mod:`.user`, or an LLM role-playing it), which answers questions
with the facts the request left out and accepts or rejects answers. The environment itself judges the answer
(:func:`.user.states_answer`: not a question, and :func:`.tasks.answer_matches`; ``world_ground_truth``), so the
reward is the same whoever plays the User: per Assistant turn, :data:`SUCCESS_REWARD` for the right final answer
(which ends the episode), plus :data:`CALL_REWARD` for each call that runs without error and was not made before
(at most as many as the task's ground-truth calls, so repeating calls earns nothing), minus :data:`CALL_PENALTY`
for each call that fails and for a reply that does not parse. A wrong answer is rejected and the Assistant may try
again until the turn limit. A chat plays calls on without the person (:meth:`ToolUseEnv.addresses_user`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool

from workbench.critics import parse_correct
from workbench.env import Critic, DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.tool_calls import ToolCall, format_calls, parse_calls
from workbench.tool_sandbox import run_calls

from . import cases as case_files
from . import prompts
from .ast_checker import check, reference_calls
from .bfcl import CATEGORIES, NO_ANSWER, BfclItem
from .strategies import STRATEGIES
from .tools import make_tools, unit_symbol
from .user import ScriptedUser, asked_fact, is_question, states_answer

TOOL_ROLE = "Tool"
CHECK_ROLE = "Checker"
SUCCESS_REWARD = 1.0
CALL_REWARD = 0.05
CALL_PENALTY = 0.05
PARSE_FAILURE = "parse_failure"


@cache
def executable_tools() -> dict[str, BaseTool]:
    """The shipped executable tools (:func:`.tools.make_tools`), made once per process."""
    return make_tools()


@cache
def _task_schemas() -> tuple[dict[str, Any], ...]:
    return tuple(prompts.tool_schema(t) for t in executable_tools().values())


def tool_schemas(case: Case) -> list[dict[str, Any]]:
    """The tools the Assistant is offered in ``case``: a BFCL item's functions, else the executable tools."""
    return list(case.fields["functions"]) if case_files.is_bfcl(case) else list(_task_schemas())


def bfcl_item(case: Case) -> BfclItem:
    f = case.fields
    return BfclItem(id=f["item_id"], category=f["category"], question=f["question"], functions=f["functions"],
                    ground_truth=f["ground_truth"])


def call_key(call: ToolCall) -> str:
    return json.dumps([call.name, call.arguments], sort_keys=True, default=str)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ToolUseEnv(DialogueEnv):
    """An Assistant answers a User's request by calling tools: BFCL items or generated tasks (module docstring)."""

    name = case_files.ENV_NAME
    description = "Answer a user's request by calling tools (BFCL function calling, multi-step tool tasks)."
    agent_role = "Assistant"
    user_role = "User"
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT", "AST", *(f"AST {c}" for c in CATEGORIES), "exec success", "calls",
                    "valid-call rate", "parse-failure rate")
    default_max_turns = 10
    world_ground_truth = True
    tool_timeout = 5.0

    def __init__(self, simulator: UserSimulator, critic: Critic, *, max_turns: int | None = None):
        super().__init__(simulator, critic, max_turns=max_turns)
        self.tools: Mapping[str, BaseTool] | None = None
        """The executable tools by name that task calls run against (:func:`executable_tools` at the first call)."""

    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Generated tasks (default), or BFCL items: ``bfcl[:<category>,...]``, ``tasks[:<difficulty>,...]``."""
        return case_files.load_cases(source)

    default_source = staticmethod(case_files.default_source)

    @classmethod
    def open_case(cls, request: str) -> Case:
        """A person's own request, with no ground truth (:func:`.cases.open_case`): in a chat, the calls run and
        their results show, but no answer is judged (the dialogue runs until the turn limit or the person stops)."""
        return case_files.open_case(request)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """None: there are no human dialogues with annotated strategies."""
        return []

    # -- the episode -------------------------------------------------------------------------
    def opening(self, state: DialogueState) -> list[Turn]:
        """The User states the question (BFCL) or the request (task)."""
        f = state.case.fields
        state.hidden["seen_calls"] = []
        return [Turn(role=self.user_role, text=f["question"] if case_files.is_bfcl(state.case) else f["request"],
                     info={"opening": True})]

    def reset(self, case: Case, seed: int | None = None) -> tuple[str, dict[str, Any]]:
        """The User's request; ``info`` adds ``tools`` (the offered schemas) and ``call_format``."""
        observation, info = super().reset(case, seed)
        return observation, {**info, "tools": tool_schemas(case), "call_format": prompts.CALL_FORMAT}

    def advance(self, states: Sequence[DialogueState], turns: Sequence[Turn]) -> list[Verdict]:
        """Read each Assistant reply; calls run (tasks) or are checked (BFCL) and answered by a "Tool" or
        "Checker" turn, messages of a task go to the User simulator (one batched call); then the critic judges.
        A BFCL episode ends after its one reply."""
        for state, turn in zip(states, turns, strict=True):
            if state.done or state.truncated:
                raise WorkbenchError("advance() was called on a finished dialogue")
            state.turns.append(turn)
            self.read(state, turn)
        to_user = [s for s in states if not case_files.is_bfcl(s.case) and s.turns[-1].info["kind"] == "message"]
        replies = dict(zip(map(id, to_user), self.simulator.respond(to_user) if to_user else []))
        for state in states:
            state.turns.append(replies.get(id(state)) or self.observe(state))
        return self.judge(states)

    def ends(self, state: DialogueState, verdict: Verdict) -> bool:
        """A BFCL episode ends after its one reply; a task when the critic says so."""
        return verdict.done or case_files.is_bfcl(state.case)

    def addresses_user(self, state: DialogueState, turn: Turn) -> bool:
        """Only a message to the User of a task waits for the User: calls and unparsable calls get a "Tool" turn,
        and a BFCL reply the Checker's verdict."""
        parsed = parse_calls(turn.text)
        return not case_files.is_bfcl(state.case) and parsed.failure is None and not parsed.calls

    def read(self, state: DialogueState, turn: Turn) -> None:
        """Parse the reply into ``turn.info`` (``kind``, ``calls``, ``parse_failure``); check a BFCL reply
        (``ast``), run a task's calls (``results``, ``failed_calls``, ``new_valid_calls``) or judge a task's
        message (``answer_correct``)."""
        parsed = parse_calls(turn.text)
        kind = "failure" if parsed.failure is not None else "calls" if parsed.calls else "message"
        turn.info.update(kind=kind, calls=[{"name": c.name, "arguments": c.arguments} for c in parsed.calls])
        if parsed.failure is not None:
            turn.info["parse_failure"] = parsed.failure
        if case_files.is_bfcl(state.case):
            turn.info["ast"] = self.check_bfcl(state.case, parsed.calls, parsed.failure)
        elif kind == "calls":
            self.run(state, turn, parsed.calls)
        elif kind == "message" and state.case.fields["kind"] == "task":  # an open request has no answer to judge
            turn.info["answer_correct"] = states_answer(turn.text, case_files.case_task(state.case))

    @staticmethod
    def check_bfcl(case: Case, calls: list[ToolCall], failure: str | None) -> dict[str, Any]:
        """BFCL's AST verdict of a reply as ``{"valid", "kind", "message"}`` (parse failures: module docstring)."""
        item = bfcl_item(case)
        if failure is not None:
            valid = item.category == NO_ANSWER
            return {"valid": valid, "kind": None if valid else PARSE_FAILURE,
                    "message": None if valid else f"the reply did not parse: {failure}"}
        verdict = check([(c.name, c.arguments) for c in calls], item.functions, item.ground_truth, item.category)
        return {"valid": verdict.valid, "kind": verdict.kind, "message": verdict.message}

    def run(self, state: DialogueState, turn: Turn, calls: list[ToolCall]) -> None:
        """Run the calls in the sandbox; count failed calls and new calls that ran (at most the task's number)."""
        if self.tools is None:
            self.tools = executable_tools()
        results = run_calls(self.tools, calls, self.tool_timeout)
        seen = state.hidden["seen_calls"]
        new_valid = 0
        for call, result in zip(calls, results):
            if result.ok and call_key(call) not in seen:
                seen.append(call_key(call))
                new_valid += len(seen) <= len(state.case.fields["calls"])
        turn.info.update(results=[{"ok": r.ok, "output": r.output, "error": r.error} for r in results],
                         failed_calls=sum(not r.ok for r in results), new_valid_calls=new_valid)

    def observe(self, state: DialogueState) -> Turn:
        """The environment's answer to the last reply: the AST verdict (BFCL), the tools' results or the parse
        failure (task)."""
        info = state.turns[-1].info
        if case_files.is_bfcl(state.case):
            ast = info["ast"]
            text = "AST check: valid." if ast["valid"] else f"AST check: invalid ({ast['kind']}: {ast['message']})."
            return Turn(role=CHECK_ROLE, text=_one_line(text))
        if info["kind"] == "failure":
            return Turn(role=TOOL_ROLE, text=f"Could not parse the tool call: {info['parse_failure']}.")
        lines = [f"{c['name']} -> {r['output'] if r['ok'] else 'error: ' + str(r['error'])}"
                 for c, r in zip(info["calls"], info["results"])]
        return Turn(role=TOOL_ROLE, text=_one_line("; ".join(lines)))

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """Common: ``kind`` (bfcl, task), ``success``, ``replies`` (Assistant turns), ``calls`` (parsed),
        ``parse_failures``. BFCL: ``category``, ``ast_valid``, ``ast_error_kind``. Task: ``difficulty``,
        ``valid_calls``, ``failed_calls``, ``questions`` (messages that ask the User something), ``rejected``
        (messages that state a wrong answer)."""
        moves = [t for t in state.turns[state.opening:] if t.role == self.agent_role]
        common = {"kind": state.case.fields["kind"], "replies": len(moves),
                  "calls": sum(len(t.info.get("calls", [])) for t in moves),
                  "parse_failures": sum(t.info.get("kind") == "failure" for t in moves)}
        if case_files.is_bfcl(state.case):
            ast = moves[-1].info["ast"] if moves else {"valid": False, "kind": None}
            return {**common, "category": state.case.fields["category"], "success": ast["valid"],
                    "ast_valid": ast["valid"], "ast_error_kind": ast["kind"]}
        failed = sum(t.info.get("failed_calls", 0) for t in moves)
        messages = [t for t in moves if t.info.get("kind") == "message"]
        questions = sum(is_question(t.text) for t in messages)
        correct = sum(bool(t.info.get("answer_correct")) for t in messages)
        calls = {"valid_calls": sum(len(t.info.get("results", [])) for t in moves) - failed, "failed_calls": failed,
                 "questions": questions}
        if state.case.fields["kind"] == "open":  # nothing to judge the answer by
            return {**common, "success": False, **calls, "judged": False}
        return {**common, "difficulty": state.case.fields["difficulty"], "success": correct > 0, **calls,
                "rejected": len(messages) - questions - correct}

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """SR and AT (PPDPP); BFCL episodes: ``AST`` accuracy and ``AST <category>`` for each category played;
        task episodes: ``exec success`` (and per difficulty), ``calls`` per episode, ``valid-call rate`` (calls that
        ran without error over calls made); all: ``parse-failure rate`` (replies that did not parse over replies)."""
        out = super().metrics(episodes)
        bfcl = [e for e in episodes if e.outcome.get("kind") == "bfcl"]
        tasks = [e for e in episodes if e.outcome.get("kind") == "task"]
        if bfcl:
            out["AST"] = _mean(e.outcome["ast_valid"] for e in bfcl)
            out |= _by(bfcl, "category", CATEGORIES, "AST", "ast_valid")
        if tasks:
            from .tasks import DIFFICULTIES

            out["exec success"] = _mean(e.outcome["success"] for e in tasks)
            out |= _by(tasks, "difficulty", DIFFICULTIES, "exec success", "success")
            out["calls"] = _mean(e.outcome["calls"] for e in tasks)
            made = sum(e.outcome["valid_calls"] + e.outcome["failed_calls"] for e in tasks)
            out["valid-call rate"] = sum(e.outcome["valid_calls"] for e in tasks) / made if made else 0.0
        if episodes:
            replies = sum(e.outcome.get("replies", 0) for e in episodes)
            failures = sum(e.outcome.get("parse_failures", 0) for e in episodes)
            out["parse-failure rate"] = failures / replies if replies else 0.0
        return out

    # -- the User ------------------------------------------------------------------------------
    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The rule-based User of :mod:`.user` (BFCL items need none: the Checker answers)."""
        return ScriptedUser()

    user_prompt = staticmethod(prompts.user_prompt)

    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The request, and for a task the details the User knows if asked."""
        f = case.fields
        brief = f"You are the {cls.user_role}; the agent is the tool-using {cls.agent_role}. You ask: "
        if case_files.is_bfcl(case):
            return brief + f["question"]
        facts = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in f["facts"].items())
        return brief + f["request"] + (f" If asked, you know: {facts}." if facts else "")

    # -- the Assistant -------------------------------------------------------------------------
    @classmethod
    def agent_prompt(cls, state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
        """The Assistant's prompt with the offered tools and the call format (:mod:`.prompts`)."""
        return prompts.agent_prompt(state, tool_schemas(state.case), strategy, case_files.is_bfcl(state.case))

    LEVELS = {"simple_python": "easy", "irrelevance": "easy", "multiple": "medium", "parallel": "medium",
              "parallel_multiple": "hard"}
    """BFCL categories by difficulty, for iTool's easy -> medium -> hard warm-up (generated tasks carry their own)."""

    @classmethod
    def difficulty(cls, case: Case) -> str:
        """``easy``, ``medium`` or ``hard``: a generated task's own, a BFCL category's by :attr:`LEVELS`."""
        return cls.LEVELS[case.fields["category"]] if case_files.is_bfcl(case) else case.fields["difficulty"]

    @classmethod
    def expert_reply(cls, state: DialogueState) -> str:
        """The right next Assistant reply (the target of supervised warm-up and of iTool's fast reward): for a BFCL
        item its reference calls in Python syntax, as the worked examples write them, or :data:`.prompts.NO_FIT`;
        for a task, the question for a fact the next call needs and the User has not told, else the next
        ground-truth call not yet run without error (JSON), else the final answer."""
        if case_files.is_bfcl(state.case):
            calls = [ToolCall(name, args) for name, args in reference_calls(bfcl_item(state.case))]
            return format_calls(calls, "python") if calls else prompts.NO_FIT
        truth = [ToolCall(c["name"], c["arguments"]) for c in state.case.fields["calls"]]
        ran = {call_key(ToolCall(c["name"], c["arguments"]))
               for t in state.turns if t.role == state.agent_role
               for c, r in zip(t.info.get("calls", []), t.info.get("results", [])) if r["ok"]}
        pending = [c for c in truth if call_key(c) not in ran]
        if not pending:
            return f"The answer is {state.case.fields['answer']}."
        untold = untold_facts(state)
        needed = [name for name, value in untold.items() if any(fills(v, value) for v in pending[0].arguments.values())]
        return f"What is the {needed[0]}?" if needed else format_calls([pending[0]])

    def reply_check(self, state: DialogueState, reply: str) -> bool:
        """Whether ``reply`` does what :meth:`expert_reply` does at ``state`` (the AST or execution check at iTool's
        MCTS leaves): a BFCL reply passes BFCL's AST check; a task reply that should call a tool makes calls that all
        run without error, one of them with the expert call's output; one that should ask, asks for an untold fact
        the next call needs; one that should answer, states the right answer."""
        parsed = parse_calls(reply)
        if case_files.is_bfcl(state.case):
            return self.check_bfcl(state.case, parsed.calls, parsed.failure)["valid"]
        if parsed.failure is not None:
            return False
        expert = parse_calls(self.expert_reply(state)).calls
        if expert:
            if not parsed.calls:
                return False
            if self.tools is None:
                self.tools = executable_tools()
            *results, wanted = run_calls(self.tools, [*parsed.calls, expert[0]], self.tool_timeout)
            return all(r.ok for r in results) and any(r.output == wanted.output for r in results)
        if parsed.calls:
            return False
        if self.expert_reply(state).endswith("?"):
            return is_question(reply) and asked_fact(reply, untold_facts(state)) is not None
        return states_answer(reply, case_files.case_task(state.case))

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template Assistant, an oracle over the case's ground truth except for what the User has not told:
        ``call-tool`` makes the next ground-truth call not yet run without error, leaving out any argument that
        holds a fact the User has not told (so the call fails until the Assistant asks; BFCL: the whole reference
        answer in one reply); ``ask-user`` asks for the first fact not yet told; ``answer`` states the last tool
        output (BFCL: says no function fits)."""
        move = cls.strategy(strategy.name).name
        if case_files.is_bfcl(state.case):
            if move == "call-tool":
                calls = [ToolCall(c.name, c.arguments) for c in reference_calls(bfcl_item(state.case))]
                if calls:
                    return format_calls(calls)
            if move == "ask-user":
                return "Could you tell me more about what you need?"
            return "None of the offered functions can do that."
        untold = untold_facts(state)
        if move == "call-tool" and not state.case.fields["calls"]:  # an open request: no ground truth to replay
            move = "answer"
        if move == "call-tool":
            call = next_call(state)
            return format_calls([ToolCall(call.name, {k: v for k, v in call.arguments.items()
                                                      if not any(fills(v, fact) for fact in untold.values())})])
        if move == "ask-user":
            return f"What is the {next(iter(untold))}?" if untold else "Is there anything else I should know?"
        outputs = [r["output"] for t in state.turns if t.role == cls.agent_role
                   for r in t.info.get("results", []) if r["ok"]]
        return f"The answer is {outputs[-1]}." if outputs else "I don't know the answer yet."

    # -- verdicts --------------------------------------------------------------------------------
    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The environment's own check of the last Assistant reply (module docstring)."""
        info = state.turns[-2].info
        if case_files.is_bfcl(state.case):
            ast = info["ast"]
            return Verdict(reward=SUCCESS_REWARD if ast["valid"] else 0.0, done=True, success=ast["valid"],
                           info={"ast_valid": ast["valid"], "ast_error_kind": ast["kind"]})
        success = bool(info.get("answer_correct"))
        penalties = info.get("failed_calls", 0) + (info["kind"] == "failure")
        reward = SUCCESS_REWARD * success + CALL_REWARD * info.get("new_valid_calls", 0) - CALL_PENALTY * penalties
        return Verdict(reward=round(reward, 6), done=success, success=success)

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(parse_correct)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)


def untold_facts(state: DialogueState) -> dict[str, str]:
    """The task's facts whose value no User turn has stated yet."""
    said = [t.text for t in state.turns[state.opening:] if t.role == state.user_role]
    return {name: value for name, value in state.case.fields["facts"].items() if not any(value in s for s in said)}


def fills(argument: Any, fact: str) -> bool:
    """Whether a call's argument holds a fact's value (a unit is told by name, "feet", and called by symbol, "ft")."""
    if argument == fact:
        return True
    try:
        return isinstance(argument, str) and unit_symbol(fact) == argument
    except ValueError:
        return False


def next_call(state: DialogueState) -> ToolCall:
    """The first ground-truth call of the task not yet run without error (the last one once all have run)."""
    ran = {call_key(ToolCall(c["name"], c["arguments"]))
           for t in state.turns if t.role == state.agent_role
           for c, r in zip(t.info.get("calls", []), t.info.get("results", [])) if r["ok"]}
    truth = [ToolCall(c["name"], c["arguments"]) for c in state.case.fields["calls"]]
    return next((c for c in truth if call_key(c) not in ran), truth[-1])


def _by(episodes: Sequence[Episode], field: str, groups: Sequence[str], label: str, value: str) -> dict[str, float]:
    """``"<label> <group>"``: the mean of ``outcome[value]`` over the episodes of each group played."""
    out = {}
    for group in groups:
        played = [e for e in episodes if e.outcome[field] == group]
        if played:
            out[f"{label} {group}"] = _mean(e.outcome[value] for e in played)
    return out


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
