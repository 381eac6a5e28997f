"""Sentence-level rewards of Refine-and-Imitate (Shi et al., 2021, "Refine and Imitate: Reducing Repetition
and Inconsistency in Persuasion Dialogues via Reinforcement Learning and Human Demonstration", Sec. 3.2),
as a critic wrapper that works for any environment.

Each sentence of the agent's latest turn is scored against the agent's earlier sentences and the task:

- **repetition** (penalty 1): its embedding is at least ``repeat`` cosine-similar to an earlier sentence;
- **inconsistency** (penalty 1): an earlier sentence on the same point (similarity at least ``same_point``,
  but not a repetition) says the opposite (one of the two is negated) or names other dollar amounts;
- **relevance** (reward): its cosine similarity to the task description, floored at 0;
- **length** (penalty 1): the turn has fewer than ``min_words`` or more than ``max_words`` words.

The turn's sentence reward is ``relevance_weight * mean relevance - repetition_weight * repetitions -
inconsistency_weight * inconsistencies - length_weight * length``; :class:`SentenceRewardCritic` adds
``weight`` times it to another critic's reward and keeps the parts in ``Verdict.info["sentence"]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.env import Critic, DialogueState, Verdict

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NEGATION = re.compile(r"\b(not|no|never|n't|won't|cannot|can't|don't|doesn't|isn't)\b", re.I)
_AMOUNT = re.compile(r"\$\s*\d+(?:\.\d+)?")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


@dataclass
class SentenceScorer:
    """Scores an agent turn's sentences (module docstring); ``encoder.encode`` gives unit vectors."""

    encoder: Any
    task: str
    repeat: float = 0.9
    same_point: float = 0.7
    min_words: int = 3
    max_words: int = 60
    relevance_weight: float = 1.0
    repetition_weight: float = 1.0
    inconsistency_weight: float = 1.0
    length_weight: float = 0.5

    def score(self, turn: str, earlier: Sequence[str]) -> dict[str, float]:
        """The parts and the total sentence reward of one turn given the agent's earlier turns."""
        new, old = sentences(turn), [s for t in earlier for s in sentences(t)]
        if not new:
            return {"relevance": 0.0, "repetition": 0, "inconsistency": 0, "length": 1, "reward": -self.length_weight}
        vectors = self.encoder.encode(new + old + [self.task])
        mine, theirs, task = vectors[:len(new)], vectors[len(new):-1], vectors[-1]
        relevance = (mine @ task).clamp(min=0).mean().item()
        repetition = inconsistency = 0
        if old:
            similar = mine @ theirs.T
            for i, sentence in enumerate(new):
                best = similar[i].max().item()
                if best >= self.repeat:
                    repetition += 1
                    continue
                for j in (similar[i] >= self.same_point).nonzero().flatten().tolist():
                    if contradicts(sentence, old[j]):
                        inconsistency += 1
                        break
        words = len(turn.split())
        length = int(words < self.min_words or words > self.max_words)
        reward = (self.relevance_weight * relevance - self.repetition_weight * repetition
                  - self.inconsistency_weight * inconsistency - self.length_weight * length)
        return {"relevance": round(relevance, 4), "repetition": repetition, "inconsistency": inconsistency,
                "length": length, "reward": round(reward, 4)}


def contradicts(a: str, b: str) -> bool:
    """Two sentences on the same point disagree: one is negated and the other not, or their amounts differ."""
    amounts_a, amounts_b = set(_AMOUNT.findall(a)), set(_AMOUNT.findall(b))
    if amounts_a and amounts_b and not amounts_a & amounts_b:
        return True
    return bool(_NEGATION.search(a)) != bool(_NEGATION.search(b))


class SentenceRewardCritic:
    """Another critic's verdicts plus ``weight`` times the agent's latest turn's sentence reward."""

    def __init__(self, critic: Critic, scorer: SentenceScorer, agent_role: str, weight: float = 0.1):
        self.critic, self.scorer, self.agent_role, self.weight = critic, scorer, agent_role, weight

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        verdicts = self.critic.judge(states)
        for state, verdict in zip(states, verdicts):
            agent = [t.text for t in state.turns[state.opening:] if t.role == self.agent_role]
            parts = self.scorer.score(agent[-1], agent[:-1]) if agent else {"reward": 0.0}
            verdict.reward += self.weight * parts["reward"]
            verdict.info["sentence"] = parts
        return verdicts
