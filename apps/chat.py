"""Terminal chat: you play the user's side, the agent answers and shows its strategy.

The person is told what their role knows (:meth:`DialogueEnv.user_brief`), types the user's lines and
the commands of :data:`COMMANDS`, which never reach the agent. Without a critic model the environment's
ground-truth rules (:meth:`DialogueEnv.rule_verdict`) judge each turn and end the dialogue where the text
settles it (a price agreed, a donation stated, ...); a turn they cannot read scores as a critic's turn with
no parsed sample. The finished chat is one episode, appended to ``--out`` or to a new
``runs/chat-YYYY-MM-DD-HHMM``. Module-level imports stay light so that ``workbench chat --help`` is quick;
models, environments and runs load inside :func:`run_chat`.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.env import Agent, DialogueEnv, DialogueState
    from workbench.episodes import Case, Episode, Turn

COMMANDS = {
    "/help": "list these commands",
    "/undo": "take back your last line and the agent's reply to it",
    "/restart": "start this case again (the dialogue so far is discarded)",
    "/quit": "end the chat, show the outcome and save it (Ctrl-D too)",
}
ENDINGS = {"rule": "ended by the rule", "critic": "ended by the critic", "max_turns": "out of turns", "quit": "quit"}


@dataclass
class ChatConfig:
    env: str = field(default="negotiation", metadata={"help": "environment (see `workbench envs`)"})
    data: str | None = field(default=None, metadata={
        "help": "case file; default: the environment's shared data", "path": "in"})
    case: str | None = field(default=None, metadata={
        "help": "case id to play; default: one drawn with --seed (tool_use: or your own request, e.g. "
                "--case 'How many days from 2024-01-01 to 2024-03-01?')"})
    agent_model: str | None = field(default=None, metadata={"help": "agent chat model spec; none: template agent"})
    policy: str = field(default="random", metadata={
        "help": "strategy policy: random, most-frequent, fixed:<strategy>, planner:<folder>, procot or none"})
    critic_model: str | None = field(default=None, metadata={
        "help": "critic model spec; without one the environment's rules judge the text (a price agreed, a "
                "donation stated, ...) and end the chat where they can"})
    critic_samples: int = field(default=10, metadata={"help": "verdicts sampled per judgement", "min": 1})
    max_turns: int | None = field(default=None, metadata={"help": "agent turns; default: the env's", "min": 1})
    temperature: float = field(default=0.7, metadata={"help": "agent sampling temperature", "min": 0})
    max_new_tokens: int = field(default=40, metadata={"help": "new tokens per agent turn", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    out: str | None = field(default=None, metadata={
        "help": "run directory to append the finished chat to as an episode (created if new); default: a new "
                "runs/chat-YYYY-MM-DD-HHMM", "path": "out"})


class TypedLine:
    """The user simulator of a chat: hands the environment the line the person typed."""

    name = "human"

    def __init__(self) -> None:
        self.line = ""

    def start(self, state: DialogueState) -> None:
        """A person needs no drawn persona."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        from workbench.episodes import Turn

        return [Turn(role=state.user_role, text=self.line) for state in states]


def rule_critic(cls: type[DialogueEnv]) -> Any:
    """The critic of a chat without a critic model: a world that judges itself (household, tool use) reads its own
    state; otherwise the environment's rules read the text."""
    from workbench.critics import RuleCritic
    from workbench.registry import make_critic

    return make_critic(cls, "ground-truth", "human", None) if cls.world_ground_truth else RuleCritic(cls)


def pick_case(cases: Sequence[Case], case_id: str | None, seed: int,
              open_case: Callable[[str], Case | None] | None = None) -> Case:
    """The case named ``case_id``, or one drawn with ``seed`` when it is empty; text that names no case is the
    person's own request where the environment makes cases of them (``open_case``, ``DialogueEnv.open_case``)."""
    if not cases:
        raise WorkbenchError("the environment has no cases")
    if not (case_id or "").strip():
        return random.Random(seed).choice(list(cases))
    found = next((c for c in cases if c.id == case_id.strip()), None)
    if found is None and open_case is not None:
        found = open_case(" ".join(case_id.split()))
    if found is None:
        raise WorkbenchError(f"no case {case_id.strip()!r} (ids look like {cases[0].id!r})")
    return found


def ending(state: DialogueState) -> tuple[str, str]:
    """How the dialogue ended, as a key of :data:`ENDINGS` and in words."""
    if not (state.done or state.truncated):
        return "quit", "you quit"
    verdict = state.verdicts[-1]
    if verdict.info.get("rule"):
        return "rule", f"ended by the rule: {verdict.info['rule']}"
    if state.done and (verdict.success or state.agent_turns < state.max_turns):
        return "critic", "ended by the critic"
    return "max_turns", f"out of turns ({state.agent_turns} of {state.max_turns})"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3f}"
    return "-" if value is None else str(value)


def outcome_lines(env: type[DialogueEnv], episode: Episode, words: str) -> list[str]:
    """The episode's outcome: how it ended, success, return, turns, the environment's outcome fields and metrics."""
    o = episode.outcome
    fields = [f"success {_shown(bool(o.get('success')))}", f"return {episode.total_reward:+.3f}",
              f"turns {o.get('turns', 0)}"]
    fields += [f"{k} {_shown(v)}" for k, v in o.items() if k not in ("success", "turns", "ended_by")]
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in env.metrics([episode]).items())
    return [f"outcome: {words}", "  " + " | ".join(fields), f"  metrics: {metrics}"]


