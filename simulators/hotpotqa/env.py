"""HotpotQA as a ReAct environment (Yao et al., ICLR 2023), the multi-hop task of Reflexion and Retroformer.

The User asks one question (the opening turn). Each Agent turn is a line with a thought and one action
(:func:`parse_action`): ``Search[entity]`` and ``Lookup[keyword]`` are answered by an "Observation" turn from the
question's own ten paragraphs (the distractor setting, a local :class:`.docstore.DocStore` instead of the
Wikipedia API), ``Finish[answer]`` ends the episode. The environment judges the answer itself
(``world_ground_truth``): reward 1 and success when it matches the gold answer exactly after HotpotQA's answer
normalisation (EM), 0 otherwise; token F1 is reported as a metric. A turn with no action is a message to the User,
who reminds the agent to act (the scripted asker, or an LLM role-playing it); such turns are counted as invalid
actions. An episode that never finishes is truncated at the turn limit (ReAct's step budget) with no answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from langchain_core.messages import BaseMessage

from workbench.critics import parse_correct
from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError

from . import cases as case_files
from . import prompts
from .answers import exact_match, f1, normalize_answer
from .docstore import DocStore

OBSERVATION_ROLE = "Observation"
ACTION = re.compile(r"\b(Search|Lookup|Finish)\s*\[([^\[\]]*)\]", re.I)
REMINDER = "Please search the paragraphs and answer with Finish[answer]."
STRATEGIES: tuple[Strategy, ...] = (
    Strategy("search", "Search for the entity whose paragraph the question needs next: Action: Search[entity]."),
    Strategy("lookup", "Look up a keyword in the paragraph you last found: Action: Lookup[keyword]."),
    Strategy("finish", "Give the answer: Action: Finish[answer]."),
)


def parse_action(text: str) -> tuple[str, str] | None:
    """``(action, argument)`` of the last action in a turn (action lower case: search, lookup, finish), or None."""
    found = ACTION.findall(text)
    if not found:
        return None
    name, argument = found[-1]
    return name.lower(), argument.strip()


class ScriptedAsker:
    """The User who asked the question: it knows nothing more, and answers a message with :data:`REMINDER`."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        """The asker draws no persona: it only knows the question."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [Turn(role=s.user_role, text=REMINDER) for s in states]


