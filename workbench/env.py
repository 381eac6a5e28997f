"""Environment contract: strategies, cases, dialogue state, simulators, critics and the registry.

A :class:`DialogueEnv` follows Gymnasium's shape (``reset`` / ``step``) for one episode, and
exposes the batched core (``begin`` / ``advance``) that the lockstep rollout uses for many
episodes at once, so that every simulator turn and every critic verdict of a step is one
batched model call.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from workbench.episodes import Case, Episode, Turn, format_history
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class Strategy:
    """One planner action: a dialogue act and the instruction that realises it."""

    name: str
    instruction: str


@dataclass(frozen=True)
class Criterion:
    """A flaw type a critique's ACU names (MultiCritique's criteria type, :mod:`workbench.critique`): its name and what
    it means in the environment."""

    name: str
    description: str


@dataclass
class Verdict:
    """A critic's judgement of a dialogue after a user turn (PPDPP's AI feedback, Sec. 3.3)."""

    reward: float
    done: bool
    success: bool
    raw: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class DialogueState:
    """Everything about one dialogue in flight.

    ``hidden`` belongs to the user simulator (a scripted persona's private state); agents must
    not read it. ``memory`` belongs to the agent: the reflections on its earlier trials of this case
    (:mod:`workbench.trials`, Reflexion / Retroformer), empty in a single-trial episode; simulators and critics
    must not read it. ``rng`` is the episode's own random stream, so a rollout is deterministic under
    a seed whatever the batch composition.
    """

    case: Case
    env: str
    agent_role: str
    user_role: str
    max_turns: int
    seed: int
    turns: list[Turn] = field(default_factory=list)
    hidden: dict[str, Any] = field(default_factory=dict)
    memory: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    done: bool = False
    truncated: bool = False
    opening: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def rewards(self) -> list[float]:
        return [v.reward for v in self.verdicts]

    @property
    def agent_turns(self) -> int:
        """The agent's moves, not counting turns of the environment's fixed opening."""
        return sum(t.role == self.agent_role for t in self.turns[self.opening:])

    def history(self, last: int | None = None) -> str:
        """The dialogue as "Role: text" lines (the planner's and critics' input)."""
        turns = self.turns if last is None else self.turns[-last:]
        return format_history((t.role, t.text) for t in turns)


class Agent(Protocol):
    """Anything that speaks for the agent side of many dialogues at once."""

    def act(self, states: Sequence[DialogueState]) -> list[Turn]: ...


class UserSimulator(Protocol):
    """Speaks for the user side of many dialogues at once."""

    name: str

    def start(self, state: DialogueState) -> None:
        """Draw the persona's hidden state for a new dialogue (may do nothing)."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]: ...


class Critic(Protocol):
    """Judges many dialogues at once after each user turn."""

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]: ...