class ChatSession:
    """One dialogue played in the terminal: the agent's pending line, the person's commands and the
    history that ``/undo`` steps back through (the state before each exchange, with the agent's line)."""

    def __init__(self, env: DialogueEnv, agent: Agent, typed: TypedLine, case: Case, seed: int,
                 write: Callable[[str], None], judged: bool):
        self.env, self.agent, self.typed, self.case, self.seed = env, agent, typed, case, seed
        self.write, self.judged = write, judged
        self.restart()

    def restart(self) -> None:
        """A new dialogue on the same case: the opening, then the agent's first line."""
        self.state = self.env.begin(self.case, self.seed)
        self.history: list[tuple[DialogueState, Turn]] = []
        for turn in self.state.turns:
            self.write(f"{turn.role}: {turn.text}")
        self.speak()

    def speak(self) -> bool:
        """The agent's next line for the person; a turn the environment answers itself (``addresses_user``: a tool
        call) is played and its answer shown on the way. True when the dialogue ended on the way."""
        while True:
            (self.pending,) = self.agent.act([self.state])
            self.show(self.pending)
            if self.env.addresses_user(self.state, self.pending):
                return False
            self.env.advance([self.state], [self.pending])
            self.write(f"  {self.state.turns[-1].role}: {self.state.turns[-1].text}")
            if self.state.done or self.state.truncated:
                return True

    def show(self, turn: Turn) -> None:
        prob = turn.info.get("strategy_prob")
        shown = f" [{turn.strategy}{'' if prob is None else f' p={prob:.2f}'}]" if turn.strategy else ""
        self.write(f"{turn.role}{shown}: {turn.text}")

    def undo(self) -> None:
        if not self.history:
            self.write("nothing to undo")
            return
        self.state, self.pending = self.history.pop()
        self.write("took back your last line and the agent's reply; the agent's line stands again:")
        self.show(self.pending)

    def answer(self, text: str) -> bool:
        """Play the person's line; True when the dialogue is over."""
        self.history.append((copy.deepcopy(self.state), copy.deepcopy(self.pending)))
        self.typed.line = text
        (verdict,) = self.env.advance([self.state], [self.pending])
        if self.judged:
            self.write(f"  critic: reward {verdict.reward:+.3f} ({verdict.info.get('parsed', 0)} parsed verdicts)")
        elif verdict.info.get("rule"):
            self.write(f"  rule: {verdict.info['rule']} (reward {verdict.reward:+.3f})")
        if self.state.done or self.state.truncated:
            return True
        return self.speak()

    def play(self, read: Callable[[str], str]) -> None:
        """Read lines and commands until the dialogue ends, /quit or the end of the input."""
        while not (self.state.done or self.state.truncated):
            try:
                text = read(f"{self.state.user_role}> ").strip()
            except EOFError:
                return
            if not text:
                continue
            if not text.startswith("/"):
                if self.answer(text):
                    return
                continue
            command = text.split()[0].lower()
            if command == "/quit":
                return
            if command == "/help":
                self.write("commands (never sent to the agent):")
                for name, what in COMMANDS.items():
                    self.write(f"  {name:<9} {what}")
            elif command == "/undo":
                self.undo()
            elif command == "/restart":
                self.write("starting this case again")
                self.restart()
            else:
                self.write(f"unknown command {command}; type /help for the commands")


def run_chat(config: ChatConfig, read: Callable[[str], str] = input,
             write: Callable[[str], None] = print) -> Episode:
    """Chat as the user of ``config.env``; print the outcome, save the chat as an episode and return it."""
    from agents.policies import make_policy
    from agents.simulation import make_agent
    from workbench.llm.resolve import load_models
    from workbench.registry import env_class, make_critic
    from workbench.runs import Run, default_out

    cls = env_class(config.env)
    case = pick_case(cls.cases(config.data), config.case, config.seed, cls.open_case)
    models = load_models({"agent": config.agent_model, "critic": config.critic_model}, config.seed)
    if models["critic"]:
        critic = make_critic(cls, "llm", "human", models["critic"], samples=config.critic_samples)
    else:
        critic = rule_critic(cls)
    typed = TypedLine()
    env = cls(typed, critic, max_turns=config.max_turns)
    agent = make_agent(cls, models["agent"], make_policy(config.policy, cls, models["agent"]), config.temperature,
                       config.max_new_tokens)
    write(cls.user_brief(case))
    write(f"{cls.name}: case {case.id}, at most {env.max_turns} {cls.agent_role} turns. Type /help for the commands.")
    session = ChatSession(env, agent, typed, case, config.seed, write, judged=models["critic"] is not None)
    session.play(read)
    state = session.state
    kind, words = ending(state)
    episode = env.finish(state, provenance={"models": {"agent": config.agent_model, "critic": config.critic_model},
                                            "seed": config.seed, "user": "human"})
    episode.outcome["ended_by"] = kind
    for line in outcome_lines(cls, episode, words):
        write(line)
    if not state.agent_turns:
        write("nothing was said; nothing saved")
        return episode
    with Run.open(config.out or default_out("chat"), {"env": cls.name, "kind": "chat"}, resume=True) as run:
        run.append_episodes([episode])
        endings = Counter(e.outcome.get("ended_by") for e in run.episodes())
    tally = ", ".join(f"{ENDINGS[k]} {endings[k]}" for k in ENDINGS)
    write(f"saved to {run.path} (chats there: {sum(endings.values())}; {tally})")
    return episode