class HotpotQAEnv(DialogueEnv):
    """HotpotQA with ReAct's actions over the question's own paragraphs (module docstring)."""

    name = case_files.ENV_NAME
    description = "Answer a multi-hop question by searching Wikipedia paragraphs (HotpotQA, ReAct actions)."
    agent_role = "Agent"
    user_role = "User"
    strategies = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT", "EM", "F1", "finished", "invalid actions")
    default_max_turns = 7
    world_ground_truth = True

    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        return case_files.load_cases(source)

    default_source = staticmethod(case_files.default_source)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """None: there are no dialogues with annotated strategies."""
        return []

    @classmethod
    def reflection_example(cls) -> tuple[str, str]:
        """A worked (attempt, reflection) for the reflector's prompt (Reflexion's HotpotQA reflections)."""
        return prompts.REFLECTION_EXAMPLE

    # -- the episode -------------------------------------------------------------------------
    def opening(self, state: DialogueState) -> list[Turn]:
        """The User's question; the question's document store is the environment's world state (in ``hidden``, out
        of the agent's sight, as the tool-use environment keeps its calls)."""
        f = state.case.fields
        state.hidden["docstore"] = DocStore(f["titles"], f["sentences"])
        return [Turn(role=self.user_role, text=f["question"], info={"opening": True})]

    def advance(self, states: Sequence[DialogueState], turns: Sequence[Turn]) -> list[Verdict]:
        """Run each turn's action against its question's paragraphs ("Observation" turns); turns without an action
        go to the User (one batched call); then the environment's verdicts."""
        for state, turn in zip(states, turns, strict=True):
            if state.done or state.truncated:
                raise WorkbenchError("advance() was called on a finished dialogue")
            state.turns.append(turn)
            self.act(state, turn)
        to_user = [s for s in states if s.turns[-1].info["action"] is None]
        replies = dict(zip(map(id, to_user), self.simulator.respond(to_user) if to_user else []))
        for state in states:
            state.turns.append(replies.get(id(state)) or Turn(role=OBSERVATION_ROLE,
                                                              text=state.turns[-1].info["observation"]))
        return self.judge(states)

    def act(self, state: DialogueState, turn: Turn) -> None:
        """Parse and run the turn's action into ``turn.info``: ``action`` (None: no action), ``argument``,
        ``observation``; a Search that found a paragraph adds its title (``page``), a Finish ``answer``, ``em`` and
        ``f1``."""
        parsed = parse_action(turn.text)
        name, argument = parsed if parsed else (None, "")
        turn.info.update(action=name, argument=argument)
        store: DocStore = state.hidden["docstore"]
        if name == "search":
            turn.info["observation"] = store.search(argument)
            if not turn.info["observation"].startswith("Could not find"):
                turn.info["page"] = state.case.fields["titles"][store.page]
        elif name == "lookup":
            turn.info["observation"] = store.lookup(argument)
        elif name == "finish":
            gold = state.case.fields["answer"]
            turn.info.update(answer=argument, em=exact_match(argument, gold), f1=f1(argument, gold),
                             observation="Episode finished, reward = " + str(int(exact_match(argument, gold))))

    def addresses_user(self, state: DialogueState, turn: Turn) -> bool:
        """Only a turn without an action waits for the User; the environment answers the actions."""
        return parse_action(turn.text) is None

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``success`` (EM), ``em``, ``f1``, ``answer`` (None: never finished), ``finished``, ``invalid_actions``
        (turns without an action), ``searches``, ``lookups``."""
        moves = [t for t in state.turns[state.opening:] if t.role == self.agent_role]
        finish = next((t for t in moves if t.info.get("action") == "finish"), None)
        actions = [t.info.get("action") for t in moves]
        return {"success": bool(finish and finish.info["em"]), "em": bool(finish and finish.info["em"]),
                "f1": finish.info["f1"] if finish else 0.0, "answer": finish.info["answer"] if finish else None,
                "finished": finish is not None, "invalid_actions": actions.count(None),
                "searches": actions.count("search"), "lookups": actions.count("lookup")}

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """SR and AT (PPDPP); ``EM`` and ``F1`` (HotpotQA's, a missing answer scoring 0), ``finished`` (share of
        episodes that gave an answer) and ``invalid actions`` (agent turns without an action over agent turns)."""
        out = super().metrics(episodes)
        if not episodes:
            return out
        n = len(episodes)
        turns = sum(e.outcome.get("turns", 0) for e in episodes)
        return {**out, "EM": sum(bool(e.outcome.get("em")) for e in episodes) / n,
                "F1": sum(float(e.outcome.get("f1", 0.0)) for e in episodes) / n,
                "finished": sum(bool(e.outcome.get("finished")) for e in episodes) / n,
                "invalid actions": sum(e.outcome.get("invalid_actions", 0) for e in episodes) / turns if turns else 0.0}

    # -- the User ------------------------------------------------------------------------------
    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        return ScriptedAsker()

    user_prompt = staticmethod(prompts.user_prompt)

    @classmethod
    def user_brief(cls, case: Case) -> str:
        return (f"You are the {cls.user_role}; the agent is the {cls.agent_role}, who searches Wikipedia paragraphs "
                f"to answer your question: {case.fields['question']}")

    # -- the Agent -----------------------------------------------------------------------------
    @classmethod
    def agent_prompt(cls, state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
        return prompts.agent_prompt(state, strategy)

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template agent, a keyword heuristic without a model: ``search`` the paragraph title sharing the most
        words with the question that it has not searched yet; ``lookup`` the longest question word not looked up
        yet; ``finish`` with yes or no for a yes/no question, else the title of the paragraph it last found
        (HotpotQA answers are often such an entity)."""
        question = state.case.fields["question"]
        words = set(normalize_answer(question).split())
        moves = [t.info for t in state.turns if t.role == cls.agent_role]
        move = cls.strategy(strategy.name).name
        if move == "search":
            searched = {normalize_answer(m.get("argument", "")) for m in moves if m.get("action") == "search"}
            titles = [t for t in state.case.fields["titles"] if normalize_answer(t) not in searched] or \
                state.case.fields["titles"]
            best = max(titles, key=lambda t: len(words & set(normalize_answer(t).split())))
            return f"I should find {best}. Action: Search[{best}]"
        if move == "lookup":
            looked = {m.get("argument", "").lower() for m in moves if m.get("action") == "lookup"}
            keyword = max((w for w in words if w not in looked), key=len, default="the")
            return f"I should look for {keyword}. Action: Lookup[{keyword}]"
        if question.split()[:1] and question.split()[0].lower() in {"are", "is", "was", "were", "do", "does", "did",
                                                                     "can", "could"}:
            return "This is a yes or no question. Action: Finish[yes]"
        answer = next((m["page"] for m in reversed(moves) if "page" in m), "")
        return f"The answer should be {answer or 'unknown'}. Action: Finish[{answer}]"

    # -- verdicts --------------------------------------------------------------------------------
    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """Reward 1 for an exact-match answer; the episode ends at a Finish."""
        info = state.turns[-2].info
        finished = info.get("action") == "finish"
        success = finished and bool(info["em"])
        return Verdict(reward=1.0 if success else 0.0, done=finished, success=success,
                       info={"f1": info["f1"]} if finished else {})

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(parse_correct)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)
