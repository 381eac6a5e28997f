"""The emotional-support environment (ESConv as processed by PPDPP).

The agent is the Therapist, the user the Patient. PPDPP (Deng et al., ICLR 2024) opens every
dialogue with the patient stating their situation, lets the therapist's dialogue agent follow one
of ESConv's 8 support strategies per turn, and after every patient turn asks a critic whether the
patient's issue has been solved, scoring the answers worse / same / better / solved as
-1.0 / -0.5 / 0.5 / 1.0; the dialogue ends successfully when the (mean) score exceeds 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Turn
from workbench.paths import data_dir

from . import flaws, prompts, rules
from .cases import AGENT_ROLE, ENV_NAME, USER_ROLE, default_source, load_cases
from .patient import SOLVED, ScriptedPatient
from .strategies import STRATEGIES
from .templates import therapist_utterance


class EmotionalSupportEnv(DialogueEnv):
    """Therapist-side emotional support over ESConv cases (PPDPP's ESConv setting)."""

    name = ENV_NAME
    description = "Support a distressed help-seeker as the Therapist (PPDPP's ESConv emotional support)."
    agent_role = AGENT_ROLE
    user_role = USER_ROLE
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT")
    default_max_turns = 8
    criteria = flaws.CRITERIA
    turn_flaw = staticmethod(flaws.turn_flaw)

    # -- cases and episode shape --------------------------------------------------------------
    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Cases from a PPDPP ``.jsonl`` file (default ``data_dir()/ppdpp/esc-valid.jsonl``) or a raw
        ESConv ``.json`` list (see :mod:`.cases`)."""
        return load_cases(source)

    default_source = staticmethod(default_source)

    @classmethod
    def sft_sources(cls) -> list[Path]:
        """The raw ESConv conversations and PPDPP's processed split, both strategy-annotated."""
        return [data_dir() / "esconv" / "FailedESConv.json", default_source()]

    def opening(self, state: DialogueState) -> list[Turn]:
        """PPDPP's opening: the patient states their situation (one Patient turn)."""
        text = " ".join(str(state.case.fields.get("situation", "")).split()) or "I need someone to talk to."
        return [Turn(role=self.user_role, text=text, info={"opening": True})]

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``success`` (the issue was judged solved), ``reward`` (the last verdict's reward, None
        before any) and ``turns`` (the therapist's moves)."""
        last = state.verdicts[-1] if state.verdicts else None
        return {"success": bool(last and last.success), "reward": last.reward if last else None,
                "turns": state.agent_turns}

    # -- a person in the patient's seat --------------------------------------------------------
    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The help-seeker's emotion, problem and situation (what the LLM patient is told)."""
        f = case.fields
        emotion = str(f.get("emotion_type", "")).strip().lower()
        problem = str(f.get("problem_type", "")).strip().lower()
        situation = " ".join(str(f.get("situation", "")).split())
        brief = (f"You are the {cls.user_role}, looking for help; the agent is the {cls.agent_role}. You feel "
                 f"{emotion or 'distressed'} about {problem or 'a problem'}.")
        return brief + (f" Your situation: {situation}" if situation else "")

    @classmethod
    def rule_answer(cls, state: DialogueState) -> tuple[float, str] | None:
        """A clear statement of the patient's ("my problem is solved", "I feel better"; :mod:`.rules`);
        None for most lines, which state nothing so clear."""
        line = cls.last_user_line(state)
        return rules.rule_answer(line) if line is not None else None

    # -- simulators and critics ---------------------------------------------------------------
    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The scripted patient (hidden distress; dynamics in :mod:`.patient`)."""
        return ScriptedPatient()

    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The exact verdict from the scripted patient's state after its last reply: the 4-level
        score of this turn (worse -1.0 / same -0.5 / better 0.5 / solved 1.0); done and success
        only when solved."""
        h = state.hidden
        level = float(h.get("level", prompts.NONE_PARSED_REWARD))
        solved = level == SOLVED
        return Verdict(reward=level, done=solved, success=solved,
                       info={"level": level, "distress": h.get("distress"), "stance": h.get("stance")})

    user_prompt = staticmethod(prompts.user_prompt)
    agent_prompt = staticmethod(prompts.agent_prompt)

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template therapist's utterance (see :mod:`.templates`)."""
        return therapist_utterance(state, cls.strategy(strategy.name).name)

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(prompts.parse_verdict)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)