class DialogueEnv(ABC):
    """One environment: its cases, strategies, simulators, critics and metrics.

    Subclasses set the class attributes and implement the abstract methods; the episode
    mechanics (who speaks when, rewards, termination) live here once for every environment.
    """

    name: str
    description: str
    agent_role: str
    user_role: str
    strategies: tuple[Strategy, ...]
    simulator_names: tuple[str, ...]
    metric_names: tuple[str, ...]
    default_max_turns: int = 8
    world_ground_truth: bool = False
    """Whether the environment's own state judges the dialogue (a world to check), so that the ground-truth critic
    works whatever sits in the user's seat; otherwise it reads the scripted simulator's hidden state."""
    criteria: tuple[Criterion, ...] = ()
    """The flaw types a critique of the agent names (:mod:`workbench.critique`); empty: none defined."""

    def __init__(self, simulator: UserSimulator, critic: Critic, *, max_turns: int | None = None):
        self.simulator = simulator
        self.critic = critic
        self.max_turns = max_turns or self.default_max_turns
        self._state: DialogueState | None = None

    # -- what each environment defines -------------------------------------------------
    @classmethod
    @abstractmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Load cases from a data file (the environment's default file when ``source`` is None)."""

    @classmethod
    def open_case(cls, request: str) -> Case | None:
        """A case made of a person's own request, for a chat (None: the environment has no such case; the
        person picks one of its cases)."""
        return None

    @abstractmethod
    def opening(self, state: DialogueState) -> list[Turn]:
        """Turns that stand before the agent's first move (may be empty)."""

    @abstractmethod
    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """The finished dialogue's outcome: ``success`` plus the domain metrics' raw values."""

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """PPDPP's interactive-evaluation metrics (Deng et al., ICLR 2024, Sec. 4): ``SR``, the share
        of successful episodes, and ``AT``, the mean number of agent turns, an unsuccessful episode
        counting all the turns it ran; 0.0 for no episodes. Environments add their own (SL%)."""
        if not episodes:
            return {"SR": 0.0, "AT": 0.0}
        n = len(episodes)
        return {"SR": sum(bool(e.outcome.get("success")) for e in episodes) / n,
                "AT": sum(float(e.outcome.get("turns", 0)) for e in episodes) / n}

    # -- annotated strategies (the planner's supervised data) ----------------------------------
    @classmethod
    def sft_sources(cls) -> list[Path]:
        """Data files with human dialogues annotated with the agent's strategies; default: the case file."""
        return [cls.default_source()]

    @staticmethod
    def default_source() -> Path:
        """The environment's default case file (environments set ``default_source = staticmethod(...)``)."""
        raise WorkbenchError("this environment has no default case file; pass one with --data")

    @classmethod
    def planner_examples(cls, cases: Sequence[Case]) -> list[tuple[str, str]]:
        """``(history, strategy)`` pairs, one per annotated agent turn of the cases' human dialogues
        (``Case.fields["turns"]``: ``{"role", "text", "strategy"?}``), the history as "Role: text" lines."""
        examples = []
        for case in cases:
            turns = case.fields.get("turns") or []
            for i, turn in enumerate(turns):
                if turn["role"] == cls.agent_role and turn.get("strategy"):
                    examples.append((format_history((t["role"], t["text"]) for t in turns[:i]), turn["strategy"]))
        return examples

    # -- role-play and critic hooks (class-level: they read only the dialogue state) -------
    @classmethod
    @abstractmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The programmatic persona with hidden state (exact outcomes, no model)."""

    @classmethod
    def spec_simulator(cls, spec: str) -> UserSimulator | None:
        """A user simulator named by a spec the environment reads itself (household: a trained user agent,
        ``classifier:<folder>``); None for a spec it does not know (the default: every spec)."""
        return None

    @classmethod
    def llm_simulator(cls, model: BaseChatModel) -> UserSimulator:
        """A chat model in the user's seat; by default it role-plays from :meth:`user_prompt`."""
        from workbench.roleplay import LLMUserSimulator

        return LLMUserSimulator(model, cls.user_prompt)

    @classmethod
    @abstractmethod
    def user_prompt(cls, state: DialogueState) -> list[BaseMessage]:
        """Messages that make a chat model speak the user's next turn."""

    @classmethod
    @abstractmethod
    def agent_prompt(cls, state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
        """Messages that make a chat model speak the agent's next turn, following ``strategy``."""

    @classmethod
    def with_memory(cls, messages: list[BaseMessage], memory: Sequence[str]) -> list[BaseMessage]:
        """The agent's prompt with its trial memory (:attr:`DialogueState.memory`, Reflexion's reflections on earlier
        trials): by default a block appended to the first message; an environment whose :meth:`agent_prompt`
        places the memory itself returns ``messages`` unchanged."""
        if not memory or not messages:
            return messages
        first = messages[0]
        block = "\n\nReflections on your earlier attempts at this case:\n" + "\n".join(f"- {m}" for m in memory)
        return [first.model_copy(update={"content": f"{first.content}{block}"}), *messages[1:]]

    @classmethod
    @abstractmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template agent's utterance for ``strategy`` (no model needed)."""

    @classmethod
    @abstractmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The verdict read from the scripted simulator's hidden state."""

    @classmethod
    @abstractmethod
    def critic_prompt(cls, state: DialogueState) -> list[BaseMessage]:
        """Messages asking a critic model the environment's verdict question."""

    @classmethod
    @abstractmethod
    def parse_verdict(cls, text: str) -> Any | None:
        """One sampled critic answer parsed against the fixed answer set; None if unparsable."""

    @classmethod
    @abstractmethod
    def aggregate_verdicts(cls, state: DialogueState, parsed: list[Any]) -> Verdict:
        """Map the parsed samples to one scalar-reward verdict."""

    # -- a person in the user's seat -------------------------------------------------------------
    @classmethod
    def user_brief(cls, case: Case) -> str:
        """What the user's side knows when ``case`` starts, told to a person who plays it: "You are the
        <user role> ...; the agent is the <agent role>." and the facts of the role. Environments say it from
        their case fields; by default the case's short text and number fields."""
        facts = [f"{key.replace('_', ' ')}: {value}" for key, value in case.fields.items()
                 if isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(str(value)) <= 300]
        return f"You are the {cls.user_role}; the agent is the {cls.agent_role}. " + "; ".join(facts)

    @classmethod
    def rule_answer(cls, state: DialogueState) -> tuple[Any, str] | None:
        """The critic's answer (in :meth:`parse_verdict`'s form) that the dialogue's text states beyond doubt
        after a user turn, with the reason in words ("price agreed at $12,000"); None when the text does not
        settle it. The rules read only the text (no hidden state, no model), so they judge a person or an LLM
        in the user's seat. By default nothing is read."""
        return None

    @classmethod
    def last_user_line(cls, state: DialogueState) -> str | None:
        """The text of the dialogue's last turn when the user spoke it (what a rule reads), else None."""
        last = state.turns[-1] if state.turns else None
        return last.text if last is not None and last.role == cls.user_role else None

    @classmethod
    def rule_verdict(cls, state: DialogueState) -> Verdict | None:
        """The verdict of the environment's ground-truth rules: :meth:`rule_answer` scored by
        :meth:`aggregate_verdicts` as one unanimous critic sample, so rule and LLM critic share the reward
        definition; ``info`` adds ``source="rule"`` and ``rule`` (the reason). None when the rules read nothing."""
        read = cls.rule_answer(state)
        if read is None:
            return None
        answer, reason = read
        verdict = cls.aggregate_verdicts(state, [answer])
        verdict.info.update(source="rule", rule=reason)
        return verdict

    # -- hindsight simulation (RLHS) ----------------------------------------------------------
    @classmethod
    def hindsight_ratings(cls, episodes: Sequence[Episode]) -> list[dict[str, tuple[float, str]]]:
        """The user's ratings of finished dialogues with and without hindsight (Liang et al. 2025, RLHS,
        Sec. 3-4): per episode, for each feedback type ``immediate`` (right after the dialogue), ``partial``
        (having met the consequence of its own decision) and ``oracle`` (knowing the true outcome), the
        1-5 rating and the consequence that type reveals to a rater, as a sentence ("" for none). Called
        with no episodes, it says whether the environment has ratings; by default it has none."""
        raise WorkbenchError(f"environment {cls.name!r} has no satisfaction ratings to simulate")

    # -- ground-truth critique labels (MultiCritique's benchmark) ------------------------------------
    @classmethod
    def turn_flaw(cls, before: dict[str, Any], after: dict[str, Any], state: DialogueState
                  ) -> tuple[float, str] | None:
        """How much the agent's last turn (``state.turns[-2]``) hurt the outcome and why, read from the scripted
        persona's hidden state ``before`` and ``after`` the user's reaction: ``(harm > 0, criterion name)``, or None
        when the turn did no harm. By default the environment has no such labels."""
        raise WorkbenchError(f"environment {cls.name!r} has no ground-truth critique labels (turn_flaw)")

    # -- strategies -------------------------------------------------------------------
    @classmethod
    def policies(cls) -> dict[str, Callable[[], Any]]:
        """The environment's own strategy policies by spec name (a rule-based expert, ...), each a factory of an
        object with ``choose(states) -> [(strategy, probability)]``; none by default."""
        return {}

    @classmethod
    def strategy(cls, name: str) -> Strategy:
        for s in cls.strategies:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in cls.strategies)
        raise WorkbenchError(f"unknown strategy {name!r} for environment {cls.name!r} (known: {known})")

    # -- batched core -------------------------------------------------------------------
    def begin(self, case: Case, seed: int) -> DialogueState:
        state = DialogueState(
            case=case, env=self.name, agent_role=self.agent_role, user_role=self.user_role,
            max_turns=self.max_turns, seed=seed, rng=random.Random(seed),
        )
        self.simulator.start(state)
        state.turns.extend(self.opening(state))
        state.opening = len(state.turns)
        return state

    def advance(self, states: Sequence[DialogueState], turns: Sequence[Turn]) -> list[Verdict]:
        """Apply one agent turn to each live dialogue, get the users' replies and the verdicts,
        each as one batched call; mark finished dialogues ``done`` or ``truncated``."""
        for state, turn in zip(states, turns, strict=True):
            if state.done or state.truncated:
                raise WorkbenchError("advance() was called on a finished dialogue")
            state.turns.append(turn)
        replies = self.simulator.respond(states)
        for state, reply in zip(states, replies, strict=True):
            state.turns.append(reply)
        return self.judge(states)

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        """The critic's verdicts on each dialogue's last exchange (one batched call), recorded: the reward on the
        agent's turn, the verdict in the reply's ``info``; a dialogue is ``done`` when :meth:`ends` says so, else
        ``truncated`` at its turn limit."""
        verdicts = self.critic.judge(states)
        for state, verdict in zip(states, verdicts, strict=True):
            state.verdicts.append(verdict)
            state.turns[-2].reward = verdict.reward
            state.turns[-1].info["verdict"] = {"reward": verdict.reward, "done": verdict.done,
                                               "success": verdict.success, **verdict.info, "raw": verdict.raw}
            state.done = self.ends(state, verdict)
            state.truncated = not state.done and state.agent_turns >= state.max_turns
        return verdicts

    def ends(self, state: DialogueState, verdict: Verdict) -> bool:
        """Whether the dialogue ends with ``verdict`` (by default when the verdict says so)."""
        return verdict.done

    def addresses_user(self, state: DialogueState, turn: Turn) -> bool:
        """Whether the agent's ``turn`` waits for the user's answer (by default every turn does); one that does not,
        e.g. a tool call the environment answers itself, is played on without the person in a chat."""
        return True

    def finish(self, state: DialogueState, *, provenance: dict[str, Any] | None = None) -> Episode:
        """The finished dialogue as an Episode, its id ``<case>@<seed>`` (``#<variant>/trial<k>`` added for a trial of
        :mod:`workbench.trials`); its outcome always has ``turns`` (agent moves), its provenance the trial ``memory``
        the agent had (when it had one)."""
        memory = {"memory": list(state.memory)} if state.memory else {}
        provenance = provenance or {}
        trial = f"#{provenance['variant']}/trial{provenance['trial']}" if "trial" in provenance else ""
        return Episode(
            id=f"{state.case.id}@{state.seed}{trial}", env=self.name, case=state.case, turns=list(state.turns),
            outcome={"turns": state.agent_turns, **self.outcome(state)}, provenance={**provenance, **memory},
        )

    # -- Gymnasium-style single-episode API -----------------------------------------------
    def reset(self, case: Case, seed: int | None = None) -> tuple[str, dict[str, Any]]:
        self._state = self.begin(case, 0 if seed is None else seed)
        last = self._state.turns[-1].text if self._state.turns else ""
        return last, {"state": self._state}

    def step(self, turn: Turn) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise WorkbenchError("call reset() before step()")
        (verdict,) = self.advance([self._state], [turn])
        state = self._state
        info = {"state": state, "verdict": verdict}
        if state.done or state.truncated:
            info["outcome"] = self.outcome(state)
        return state.turns[-1].text, verdict.reward, state.done, state.truncated, info
