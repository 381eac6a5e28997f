"""The tutoring environment (CIMA as used by PPDPP, Deng et al., ICLR 2024).

The agent is the Teacher, the user the Student, who must translate an English phrase into
Italian; the teacher helps with one of 5 tutoring acts per turn without giving the whole
translation away. PPDPP's reward is the critic's 4-level verdict on the student's translation
(-1, -0.5, 0.5, 1); a dialogue succeeds when the student translates the whole phrase correctly.

*Opening.* The teacher's first line of the human dialogue ("Please translate "..." into
Italian.", templated when the data has none) and the student's first reply from the data
(templated as 'How do I say "..." in Italian?' when the data has none). The opening is fixed
text: the scripted student's state starts as "no attempt yet" whatever the human student said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Turn, format_history
from workbench.paths import data_dir

from . import flaws, prompts, rules
from .cases import ENV_NAME, default_source, load_cases
from .strategies import STRATEGIES
from .student import ScriptedStudent
from .templates import teacher_utterance


class TutoringEnv(DialogueEnv):
    """Teach a student to translate an English phrase into Italian (PPDPP's CIMA setting)."""

    name = ENV_NAME
    description = "Tutor a student translating an English phrase into Italian (PPDPP's CIMA)."
    agent_role = "Teacher"
    user_role = "Student"
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT")
    default_max_turns = 8
    criteria = flaws.CRITERIA
    turn_flaw = staticmethod(flaws.turn_flaw)

    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Cases from a CIMA JSONL file; default ``data_dir()/ppdpp/cima-valid.jsonl`` (see :mod:`.cases`)."""
        return load_cases(source)

    default_source = staticmethod(default_source)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """PPDPP's CIMA training file (the cases default to its validation file)."""
        return [data_dir() / "ppdpp" / "cima-train.jsonl"]

    @classmethod
    def planner_examples(cls, cases: Sequence[Case]) -> list[tuple[str, str]]:
        """One example per CIMA row: the dialogue so far and the label of the teacher's next move."""
        return [(format_history((t["role"], t["text"]) for t in c.fields["turns"]), c.fields["strategy"])
                for c in cases]

    def opening(self, state: DialogueState) -> list[Turn]:
        """The human dialogue's first teacher and student lines (see the module docstring)."""
        f = state.case.fields
        turns = f.get("turns") or []
        first = turns[0]["text"] if turns and turns[0]["role"] == self.agent_role else None
        reply = next((t["text"] for t in turns[:2] if t["role"] == self.user_role), None)
        first = first or f"Please translate \"{f['sentence']}\" into Italian."
        reply = reply or f"How do I say \"{f['sentence']}\" in Italian?"
        return [Turn(role=self.agent_role, text=first, info={"opening": True}),
                Turn(role=self.user_role, text=reply, info={"opening": True})]

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``success`` (the whole phrase translated correctly) and ``reward`` (the last verdict's, 0.0 before any)."""
        last = state.verdicts[-1] if state.verdicts else None
        return {"success": bool(last and last.success), "reward": last.reward if last else 0.0}

    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The phrase to translate and what the student knows of it: the scripted student's prior knowledge
        of each unit (known, unknown, or a wrong word it believes)."""
        f, h = case.fields, case.hidden
        known, unknown, believed = [], [], []
        for unit, state, wrong in zip(f["units"], h.get("knowledge", []), h.get("wrong", [])):
            en = f"\"{unit['en']}\"" if unit["en"] else "one word"
            if state == "known":
                known.append(f"{en} is \"{unit['it']}\"")
            elif state == "wrong":
                believed.append(f"{en} is \"{wrong}\"")
            else:
                unknown.append(en)
        facts = ([f"You know that {', '.join(known)}."] if known else []) + \
            ([f"You believe that {', '.join(believed)}."] if believed else []) + \
            ([f"You don't know how to say {', '.join(unknown)}."] if unknown else [])
        return (f"You are the {cls.user_role}, a beginner in Italian; the agent is the {cls.agent_role}. You are "
                f"translating \"{f['sentence']}\" into Italian. " + " ".join(facts)
                + " Saying the whole translation, not as a question, ends the chat.")

    @classmethod
    def rule_answer(cls, state: DialogueState) -> tuple[float, str] | None:
        """The student's latest line commits to the whole target phrase (:mod:`.rules`): the whole sentence
        translated correctly; None otherwise (a part or a wrong word is not read)."""
        line = cls.last_user_line(state)
        return rules.rule_answer(line, str(state.case.fields["target"])) if line is not None else None

    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The scripted student (hidden per-unit knowledge; dynamics in :mod:`.student`)."""
        return ScriptedStudent()

    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The 4-level verdict on the student's latest turn (see :mod:`.student`): no attempt -0.5,
        a wrong word -1.0, the whole phrase right and not hedged 1.0 (done, success), else 0.5."""
        info = state.turns[-1].info if state.turns and state.turns[-1].role == state.user_role else {}
        if not info.get("attempt"):
            reward, level = prompts.NO_TRY, "no-try"
        elif "wrong" in info["units"]:
            reward, level = prompts.INCORRECT, "incorrect"
        elif all(s == "correct" for s in info["units"]) and not info["hedged"]:
            reward, level = prompts.WHOLE, "whole"
        else:
            reward, level = prompts.PART, "part"
        success = reward > prompts.SUCCESS_ABOVE
        return Verdict(reward=reward, done=success, success=success, info={"level": level})

    user_prompt = staticmethod(prompts.user_prompt)
    agent_prompt = staticmethod(prompts.agent_prompt)

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template teacher's utterance (see :mod:`.templates`)."""
        return teacher_utterance(state, cls.strategy(strategy.name).name)

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(prompts.parse_verdict)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)
