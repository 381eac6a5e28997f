"""MultiCritique's data on scripted self-play (Lan et al. 2024, Sec. 3.1-3.3): traced dialogues, the panel's
critiques merged into SFT targets, and MARV's revisions.

Dialogues come from the template agent's self-play against the scripted simulator wrapped in
:class:`~workbench.critique.labels.FlawTrace`, so every agent turn carries its ground-truth harm. A *view* is a
dialogue as a critic reads it: finished, or cut after one of its agent turns (in flight, for the critic's turn
rewards).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel

from workbench.critics import GroundTruthCritic
from workbench.critique.acu import Critique
from workbench.critique.labels import FlawTrace
from workbench.critique.merge import merge_critiques
from workbench.critique.prompts import agent_turn_numbers, critique_prompt, revision_prompt, transcript_options
from workbench.env import DialogueEnv
from workbench.episodes import Case, Episode, Turn


@dataclass
class View:
    """A dialogue as a critic reads it: its episode, the turns shown, whether it had ended, the episode's seed."""

    episode: Episode
    turns: list[Turn]
    finished: bool
    seed: int


def traced_env(cls: type[DialogueEnv]) -> DialogueEnv:
    """``cls`` with its scripted simulator traced and the ground-truth critic."""
    return cls(FlawTrace(cls.scripted_simulator(), cls), GroundTruthCritic(cls.ground_truth))


def selfplay(cls: type[DialogueEnv], cases: Sequence[Case], policy: str, *, n: int, seed: int, batch_size: int,
             progress: bool) -> tuple[list[Episode], list[int]]:
    """``n`` traced self-play dialogues of the template agent under ``policy`` (cases cycled) and their seeds."""
    from agents.policies import make_policy
    from agents.template import TemplateAgent
    from workbench.rollout import episode_seed, rollout

    agent = TemplateAgent(cls, make_policy(policy, cls))
    episodes = rollout(traced_env(cls), agent, cases, n=n, seed=seed, batch_size=batch_size, progress=progress)
    return episodes, [episode_seed(seed, i) for i in range(n)]


def views(cls: type[DialogueEnv], episodes: Sequence[Episode], seeds: Sequence[int], prefixes: float,
          rng: random.Random) -> list[View]:
    """Every dialogue finished, and a share ``prefixes`` of them also cut after a random agent turn before the last."""
    found = []
    for episode, seed in zip(episodes, seeds, strict=True):
        found.append(View(episode, list(episode.turns), True, seed))
        agent = agent_turn_numbers(episode.turns, cls.agent_role)
        if len(agent) > 1 and rng.random() < prefixes:
            cut = agent[rng.randrange(len(agent) - 1)] + 2  # the agent turn and the user's reply
            found.append(View(episode, list(episode.turns[:cut]), False, seed))
    return found


def prompt_text(cls: type[DialogueEnv], turns: Sequence[Turn]) -> str:
    """The critic's prompt as a base model reads it (the transcript the critic is trained on)."""
    from workbench.llm.local import format_transcript

    return format_transcript(critique_prompt(cls, turns))[0]


def merged(cls: type[DialogueEnv], shown: Sequence[View], panel: Any, meta: Any, max_acus: int,
           progress: bool = False) -> tuple[list[list[Critique]], list[Critique]]:
    """The panel's critiques of each view and their merge (the meta-critic's ratings; its verdict and score when it
    knows them)."""
    dialogues = [v.turns for v in shown]
    critiques = panel.critique(cls, dialogues, progress)
    ratings = meta.rate(cls, dialogues, critiques)
    targets = []
    for view, cs, rs in zip(shown, critiques, ratings, strict=True):
        verdict, score = meta.verdict(view.turns, view.finished)
        targets.append(merge_critiques(cs, rs, max_acus=max_acus, verdict=verdict, score=score))
    return critiques, targets


def revision_returns(cls: type[DialogueEnv], reviser: BaseChatModel, shown: Sequence[View],
                     candidates: Sequence[Sequence[Critique]], k: int, batch_size: int, progress: bool = False
                     ) -> tuple[list[list[list[float]]], int]:
    """MARV's scores: for each view and candidate critique, the returns of ``k`` revisions of the agent turn its most
    severe ACU points at, the dialogue replayed from there against the scripted simulator and judged by the ground
    truth; ``[]`` for a critique without ACUs (nothing to revise by). Also how many revisions came back empty (the
    turn then keeps its original text: a fallback, counted)."""
    from workbench.hindsight.replay import Move, Plan, replay
    from workbench.progress import Meter
    from workbench.roleplay import clean_utterance

    model = reviser.bind(temperature=0.9, max_tokens=48, stop=["\n"], **transcript_options(reviser))
    asks = [(i, j, c.top()) for i, cs in enumerate(candidates) for j, c in enumerate(cs) if c.top() is not None]
    prompts = [revision_prompt(cls, shown[i].turns, acu) for i, _, acu in asks for _ in range(k)]
    with Meter(len(prompts), desc=f"{cls.name} revisions", show=progress) as meter, meter.calls(len(prompts)):
        texts = [clean_utterance(str(m.content)) for m in (model.batch(prompts) if prompts else [])]
    plans = []
    for n, (i, j, acu) in enumerate(asks):
        view = shown[i]
        agent = agent_turn_numbers(view.turns, cls.agent_role)
        moves = [Move(view.turns[t].strategy, view.turns[t].text) for t in agent]
        base = Plan(view.episode.id, view.episode.case, view.seed, moves)
        for r in range(k):
            text = texts[n * k + r] or view.turns[agent[acu.turn - 1]].text
            plans.append(base.rewrite(acu.turn - 1, Move(None, text), candidate=(i, j)))
    empty = sum(not t for t in texts)
    played = replay(cls(cls.scripted_simulator(), GroundTruthCritic(cls.ground_truth)), plans,
                    batch_size=batch_size, progress=False)
    scores: list[list[list[float]]] = [[[] for _ in cs] for cs in candidates]
    for plan, episode in zip(plans, played, strict=True):
        i, j = plan.meta["candidate"]
        scores[i][j].append(episode.total_reward)
    return scores, empty

