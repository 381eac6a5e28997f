"""A critique model as an environment's critic: its verdict and score become the turn reward.

After each user turn the model critiques the dialogue so far (:func:`~workbench.critique.prompts.critique_prompt`);
``samples`` critiques are drawn in one batched call. The verdict is the parsed verdicts' majority (:data:`VERDICTS`:
``success`` and ``failure`` end the dialogue, ``ongoing`` goes on) and the score their mean; the turn reward is
``VERDICT_REWARD[verdict] + (score - 5.5) / 9`` (score 1-10, so the score adds -0.5 to +0.5). A critique whose verdict
does not parse counts as ``unparsable`` in ``Verdict.info`` (as :class:`~workbench.critics.LLMCritic` counts its
samples); with none parsed the verdict is ``ongoing``, and without a parsed score it is 5.5 (no effect).

Used by ``--critic critique --critic_model <model>`` (any model, zero-shot) and by ``--critic_model critic:<folder>``
(a critic trained by ``workbench train critic``).
"""

from __future__ import annotations

from collections import Counter
from statistics import mean
from typing import Sequence

from langchain_core.language_models import BaseChatModel

from workbench.critique.acu import Critique, parse_critique
from workbench.critique.prompts import agent_turn_numbers, critique_prompt, transcript_options
from workbench.env import DialogueEnv, DialogueState, Verdict
from workbench.episodes import Turn

VERDICT_REWARD = {"success": 1.0, "failure": -1.0, "ongoing": 0.0}
NEUTRAL_SCORE = 5.5


def critique_reward(verdict: str, score: float) -> float:
    return VERDICT_REWARD[verdict] + (score - NEUTRAL_SCORE) / 9


def critique_many(model: BaseChatModel, env: type[DialogueEnv], dialogues: Sequence[Sequence[Turn]], *,
                  persona: str | None = None, example: int = 0, acus: int = 3, temperature: float = 0.0,
                  max_tokens: int = 120, repeat: int = 1) -> list[Critique]:
    """``repeat`` critiques of each dialogue by ``model`` in one batched call (dialogue-major), parsed; each keeps its
    raw text in ``info["text"]`` (``persona`` and ``example``: :func:`~workbench.critique.prompts.critique_prompt`)."""
    bound = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\n\n"], **transcript_options(model))
    prompts = [critique_prompt(env, d, persona, acus, example) for d in dialogues for _ in range(repeat)]
    texts = [str(m.content) for m in bound.batch(prompts)] if prompts else []
    names = [c.name for c in env.criteria]
    critiques = []
    for i, text in enumerate(texts):
        critique = parse_critique(text, names, len(agent_turn_numbers(dialogues[i // repeat], env.agent_role)))
        critique.info["text"] = text
        critiques.append(critique)
    return critiques


class CritiqueCritic:
    """Judges dialogues in flight by critiquing them (module docstring)."""

    def __init__(self, model: BaseChatModel, env: type[DialogueEnv], *, samples: int = 1, temperature: float = 0.7,
                 max_tokens: int = 16):
        self.model = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\nACU"],
                                **transcript_options(model))
        self.env, self.samples = env, samples

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        if not states:
            return []
        prompts = [critique_prompt(self.env, s.turns) for s in states for _ in range(self.samples)]
        texts = [str(m.content) for m in self.model.batch(prompts)]
        verdicts = []
        for i, state in enumerate(states):
            raw = texts[i * self.samples:(i + 1) * self.samples]
            turns = len(agent_turn_numbers(state.turns, state.agent_role))
            critiques = [parse_critique(t, [c.name for c in self.env.criteria], turns) for t in raw]
            said = [c.verdict for c in critiques if c.verdict is not None]
            scores = [c.score for c in critiques if c.score is not None]
            verdict = Counter(said).most_common(1)[0][0] if said else "ongoing"
            score = mean(scores) if scores else NEUTRAL_SCORE
            verdicts.append(Verdict(critique_reward(verdict, score), verdict != "ongoing", verdict == "success", raw,
                                    {"samples": len(raw), "parsed": len(said), "unparsable": len(raw) - len(said),
                                     "critique_verdict": verdict, "score": round(score, 3)}))
        return verdicts
