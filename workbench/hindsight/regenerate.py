"""Hindsight regeneration (Hong, Lin, Dragan, Levine 2024, "Interactive Dialogue Agents via Reinforcement
Learning on Hindsight Regenerations", Sec. 4): knowing how a dialogue ended, find the agent turns that were
poor, rewrite them, let the user simulator continue from each rewrite, and keep the rewrites with their returns.

Two ways to find and rewrite turns:

- ``search`` (scripted simulators, exact and cheap): every agent turn the dialogue reached is tried with every other strategy,
  the rest of the plan unchanged; a turn is suboptimal when some alternative raises the return by more than
  ``margin``.
- ``llm``: a chat model reads the finished dialogue and its outcome, names the poor agent turns and proposes
  a strategy and a better utterance for each (``Turn N: strategy | utterance``; the strategy matches the
  environment's name for it whatever its case and its spaces, hyphens or underscores); unparsable lines are
  skipped and counted in the log. With ``critique`` the model is a critic (``critic:<folder>``, MultiCritique's
  ACUs, :mod:`workbench.critique`): the turns of its ``k`` most severe ACUs are rewritten, each with the strategy
  its suggestion names, or else with every other strategy (a search confined to the turns the critic blames).

The result is an episode dataset: every original dialogue (replayed by the same simulator, so its return is
comparable) and the kept branches, each with ``provenance``: ``hindsight`` ("original" or "regenerated"),
``source``, ``return``, and for branches ``turn`` (the agent turn's number), ``strategy``, ``original_strategy``,
``original_return``, ``branch_of`` (the original's episode id) and ``branch_turn`` (the rewritten turn's index
in ``turns``), so ``workbench train dpo --pairs hindsight`` pairs each branch with its original.
``keep`` decides which branches stay: ``best`` (the best improving rewrite of each suboptimal turn),
``improving`` (every rewrite that beats the original) or ``all``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import replace
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from workbench.env import DialogueEnv
from workbench.episodes import Episode
from workbench.errors import WorkbenchError
from workbench.hindsight.replay import Move, Plan, replay
from workbench.progress import Meter

log = logging.getLogger(__name__)

KEEP = ("best", "improving", "all")
MODES = ("search", "llm")


def search_rewrites(env: DialogueEnv, plans: Sequence[Plan], played: Sequence[int]) -> list[Plan]:
    """Every plan with one of its ``played`` agent turns replaced by each other strategy (spoken by the
    template agent)."""
    names = [s.name for s in env.strategies]
    return [plan.rewrite(t, Move(name), suffix=f"~t{t}={name}", turn=t, strategy=name,
                         original_strategy=move.strategy, hindsight="regenerated")
            for plan, n in zip(plans, played) for t, move in enumerate(plan.moves[:n])
            for name in names if name != move.strategy]


_CRITIQUE_SYSTEM = ("You review a finished conversation in which the {agent} pursued a goal: {goal} Knowing how it "
                    "ended, name the {agent}'s turns that were poor choices and what would have worked better. "
                    "Write one line per poor turn, at most {k} lines, exactly as: Turn N: strategy | better "
                    "utterance. Strategies: {strategies}.")
_LINE = re.compile(r"turn\s*(\d+)\s*[:.-]\s*([a-z][\w -]*?)\s*\|\s*(.+)", re.I)
_SEPARATORS = re.compile(r"[\s_-]+")


def strategy_key(name: str) -> str:
    """A strategy name compared without case and with spaces, hyphens and underscores alike
    ("Reflection of feelings", "reflection-of-feelings" and "REFLECTION_OF_FEELINGS" are one key)."""
    return _SEPARATORS.sub(" ", name.strip().lower())


def critique_prompt(env: type[DialogueEnv], episode: Episode, k: int) -> list[Any]:
    """The hindsight critic's prompt: the numbered dialogue and its outcome."""
    lines, n = [], 0
    for turn in episode.turns:
        if turn.role == env.agent_role:
            n += 1
            lines.append(f"[Turn {n}] {turn.role}: {turn.text}")
        else:
            lines.append(f"{turn.role}: {turn.text}")
    outcome = ", ".join(f"{k}={v}" for k, v in episode.outcome.items())
    system = _CRITIQUE_SYSTEM.format(agent=env.agent_role, goal=env.description, k=k,
                                     strategies=", ".join(s.name for s in env.strategies))
    return [SystemMessage(system), HumanMessage("\n".join(lines) + f"\nOutcome: {outcome}")]


def parse_critique(text: str, env: type[DialogueEnv], turns: int) -> list[tuple[int, Move]]:
    """``(turn index, move)`` per well-formed line naming an agent turn and one of ``env``'s strategies
    (matched by :func:`strategy_key`; the move carries the environment's own name)."""
    names = {strategy_key(s.name): s.name for s in env.strategies}
    found = []
    for line in text.splitlines():
        m = _LINE.search(line)
        if not m:
            continue
        turn, strategy, utterance = int(m.group(1)) - 1, names.get(strategy_key(m.group(2))), m.group(3).strip()
        if 0 <= turn < turns and strategy is not None and utterance:
            found.append((turn, Move(strategy, utterance.strip('"'))))
    return found


