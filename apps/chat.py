"""Terminal chat: you play the user's side, the agent answers and shows its strategy."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

from workbench.llm.resolve import load_models
from agents.policies import make_policy
from agents.simulation import make_agent
from workbench.env import DialogueState, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_critic
from workbench.runs import Run

QUIT = "/quit"


@dataclass
class ChatConfig:
    env: str = field(default="negotiation", metadata={"help": "environment (see `workbench envs`)"})
    data: str | None = field(default=None, metadata={
        "help": "case file; default: the environment's shared data", "path": "in"})
    case: str | None = field(default=None, metadata={"help": "case id to play; default: one drawn with --seed"})
    agent_model: str | None = field(default=None, metadata={"help": "agent chat model spec; none: template agent"})
    policy: str = field(default="random", metadata={
        "help": "strategy policy: random, most-frequent, fixed:<strategy>, planner:<folder>, procot or none"})
    critic_model: str | None = field(default=None, metadata={
        "help": "critic model spec; without one turns are not judged and you end the chat with /quit"})
    critic_samples: int = field(default=10, metadata={"help": "verdicts sampled per judgement", "min": 1})
    max_turns: int | None = field(default=None, metadata={"help": "agent turns; default: the env's", "min": 1})
    temperature: float = field(default=0.7, metadata={"help": "agent sampling temperature", "min": 0})
    max_new_tokens: int = field(default=40, metadata={"help": "new tokens per agent turn", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    out: str | None = field(default=None, metadata={
        "help": "run directory to append the finished chat to as an episode (created if new)", "path": "out"})


class ChatEnded(Exception):
    """The person typed /quit (or closed the input)."""


class HumanSimulator:
    """The person at the terminal speaks for the user side."""

    name = "human"

    def __init__(self, read: Callable[[str], str], role: str):
        self.read, self.role = read, role

    def start(self, state: DialogueState) -> None:
        """A person needs no drawn persona."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        turns = []
        for state in states:
            text = ""
            while not text:
                try:
                    text = self.read(f"{self.role}> ").strip()
                except EOFError:  # end of piped input ends the chat like /quit
                    raise ChatEnded from None
            if text == QUIT:
                raise ChatEnded
            turns.append(Turn(role=state.user_role, text=text))
        return turns


class UnjudgedCritic:
    """Used when no critic model is given: every turn scores 0 and the dialogue never ends by itself."""

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        return [Verdict(reward=0.0, done=False, success=False, info={"judged": False}) for _ in states]


def pick_case(cases: Sequence[Case], case_id: str | None, seed: int) -> Case:
    """The case named ``case_id``, or one drawn with ``seed`` when it is empty."""
    if not cases:
        raise WorkbenchError("the environment has no cases")
    if not (case_id or "").strip():
        return random.Random(seed).choice(list(cases))
    found = next((c for c in cases if c.id == case_id.strip()), None)
    if found is None:
        raise WorkbenchError(f"no case {case_id.strip()!r} (ids look like {cases[0].id!r})")
    return found


def run_chat(config: ChatConfig, read: Callable[[str], str] = input,
             write: Callable[[str], None] = print) -> Episode:
    cls = env_class(config.env)
    case = pick_case(cls.cases(config.data), config.case, config.seed)
    models = load_models({"agent": config.agent_model, "critic": config.critic_model}, config.seed)
    critic = (make_critic(cls, "llm", "human", models["critic"], samples=config.critic_samples)
              if models["critic"] else UnjudgedCritic())
    env = cls(HumanSimulator(read, cls.user_role), critic, max_turns=config.max_turns)
    agent = make_agent(cls, models["agent"], make_policy(config.policy, cls, models["agent"]), config.temperature,
                       config.max_new_tokens)
    _, info = env.reset(case, seed=config.seed)
    state: DialogueState = info["state"]
    write(f"{cls.name}: case {case.id}. You are the {cls.user_role}; type {QUIT} to stop.")
    for turn in state.turns:
        write(f"{turn.role}: {turn.text}")
    while True:
        (turn,) = agent.act([state])
        prob = turn.info.get("strategy_prob")
        shown = f" [{turn.strategy}{'' if prob is None else f' p={prob:.2f}'}]" if turn.strategy else ""
        write(f"{turn.role}{shown}: {turn.text}")
        try:
            _, reward, terminated, truncated, info = env.step(turn)
        except ChatEnded:
            break
        if models["critic"]:
            write(f"  critic: reward {reward:+.3f} ({info['verdict'].info.get('parsed', 0)} parsed verdicts)")
        if terminated or truncated:
            write(f"outcome: {info['outcome']}")
            break
    episode = env.finish(state, provenance={"models": {"agent": config.agent_model, "critic": config.critic_model},
                                            "seed": config.seed, "user": "human"})
    if config.out:
        with Run.open(config.out, {"env": cls.name, "kind": "chat"}, resume=True) as run:
            run.append_episodes([episode])
        write(f"saved to {run.path}")
    return episode
