"""Hindsight simulation (Liang et al. 2025, "RLHS: Mitigating Misalignment in RLHF with Hindsight Simulation",
Sec. 3-4): preference labels given after the consequences of a dialogue are simulated, against labels given
right after it.

For each case, two assistant strategies are played against the user simulator from the same state and
seed (each repeated until the user decides). Each finished dialogue is rated 1-5 three ways:
``immediate`` (right after the dialogue), ``partial`` (partial hindsight: the rater sees the consequence of its
own decision only) and ``oracle`` (oracle hindsight: the true outcome). The environment gives the ratings and
the consequences (:meth:`DialogueEnv.hindsight_ratings`; the scripted user's ratings are exact); a chat model
can rate instead (``labeller``), shown the dialogue and the consequence its feedback type reveals. For
each type, the dialogue with the higher rating gives the chosen first assistant reply (ties give no pair), as
a TRL conversational preference row whose prompt is the assistant's own prompt at that turn.
"""

from __future__ import annotations

import logging
import random
import re
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from workbench.env import DialogueEnv
from workbench.episodes import Case, Episode
from workbench.errors import WorkbenchError
from workbench.hindsight.replay import Move, Plan, replay
from workbench.progress import Meter

log = logging.getLogger(__name__)

FEEDBACK = ("immediate", "partial", "oracle")
"""RLHS's feedback types, in the order the environment's ratings are reported."""
_RATE_SYSTEM = ("You are the {user} of this conversation. Rate how satisfied you are with it from 1 (very "
                "unsatisfied) to 5 (very satisfied). Answer with the number only.")
_RATING = re.compile(r"[1-5]")


def check_env(env: type[DialogueEnv]) -> None:
    """Refuse an environment without hindsight ratings (its :meth:`DialogueEnv.hindsight_ratings` raises)."""
    env.hindsight_ratings([])


def plans(env: DialogueEnv, cases: Sequence[Case], *, pairs: int, seed: int) -> list[Plan]:
    """Two plans per pair: for each case, ``pairs`` pairs of different strategies, each pair on one seed."""
    names = [s.name for s in env.strategies]
    if len(names) < 2:
        raise WorkbenchError(f"{env.name} has fewer than two strategies to compare")
    rng, out = random.Random(seed), []
    for i, case in enumerate(cases):
        for j in range(pairs):
            episode_seed = seed * 1_000_003 + i * 97 + j
            for side, name in zip("ab", rng.sample(names, 2)):
                out.append(Plan(f"{case.id}#{j}", case, episode_seed, [Move(name)] * env.max_turns,
                                {"pair": f"{case.id}#{j}", "side": side, "strategy": name, "suffix": f"#{j}{side}"}))
    return out


def agent_messages(env: DialogueEnv, episode: Episode) -> list[dict[str, str]]:
    """The assistant's own prompt before its first turn (as with no planner), as TRL conversational messages."""
    state = env.begin(episode.case, 0)
    return [_row(m) for m in env.agent_prompt(state, None)]


def _row(message: BaseMessage) -> dict[str, str]:
    return {"role": {"system": "system", "ai": "assistant"}.get(message.type, "user"), "content": message.text}


def rating_prompt(episode: Episode, user_role: str, consequence: str) -> list[BaseMessage]:
    """The chat labeller's prompt, as the user: the dialogue, then the consequence its feedback type reveals."""
    lines = [f"{t.role}: {t.text}" for t in episode.turns] + ([consequence] if consequence else [])
    return [SystemMessage(_RATE_SYSTEM.format(user=user_role.lower())),
            HumanMessage("\n".join(lines) + "\nYour rating (1-5):")]


def ratings(env: type[DialogueEnv], episodes: Sequence[Episode], rated: Sequence[tuple[float, str]], feedback: str,
            labeller: BaseChatModel | None, progress: bool = True) -> list[float | None]:
    """Each episode's rating of type ``feedback``: the environment's (``rated``: its rating and consequence
    per episode), or ``labeller``'s when given (None if unparsable; one batched call, whose ratings the bar
    counts)."""
    if labeller is None:
        return [rating for rating, _ in rated]
    with Meter(len(episodes), desc=f"{feedback} ratings", show=progress) as meter, meter.calls(len(episodes)):
        answers = labeller.batch([rating_prompt(e, env.user_role, consequence)
                                  for e, (_, consequence) in zip(episodes, rated)])
    parsed = [float(m.group(0)) if (m := _RATING.search(str(a.content))) else None for a in answers]
    if None in parsed:
        log.warning("%s labeller: %d of %d ratings had no digit 1-5 and give no pair", feedback,
                    parsed.count(None), len(parsed))
    return parsed


def simulate(env: DialogueEnv, cases: Sequence[Case], *, pairs: int = 1, seed: int = 0,
             labeller: BaseChatModel | None = None, batch_size: int = 256,
             progress: bool = True) -> tuple[list[Episode], dict[str, list[dict[str, Any]]]]:
    """The played dialogues, and for each feedback type its preference rows (module docstring)."""
    check_env(type(env))
    episodes = replay(env, plans(env, cases, pairs=pairs, seed=seed), batch_size=batch_size, progress=progress,
                      desc="simulating pairs")
    rated = env.hindsight_ratings(episodes)
    rows: dict[str, list[dict[str, Any]]] = {}
    for feedback in FEEDBACK:
        scores = ratings(type(env), episodes, [r[feedback] for r in rated], feedback, labeller, progress)
        rows[feedback] = []
        for i in range(0, len(episodes), 2):
            (a, b), (sa, sb) = episodes[i:i + 2], scores[i:i + 2]
            if sa is None or sb is None or sa == sb:
                continue
            chosen, rejected = (a, b) if sa > sb else (b, a)
            reply = [next(t for t in e.turns if t.role == env.agent_role) for e in (chosen, rejected)]
            rows[feedback].append({"prompt": agent_messages(env, chosen),
                                   "chosen": [{"role": "assistant", "content": reply[0].text}],
                                   "rejected": [{"role": "assistant", "content": reply[1].text}],
                                   "pair": chosen.provenance["pair"], "margin": abs(sa - sb),
                                   "chosen_id": chosen.id, "rejected_id": rejected.id})
    return episodes, rows