def llm_rewrites(env: DialogueEnv, model: BaseChatModel, plans: Sequence[Plan], originals: Sequence[Episode],
                 k: int = 2, progress: bool = True) -> list[Plan]:
    """Rewrites proposed by ``model`` after reading each original dialogue with its outcome (one batched call,
    whose critiques the bar counts)."""
    with Meter(len(originals), desc="hindsight critic", show=progress) as meter, meter.calls(len(originals)):
        answers = model.batch([critique_prompt(type(env), e, k) for e in originals])
    rewrites, empty = [], 0
    for plan, answer, original in zip(plans, answers, originals):
        proposals = parse_critique(str(answer.content), type(env), original.outcome["turns"])
        empty += not proposals
        for t, move in proposals[:k]:
            rewrites.append(plan.rewrite(t, move, suffix=f"~t{t}={move.strategy}", turn=t, strategy=move.strategy,
                                         original_strategy=plan.moves[t].strategy, hindsight="regenerated"))
    if empty:
        log.warning("hindsight critic: %d of %d answers had no line 'Turn N: strategy | utterance' naming an "
                    "agent turn of the dialogue and one of %s's strategies", empty, len(plans), env.name)
    return rewrites


def critique_rewrites(env: DialogueEnv, model: BaseChatModel, plans: Sequence[Plan], originals: Sequence[Episode],
                      k: int = 2, progress: bool = True) -> list[Plan]:
    """Rewrites at the turns a critic's ACUs blame (module docstring), one batched call of critiques."""
    from workbench.critique.critic import critique_many

    cls = type(env)
    with Meter(len(originals), desc="hindsight critic", show=progress) as meter, meter.calls(len(originals)):
        critiques = critique_many(model, cls, [e.turns for e in originals], acus=k)
    keys = {strategy_key(s.name): s.name for s in env.strategies}
    rewrites, empty = [], 0
    for plan, critique, original in zip(plans, critiques, originals, strict=True):
        turns = list(dict.fromkeys(a.turn - 1 for a in critique.ranked() if a.turn <= original.outcome["turns"]))[:k]
        empty += not turns
        for t in turns:
            acu = next(a for a in critique.ranked() if a.turn - 1 == t)
            said = strategy_key(acu.suggestion)
            named = [name for key, name in keys.items() if re.search(rf"\b{re.escape(key)}\b", said)]
            for name in named[:1] or [n for n in keys.values() if n != plan.moves[t].strategy]:
                rewrites.append(plan.rewrite(t, Move(name), suffix=f"~t{t}={name}", turn=t, strategy=name,
                                             original_strategy=plan.moves[t].strategy, hindsight="regenerated",
                                             criterion=acu.criterion))
    if empty:
        log.warning("hindsight critic: %d of %d critiques had no ACU pointing at an agent turn of the dialogue",
                    empty, len(plans))
    return rewrites


def check_options(mode: str, keep: str, has_model: bool) -> None:
    """Refuse an unknown mode or ``keep``, or llm mode without a model."""
    if mode not in MODES:
        raise WorkbenchError(f"unknown hindsight mode {mode!r} (use {', '.join(MODES)})")
    if keep not in KEEP:
        raise WorkbenchError(f"unknown --keep {keep!r} (use {', '.join(KEEP)})")
    if mode == "llm" and not has_model:
        raise WorkbenchError("hindsight mode llm needs a model (--model)")


def regenerate(env: DialogueEnv, plans: Sequence[Plan], *, mode: str = "search", model: BaseChatModel | None = None,
               keep: str = "best", margin: float = 0.0, k: int = 2, batch_size: int = 256,
               progress: bool = True, critique: bool = False) -> list[Episode]:
    """The augmented dataset (module docstring): originals first, then the kept branches; ``critique``: llm mode's
    model is an ACU critic."""
    check_options(mode, keep, model is not None)
    plans = [replace(p, meta={**p.meta, "hindsight": "original"}) for p in plans]
    originals = replay(env, plans, batch_size=batch_size, progress=progress, desc="replaying originals")
    played = [e.outcome["turns"] for e in originals]  # a turn after the dialogue ended cannot be rewritten
    propose = critique_rewrites if critique else llm_rewrites
    rewrites = (search_rewrites(env, plans, played) if mode == "search"
                else propose(env, model, plans, originals, k, progress))
    branches = replay(env, rewrites, batch_size=batch_size, progress=progress, desc="regenerating")
    base = {e.provenance["source"]: e for e in originals}
    for b in branches:
        original = base[b.provenance["source"]]
        agent_turns = [i for i, t in enumerate(b.turns) if t.role == env.agent_role and not t.info.get("opening")]
        b.provenance.update(original_return=original.provenance["return"], branch_of=original.id,
                            branch_turn=agent_turns[b.provenance["turn"]])
    return originals + select(branches, keep, margin)


def select(branches: Sequence[Episode], keep: str, margin: float) -> list[Episode]:
    """The branches ``keep`` asks for (module docstring)."""
    if keep == "all":
        return list(branches)
    better = [b for b in branches if b.provenance["return"] > b.provenance["original_return"] + margin]
    if keep == "improving":
        return better
    best: dict[tuple[str, int], Episode] = {}
    for b in better:
        key = (b.provenance["source"], b.provenance["turn"])
        if key not in best or b.provenance["return"] > best[key].provenance["return"]:
            best[key] = b
    return [best[key] for key in sorted(best)]


def summary(episodes: Sequence[Episode]) -> dict[str, float]:
    """Counts and mean returns of a regenerated dataset."""
    originals = [e for e in episodes if e.provenance.get("hindsight") == "original"]
    branches = [e for e in episodes if e.provenance.get("hindsight") == "regenerated"]
    best: dict[str, float] = defaultdict(lambda: float("-inf"))
    for e in originals + branches:
        best[e.provenance["source"]] = max(best[e.provenance["source"]], e.provenance["return"])
    suboptimal = {(b.provenance["source"], b.provenance["turn"]) for b in branches
                  if b.provenance["return"] > b.provenance["original_return"]}
    n = max(len(originals), 1)
    return {"dialogues": len(originals), "branches": len(branches),
            "suboptimal turns": len(suboptimal),
            "original return": sum(e.provenance["return"] for e in originals) / n,
            "best return": sum(best.values()) / n if best else 0.0}
