"""The household environment after TEACh (Padmakumar et al., AAAI 2022) and its user-agent simulation (Philipov
et al. 2024, arXiv 2410.23535).

The agent is the robot (TEACh's Driver), the user the Commander, who alone knows the task. Each agent turn is one
Driver move: an action of TEACh's follower set on an object (``<pickup> Mug_1``), applied to the world with its
preconditions checked (a failure reads ``<pickup> Mug_1 [failed: your hands are full]``), or an utterance with a
Driver dialogue act. The Commander then observes (``<observe>``) or speaks with TEACh's dialogue acts.

*Opening.* The Driver greets and asks for its task (RequestForInstruction); the Commander says the goal sentence
(Instruction), nothing more: the robot must ask for, or be given, each step.

*Ground truth.* The world is the environment's own state (``state.hidden["world"]``, made from the case's scene
seed), so the verdict is exact whatever sits in the user's seat (``world_ground_truth``). After every turn the
oracle plans from the current world (:mod:`.oracle`); the reward is the drop in the plan's length over the first
plan's length (a potential-based shaping, Ng et al. 1999: its sum is the share of the way done) plus 1 on success,
which ends the episode; an action that makes the task impossible (the oracle finds no plan: the only egg
cracked) ends it unsuccessfully (``outcome["impossible"]``). Success and goal-condition success (GC, TEACh's satisfied conditions over all conditions)
are read from the task definition's conditions (:mod:`.tasks`).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage

from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError

from . import cases as case_files
from .commander import AgentCommander, ScriptedCommander
from .driver import OBSERVE, realise
from .strategies import ACTION_NAMES, STRATEGIES, TOKENS

SUCCESS_BONUS = 1.0
CRITIC_SYSTEM = ("You judge a household robot (the Driver) working for its user (the Commander). Read the task and "
                 "the dialogue, with the robot's actions, and answer with one sentence.")
CRITIC_QUESTION = "Question: Has the robot completed the task? Answer \"The task is complete.\" or \"The task is not complete.\""
CRITIC_SHOTS = (
    ("The Commander's task for the robot: Water the plant.\nDriver: <move> Sink_1\nCommander: <observe>\n"
     "Driver: <pickup> Cup_1\nCommander: <observe>", "The task is not complete."),
    ("The Commander's task for the robot: Clean a Plate.\nDriver: <putdown> SinkBasin_1\nCommander: <observe>\n"
     "Driver: <toggle on> Faucet_1\nCommander: That's everything, thank you!", "The task is complete."),
)
GREETING = "Hello! What should I do today?"


class HouseholdEnv(DialogueEnv):
    """A robot does a TEACh household task that only its user knows (see the module docstring)."""

    name = case_files.ENV_NAME
    description = "A robot does a TEACh household task (coffee, toast, salad, ...) that only its user knows."
    agent_role = "Driver"
    user_role = "Commander"
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "GC", "steps", "utterances", "failed", "AT")
    default_max_turns = 60
    world_ground_truth = True

    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Generated task instances (default), a JSONL file of them, or a TEACh games file (see :mod:`.cases`)."""
        return case_files.load_cases(source)

    default_source = staticmethod(case_files.default_source)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """The TEACh games: the human Drivers' moves are the planner's supervised data."""
        return [case_files.games_file()]

    @classmethod
    def planner_examples(cls, cases: Sequence[Case]) -> list[tuple[str, str]]:
        """``(history, move)`` for every Driver turn of the games whose move is one of the strategies (an action
        type, or a Driver act of :data:`.strategies.UTTERANCES`), the history rendered as in self-play."""
        from .games import GameTurn

        examples = []
        for case in cases:
            game = case.fields.get("game")
            if game is None:
                continue
            lines: list[tuple[str, str]] = []
            for i, turn in enumerate(game.turns):
                if turn.role == "DRIVER":
                    move = TOKENS.get(turn.action) or next((d for d in turn.das if d in cls._moves()), None)
                    if move is not None:
                        examples.append(("\n".join(f"{r}: {t}" for r, t in lines), move))
                    lines.append((cls.agent_role, game_line(turn)))
                    following = game.turns[i + 1] if i + 1 < len(game.turns) else None
                    if not (isinstance(following, GameTurn) and following.role == "COMMANDER"
                            and following.action == "dialogue"):
                        lines.append((cls.user_role, OBSERVE))
                elif turn.action == "dialogue":
                    lines.append((cls.user_role, turn.utterance))
        return examples

    @classmethod
    def _moves(cls) -> frozenset[str]:
        return frozenset(s.name for s in cls.strategies)

    # -- the world ---------------------------------------------------------------------------
    def opening(self, state: DialogueState) -> list[Turn]:
        """Build the case's world (see the module docstring), then the Driver's greeting and the goal."""
        from .oracle import plan
        from .world import generate_scene

        instance = case_files.task_instance(state.case)
        world = generate_scene(instance, random.Random(state.case.fields["scene_seed"]))
        first = plan(instance, world)
        state.hidden.update(world=world, task=instance, plan=first, start_distance=max(1, len(first)),
                            distance=len(first), previous_distance=len(first), plan_grew=False)
        return [Turn(role=self.agent_role, text=GREETING, strategy="RequestForInstruction", info={"opening": True}),
                Turn(role=self.user_role, text=instance.description, strategy="Instruction",
                     info={"opening": True, "das": ["Instruction"]})]

    def advance(self, states: Sequence[DialogueState], turns: Sequence[Turn]) -> list[Verdict]:
        """Apply each Driver action to its world (and re-plan) before the Commanders respond."""
        for state, turn in zip(states, turns, strict=True):
            act(state, turn)
        return super().advance(states, turns)

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``success``, ``GC``, ``steps`` (actions), ``utterances`` (Driver's), ``failed`` (actions),
        ``commander_utterances`` and the final world."""
        from .tasks import check

        status = check(state.hidden["task"], state.hidden["world"])
        moves = [t for t in state.turns[state.opening:] if t.role == self.agent_role]
        actions = [t.info["action"] for t in moves if "action" in t.info]
        return {"success": status.success, "GC": status.satisfied / max(1, status.total),
                "steps": len(actions), "utterances": len(moves) - len(actions),
                "failed": sum(not a["ok"] for a in actions),
                "commander_utterances": sum(t.role == self.user_role and t.text != OBSERVE
                                            for t in state.turns[state.opening:]),
                "impossible": bool(state.hidden.get("impossible")), "unmet": status.unmet}

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """SR and AT (PPDPP), GC (TEACh's goal-condition success), mean steps, Driver utterances and failed actions."""
        out = super().metrics(episodes)
        for key in ("GC", "steps", "utterances", "failed"):
            out[key] = sum(float(e.outcome.get(key, 0)) for e in episodes) / len(episodes) if episodes else 0.0
        return out

    @classmethod
    def policies(cls) -> dict[str, Any]:
        """``follow-instructions``: the rule-based robot of :mod:`.heuristic`."""
        from .heuristic import FollowInstructions

        return {"follow-instructions": FollowInstructions}

    # -- user agents -------------------------------------------------------------------------
    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The rule-based Commander (:class:`.commander.ScriptedCommander`)."""
        return ScriptedCommander()

    @staticmethod
    def commander_kit() -> ModuleType:
        """The games, prompts, parser and user-agent registry that trained Commanders are built from
        (:mod:`.kit`), for ``agents.user_agents``, which must not import ``simulators``."""
        from . import kit

        return kit

    @classmethod
    def spec_simulator(cls, spec: str) -> UserSimulator | None:
        """A user agent of :mod:`.humanlike` by spec (``rule``, ``scripted-habits``... and the trained ones that
        ``agents.user_agents`` registers: ``classifier:<folder>``, ``sft:<folder>``), few-shot examples drawn from the
        training split of the TEACh games; None for a spec no user agent kind has."""
        from .games import load_games, split_games
        from .humanlike import USER_AGENTS, make_user_agent

        if spec.partition(":")[0] not in USER_AGENTS:
            return None
        return agent_commander(make_user_agent(spec, split_games(load_games())[0]), spec)

    @classmethod
    def llm_simulator(cls, model: BaseChatModel) -> UserSimulator:
        """A chat model as the Commander, prompted in the paper's format and parsed (:mod:`.prompts`, :mod:`.parse`)."""
        from .humanlike import LLMUserAgent

        return agent_commander(LLMUserAgent(model, few_shot=0), "llm")

    @classmethod
    def user_prompt(cls, state: DialogueState) -> list[BaseMessage]:
        """The Commander's prompt in the paper's format (goal, history lines, ``COMMANDER response:``)."""
        from .prompts import commander_prompt

        context = game_context(state)
        return [HumanMessage(commander_prompt(context.goal, context.history))]

    @classmethod
    def agent_prompt(cls, state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
        """The robot's prompt: the goal as said, the dialogue, the move to make and the action syntax."""
        move = f" Your move: {strategy.name}. {strategy.instruction}" if strategy else ""
        tokens = ", ".join(f"{t} <object id>" for t in TOKENS)
        return [HumanMessage(f"You are a household robot (the Driver). Act with one of: {tokens}; or say one short "
                             f"sentence to the Commander.{move}\n\n{state.history(last=20)}\nDriver:")]

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template Driver's move (:mod:`.driver`)."""
        return realise(state, cls.strategy(strategy.name).name)

    # -- verdicts ----------------------------------------------------------------------------
    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The world's verdict (see the module docstring)."""
        h = state.hidden
        if h.get("impossible"):
            return Verdict(reward=0.0, done=True, success=False, info={"impossible": True})
        progress = (h["previous_distance"] - h["distance"]) / h["start_distance"]
        success = not h["plan"]
        reward = progress + (SUCCESS_BONUS if success else 0.0)
        return Verdict(reward=reward, done=success, success=success,
                       info={"distance": h["distance"], "progress": round(progress, 4)})

    @classmethod
    def critic_prompt(cls, state: DialogueState) -> list[BaseMessage]:
        """The optional LLM critic (the world is the default one): the goal and the dialogue with the Driver's
        actions, and whether the task is complete, with one complete and one unfinished example."""
        from workbench.roleplay import critic_messages

        return critic_messages(CRITIC_SYSTEM, CRITIC_SHOTS, CRITIC_QUESTION, state,
                               context=f"The Commander's task for the robot: {state.case.fields.get('goal', '')}")

    @classmethod
    def parse_verdict(cls, text: str) -> bool | None:
        """"... complete" -> True, "... not complete" / "unfinished" -> False, else None."""
        low = (text or "").lower()
        if re.search(r"\b(not (yet )?(complete|completed|done|finished)|unfinished|incomplete)\b", low):
            return False
        if re.search(r"\b(complete|completed|done|finished)\b", low):
            return True
        return None

    @classmethod
    def aggregate_verdicts(cls, state: DialogueState, parsed: list[bool]) -> Verdict:
        """Majority of the parsed samples: complete -> reward 1, done, success; otherwise reward 0 (no parsed
        sample: not complete)."""
        success = bool(parsed) and sum(parsed) > len(parsed) / 2
        return Verdict(reward=1.0 if success else 0.0, done=success, success=success)

    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The Commander's brief for a person: the goal (the world viewer shows where everything is)."""
        return (f"You are the {cls.user_role}; the agent is the {cls.agent_role}, a robot. Your task for it: "
                f"{case.fields.get('goal', '')} Only you know the task; tell the robot what to do step by step.")


def game_line(turn) -> str:
    """A game turn as a self-play history line's text: an action token (and object), or the utterance."""
    if turn.action == "dialogue":
        return turn.utterance
    return f"{turn.action} {turn.target}".strip()


def act(state: DialogueState, turn: Turn) -> None:
    """Apply a Driver turn to the world when it is an action (its strategy is an action type, or its text parses
    as one); record ``info["action"]`` and the failure in the text; re-plan and keep the distances."""
    from .oracle import OracleError, plan
    from .world import Action, parse_action

    h = state.hidden
    action = parse_action(turn.text)
    if action is None and turn.strategy in ACTION_NAMES:
        action = Action(turn.strategy, None)
    h["previous_distance"] = h["distance"]
    h["plan_grew"] = False
    if action is None:
        return
    result = h["world"].apply(action)
    turn.text = action.text() if result.ok else f"{action.text()} [failed: {result.message}]"
    turn.info["action"] = {"kind": action.kind, "target": action.target, "ok": result.ok, "message": result.message}
    if result.ok:
        try:
            h["plan"] = plan(h["task"], h["world"])
        except OracleError:  # the robot made the task impossible (cracked the only egg, ...): the episode fails
            h["impossible"] = True
            return
        h["plan_grew"] = len(h["plan"]) > h["distance"]
        h["distance"] = len(h["plan"])


def game_context(state: DialogueState):
    """The dialogue so far as a user agent's context (:class:`.games.Context`): Driver actions with their
    targets, utterances with their acts; observing Commander turns are implied."""
    from .games import Context, GameTurn

    history = []
    for turn in state.turns:
        if turn.role == state.agent_role:
            action = turn.info.get("action")
            if action is not None:
                token = next(t for t, kind in TOKENS.items() if kind == action["kind"])
                history.append(GameTurn("DRIVER", token, target=action["target"] or ""))
            else:
                history.append(GameTurn("DRIVER", "dialogue", turn.text, (turn.strategy,) if turn.strategy else ()))
        elif turn.text != OBSERVE:
            history.append(GameTurn("COMMANDER", "dialogue", turn.text, tuple(turn.info.get("das") or ())))
    return Context(state.case.id, state.case.fields.get("goal", ""), tuple(history))


def agent_commander(agent: Any, name: str) -> AgentCommander:
    """Any user agent (``decide(contexts)``, :mod:`.games`) in the Commander's seat."""
    return AgentCommander(agent, name, game_context)
