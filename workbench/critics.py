"""Critics: reward from a simulator's ground truth, or from sampled LLM verdicts.

The LLM critic follows PPDPP (Deng et al., ICLR 2024, Sec. 3.3): a critic model is asked a
fixed question about the dialogue, ``samples`` verdicts are drawn at temperature 1.1 (10 in the
paper), each verdict is parsed against a fixed answer set, and the parsed verdicts are mapped to
a scalar reward by the environment (the mean of graded verdicts; the most common price for a
deal). Samples that match no answer are counted and ignored; ``Verdict.info`` keeps the counts:
``samples`` (drawn), ``parsed`` and ``unparsable`` (``samples - parsed``); an aggregate that drops
parsed votes records ``dropped_votes`` there too.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from workbench.env import Critic, DialogueEnv, DialogueState, Verdict

log = logging.getLogger(__name__)

Parsed = Any
PromptFn = Callable[[DialogueState], list[BaseMessage]]
ParseFn = Callable[[str], Parsed | None]
AggregateFn = Callable[[DialogueState, list[Parsed]], Verdict]


def parse_correct(text: str) -> bool | None:
    """A critic's answer to "is the answer correct?": "... not correct" / "incorrect" / "wrong" -> False,
    "... correct" / "right" -> True, anything else None (unparsable)."""
    low = (text or "").lower()
    if re.search(r"\b(not correct|incorrect|wrong|not right)\b", low):
        return False
    if re.search(r"\b(correct|right)\b", low):
        return True
    return None


def verdict_calls(critic: Critic) -> int:
    """Model calls that judging one dialogue makes: an LLM critic's ``samples``, else 1 (a critic that wraps
    another keeps it as ``critic``, e.g. ``SentenceRewardCritic``)."""
    while not hasattr(critic, "samples") and hasattr(critic, "critic"):
        critic = critic.critic
    return getattr(critic, "samples", 1)


class GroundTruthCritic:
    """Reads the outcome from the simulator's hidden state (exact; needs a scripted simulator)."""

    def __init__(self, verdict: Callable[[DialogueState], Verdict]):
        self.verdict = verdict

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        return [self.verdict(s) for s in states]


class RuleCritic:
    """The critic without a model or hidden state: the environment's ground-truth rules read the dialogue's text
    (:meth:`DialogueEnv.rule_verdict`: a price agreed, a donation stated, ...), so it judges a person or an LLM in
    the user's seat. A turn they cannot read gets the environment's verdict for no parsed critic sample
    (``aggregate_verdicts(state, [])``: -0.1 in the negotiation, the decision "nothing" at the last turn of
    persuasion and marketplace)."""

    def __init__(self, env: type[DialogueEnv]):
        self.env = env

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        verdicts = []
        for state in states:
            verdict = self.env.rule_verdict(state)
            if verdict is None:
                verdict = self.env.aggregate_verdicts(state, [])
                verdict.info.update(source="rule", rule=None)
            verdicts.append(verdict)
        return verdicts


class LLMCritic:
    """Samples ``samples`` verdicts per dialogue from a chat model, all dialogues in ONE batch call."""

    def __init__(self, model: BaseChatModel, prompt: PromptFn, parse: ParseFn, aggregate: AggregateFn, *,
                 samples: int = 10, temperature: float = 1.1, max_tokens: int = 24):
        self.model = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\n"])
        self.prompt, self.parse, self.aggregate, self.samples = prompt, parse, aggregate, samples

    def judge(self, states: Sequence[DialogueState]) -> list[Verdict]:
        if not states:
            return []
        prompts = [self.prompt(s) for s in states for _ in range(self.samples)]
        texts = [str(m.content) for m in self.model.batch(prompts)]
        verdicts = []
        for i, state in enumerate(states):
            raw = texts[i * self.samples:(i + 1) * self.samples]
            parsed = [p for p in map(self.parse, raw) if p is not None]
            unparsable = len(raw) - len(parsed)
            if unparsable:
                log.info("critic: %d of %d samples unparsable for %s", unparsable, len(raw), state.case.id)
            verdict = self.aggregate(state, parsed)
            verdict.raw = raw
            verdict.info.update(samples=len(raw), parsed=len(parsed), unparsable=unparsable)
            verdicts.append(verdict)
        return verdicts
