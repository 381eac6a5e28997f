"""The reflection-following strategy actor: a frozen policy over the environment's strategies that acts on a
reflection only through the strategy names it mentions.

Its prior is any strategy policy (random, a PPDPP planner, ...). :func:`directives` reads the reflections in the
actor's memory (:attr:`workbench.env.DialogueState.memory`) sentence by sentence. A strategy name takes the cue
right after it ("first" or "at the start": *use first*; "less": *avoid*; "more": *prefer*), else the cue of its
clause before it (a negative cue there, such as avoid, don't, never, stop, not, instead of: *avoid*; else the
nearest of an order cue such as first, start with, open with: *use first*, and a preference cue such as prefer,
use, try: *prefer*); names listed together ("avoid greeting and small talk") share the first one's cue; a bare
mention *prefers* a strategy nothing else was said about. A later reflection's directive for a strategy replaces
an earlier one's, and one strategy at most is to be used first (the first in the strategy order).
At the first agent turn the actor plays the strategy to use first; otherwise with probability ``follow`` it plays
one of the preferred strategies (drawn uniformly), else the prior's choice, or, when the prior picked one to be
avoided, one drawn uniformly from those not to be avoided. So the actor never learns: only what the reflection says
changes what it does (Retroformer's frozen actor, Yao et al. 2024, Sec. 3), and the retrospective model is what
must learn to name the right strategies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from agents.policies import Policy, make_policy
from workbench.env import Agent, DialogueState, Strategy
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from agents.simulation import Simulation

AVOID = re.compile(r"\b(avoid|avoiding|don'?t|do not|never|stop|not|no more|less|instead of|without|skip|drop)\b")
FIRST = re.compile(r"\b(first|start|starting|open|opening|begin|beginning|lead)\b")
PREFER = re.compile(r"\b(prefer|preferring|use|using|try|more|focus|favou?r|keep|repeat)\b")


@dataclass
class Directives:
    """What reflections say about the strategies, by name."""

    first: str | None = None
    prefer: list[str] = field(default_factory=list)
    avoid: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.first is None and not self.prefer and not self.avoid


def _pattern(name: str) -> re.Pattern[str]:
    words = re.split(r"[\s\-_]+", name.lower())
    return re.compile(r"(?<![\w-])" + r"[\s\-_]+".join(map(re.escape, words)) + r"(?![\w-])")


def directives(reflections: Sequence[str], names: Sequence[str]) -> Directives:
    """The directives of ``reflections`` over the strategy ``names`` (module docstring)."""
    patterns = sorted(((n, _pattern(n)) for n in names), key=lambda p: -len(p[0]))  # longest names first
    state: dict[str, str] = {}
    for reflection in reflections:
        said: dict[str, str] = {}  # this reflection's explicit directives
        for sentence in re.split(r"[.;!?\n]+", reflection.lower()):
            taken: list[tuple[int, int]] = []
            found: list[tuple[int, int, str]] = []
            for name, pattern in patterns:
                for m in pattern.finditer(sentence):
                    if not any(a < m.end() and m.start() < b for a, b in taken):
                        taken.append((m.start(), m.end()))
                        found.append((m.start(), m.end(), name))
            found.sort()
            previous: str | None = None
            for k, (start, end, name) in enumerate(found):
                before = sentence[found[k - 1][1] if k else 0: start]
                after = sentence[end: found[k + 1][0] if k + 1 < len(found) else len(sentence)]
                kind = _cue_after(after) or _last_cue(before)
                if kind is None and previous is not None and LISTED.fullmatch(before):
                    kind = previous  # "avoid greeting and small talk": the list shares its cue
                if kind is not None:
                    said[name] = kind
                elif name not in said and name not in state:
                    said[name] = "prefer"  # a bare mention prefers a strategy nothing said anything about
                previous = said.get(name)
        state.update(said)
    first = next((n for n in names if state.get(n) == "first"), None)
    return Directives(first=first, prefer=[n for n in names if state.get(n) == "prefer"],
                      avoid=[n for n in names if state.get(n) == "avoid"])


LISTED = re.compile(r"\s*(,|\band\b|\bor\b|,\s*and\b|,\s*or\b)?\s*")
"""What may stand between two names of one list (they share the first one's cue)."""


def _cue_after(text: str) -> str | None:
    """A cue right after a name: "first" (or "at the start"), "less" (avoid), "more" (prefer)."""
    text = text.strip()
    if FIRST.match(text) or re.match(r"^(at|to) (the )?start", text):
        return "first"
    if re.match(r"^less\b", text):
        return "avoid"
    if re.match(r"^more\b", text):
        return "prefer"
    return None


def _last_cue(text: str) -> str | None:
    """The cue of the words just before a strategy name: within their last clause (after a comma, "and", "but" or
    "then"), avoid when a negative cue is there, else the kind of the nearest cue (first, prefer), else None."""
    clause = re.split(r",|\band\b|\bbut\b|\bthen\b", text)[-1]
    if AVOID.search(clause):
        return "avoid"
    cues = [(m.end(), kind) for kind, cue in (("first", FIRST), ("prefer", PREFER)) for m in cue.finditer(clause)]
    return max(cues)[1] if cues else None


class ReflectionFollowingPolicy:
    """The frozen actor (module docstring): ``prior`` over ``strategies``, steered by the directives of each
    dialogue's trial memory; a strategy a directive chose has no prior probability (None)."""

    def __init__(self, prior: Policy, strategies: Sequence[Strategy], follow: float = 0.8):
        if not 0 <= follow <= 1:
            raise ValueError("follow must be in [0, 1]")
        self.prior, self.strategies, self.follow = prior, tuple(strategies), follow
        self.by_name = {s.name: s for s in self.strategies}

    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float | None]]:
        prior = self.prior.choose(states)
        out: list[tuple[Strategy, float | None]] = []
        for state, (strategy, prob) in zip(states, prior, strict=True):
            said = directives(state.memory, list(self.by_name))
            choice, how = strategy, None
            if said.first and state.agent_turns == 0:
                choice, how = self.by_name[said.first], "first"
            elif said.prefer and state.rng.random() < self.follow:
                choice, how = self.by_name[state.rng.choice(said.prefer)], "prefer"
            elif strategy.name in said.avoid:
                allowed = [s for s in self.strategies if s.name not in said.avoid]
                if allowed:
                    choice, how = state.rng.choice(allowed), "avoid"
            out.append((choice, prob if how is None else None))
        return out


def make_actor(sim: Simulation, config: Any) -> Agent:
    """The frozen actor of a simulation: the reflection-following strategy actor over ``config.policy`` (its prior)
    without an agent model, else the prompted agent (which reads the reflections in its prompt)."""
    policy = make_policy(config.policy, sim.cls, sim.models["agent"])
    if sim.models["agent"] is not None:
        return sim.agent(policy, config)
    if policy is None:
        raise WorkbenchError("the strategy actor needs a prior policy (--policy random, planner:<folder>, ...); "
                             "--policy none needs --agent_model")
    from agents.template import TemplateAgent

    return TemplateAgent(sim.cls, ReflectionFollowingPolicy(policy, sim.cls.strategies, config.follow))
