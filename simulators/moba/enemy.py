"""Scripted heroes that are not the human: the enemy team's policy and a default ("push lanes") ally policy for
the two agent heroes, the baseline that a trained agent team should beat on human gain.

Both use :func:`.humans.goal_scores` with team-play weights (kills, gold, towers, survival and ``push`` all 1) and a
home lane per hero (its starting lane), take the best-scoring action, and with probability ``noise`` a random one
(counter-based hash of match seed, step, hero; stream ``STREAM_ENEMY`` or ``STREAM_ALLY``).
"""

from __future__ import annotations

import numpy as np

from . import rules as R
from .game import STREAM_ALLY, STREAM_ENEMY, MobaGame
from .humans import choose, goal_scores

TEAM_GOALS = {"kills": 1.0, "gold": 1.0, "towers": 1.0, "survival": 1.0, "push": 1.0}
HOME_LANES = {1: 0, 2: 2, 3: 1, 4: 0, 5: 2}


class ScriptedTeam:
    """Vectorised scripted policy for the given ``heroes``; :meth:`act` returns (B, len(heroes)) actions."""

    def __init__(self, heroes: tuple[int, ...], stream: int, noise: float = 0.1, goals: dict | None = None):
        self.heroes = heroes
        self.stream = stream
        self.noise = noise
        self.goals = dict(TEAM_GOALS if goals is None else goals)

    def act(self, game: MobaGame, view: dict | None = None) -> np.ndarray:
        v = game.hero_view() if view is None else view
        out = []
        for h in self.heroes:
            scores = goal_scores(game, h, self.goals, np.full(game.B, HOME_LANES[h]), v)
            out.append(choose(scores, self.noise, game, h, self.stream))
        return np.stack(out, axis=1)


def enemy_policy(noise: float = 0.1) -> ScriptedTeam:
    """The scripted enemy team (heroes 3, 4, 5)."""
    return ScriptedTeam(R.ENEMIES, STREAM_ENEMY, noise)


def default_ally_policy(noise: float = 0.1) -> ScriptedTeam:
    """The baseline agent heroes (1, 2): the same rules as the enemy, home lanes top and bot."""
    return ScriptedTeam(R.AGENTS, STREAM_ALLY, noise)
