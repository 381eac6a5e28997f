"""Scripted human partners for the MOBA game: personas with goals and a skill level (after RLHG, Gao et al. 2024,
whose human players pursue their own goals, e.g. kills or towers, while the agent team plays with them).

A persona scores the 10 actions for the human hero with vectorised rules weighted by its goals (:func:`goal_scores`),
takes the best, and with probability ``noise`` (its decision noise, drawn from the counter-based hash of
(match seed, step, hero)) takes a uniformly random in-lane action instead (:func:`choose`). Its skill also sets the
human hero's damage multiplier (``SKILLS``: low = noise 0.3, damage 70 %; high = noise 0.05, damage 130 %).
``PERSONAS`` holds 5 goal profiles (slayer, farmer, pusher, survivor, allrounder) x 2 skills; :class:`PersonaBatch`
mixes personas across the matches of one batch. Goals: ``kills`` (seek and fight enemy heroes; kill seekers roam to
lanes with foes when theirs has none), ``gold`` (farm minions), ``towers`` (siege structures behind friendly
minions), ``survival`` (retreat and recall early, avoid fights when outnumbered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import rules as R
from .game import STREAM_HUMAN, MobaGame, hash_u64

SKILLS = {"low": {"noise": 0.3, "damage_pct": 70}, "high": {"noise": 0.05, "damage_pct": 130}}
FUMBLE_ACTIONS = (R.FARM, R.ATTACK_HERO, R.ATTACK_TOWER, R.ADVANCE, R.RETREAT)  # = 0..4


GOAL_WEIGHTS = ("kills", "gold", "towers", "survival", "push")


def goal_scores(game: MobaGame, hero: int, goals: dict, home_lane: np.ndarray | None = None,
                view: dict | None = None) -> np.ndarray:
    """(B, 10) action scores for ``hero`` in every match, from goal weights (kills, gold, towers, survival, and
    ``push``: the team objective of keeping minions and sieging; each a number or a (B,) array, so one call serves
    a batch of different personas) and an optional home lane per match (-1: none)."""
    v = game.hero_view() if view is None else view
    B = game.B
    g = {k: np.asarray(goals.get(k, 0.0), dtype=np.float64) for k in GOAL_WEIGHTS}
    team = R.TEAM_OF_HERO[hero]
    foes = list(R.ENEMIES) if team == 0 else list(R.AGENTS) + [R.HUMAN]
    friends = [h for h in range(R.NUM_HEROES) if R.TEAM_OF_HERO[h] == team]
    lane = game.lane[:, hero]
    hpf = game.hp[:, hero] / game.max_hp()[:, hero]
    on = v["on"]
    foes_in_lane = ((game.lane[:, foes] == lane[:, None]) & on[:, foes]).sum(axis=1)
    friends_in_lane = ((game.lane[:, friends] == lane[:, None]) & on[:, friends]).sum(axis=1)
    outnumbered = foes_in_lane > friends_in_lane
    near = v["hero_dist"][:, hero] <= R.ATTACK_RANGE + R.HERO_SPEED
    foe = v["nearest"][:, hero]
    foe_hpf = game.hp[np.arange(B), foe] / game.max_hp()[np.arange(B), foe]
    wave = v["enemy_wave_hp"][:, hero] > 0
    wave_close = v["wave_dist"][:, hero] <= 3 * R.ATTACK_RANGE
    siege = (v["own_wave_hp"][:, hero] > 0) & (
        np.abs(v["own_wave_front"][:, hero] - v["struct_pos"][:, hero]) <= R.TOWER_RANGE)
    tower_danger = (v["struct_dist"][:, hero] <= R.TOWER_RANGE + R.HERO_SPEED) & ~siege

    s = np.zeros((B, R.NUM_ACTIONS))
    s[:, R.FARM] = (g["gold"] + 0.5 * g["push"]) * np.where(wave, np.where(wave_close, 2.0, 1.0), 0.2)
    s[:, R.ATTACK_HERO] = g["kills"] * np.where(near, 2.0 + 1.5 * (foe_hpf < hpf), 0.0) \
        - g["survival"] * (outnumbered & near) * 2.0
    s[:, R.ATTACK_TOWER] = (g["towers"] + g["push"]) * np.where(siege, 2.5, 0.3) - 2.0 * tower_danger * (
        1 + g["survival"])
    s[:, R.ADVANCE] = 0.2 - 1.0 * tower_danger
    s[:, R.RETREAT] = (g["survival"] * 2.0 + 0.5) * ((hpf < 0.5) & near | tower_danger)
    s[:, R.RECALL] = 4.0 * (hpf < 0.2) + 2.0 * g["survival"] * (hpf < 0.45)
    # lanes: kill seekers go where foes are when their lane is empty; everyone drifts back to a home lane
    foes_per_lane = np.stack([((game.lane[:, foes] == k) & on[:, foes]).sum(axis=1) for k in range(R.NUM_LANES)], 1)
    for k in range(R.NUM_LANES):
        act = R.TOP + k
        other = lane != k
        s[:, act] = g["kills"] * 1.2 * other * (foes_in_lane == 0) * (foes_per_lane[:, k] > 0)
        if home_lane is not None:
            s[:, act] += 2.5 * other * (home_lane == k) * (hpf > 0.3)
    return s


def choose(scores: np.ndarray, noise: float, game: MobaGame, hero: int, stream: int) -> np.ndarray:
    """Best action per match, replaced with probability ``noise`` by a hashed uniform random choice among the
    in-lane actions ``FUMBLE_ACTIONS`` (farm, attack hero, attack tower, advance, retreat): a wrong tactical call,
    never an unplanned lane change or recall."""
    h = hash_u64(game.seed, game.t, stream + 16 * hero)
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    rand = ((h >> np.uint64(3)) % np.uint64(len(FUMBLE_ACTIONS))).astype(np.int64)
    return np.where(u < noise, np.asarray(FUMBLE_ACTIONS)[rand], scores.argmax(axis=1))


@dataclass(frozen=True)
class Persona:
    """A scripted human: ``goals`` weights, ``skill`` low/high (decision noise and damage multiplier)."""

    name: str
    goals: dict[str, float] = field(default_factory=dict)
    skill: str = "high"
    home_lane: int = 1

    @property
    def noise(self) -> float:
        return SKILLS[self.skill]["noise"]

    @property
    def damage_pct(self) -> int:
        return SKILLS[self.skill]["damage_pct"]

    @property
    def home(self) -> int:
        """The lane it returns to: none (-1) for kill seekers, who roam to the lanes where the foes are."""
        return -1 if self.goals.get("kills", 0.0) > 0 else self.home_lane

    def act(self, game: MobaGame, view: dict | None = None) -> np.ndarray:
        """(B,) actions for the human hero in every match."""
        scores = goal_scores(game, R.HUMAN, self.goals, np.full(game.B, self.home), view)
        return choose(scores, self.noise, game, R.HUMAN, STREAM_HUMAN)


class PersonaBatch:
    """One persona per match (B of them, mixed freely): the same rules as :class:`Persona` with the goal weights,
    noise, damage multipliers and home lanes as (B,) arrays; match ``i`` acts exactly as ``personas[i]`` alone."""

    def __init__(self, personas):
        self.personas = [persona(p) for p in personas]
        self.names = [p.name for p in self.personas]
        self.goals = {k: np.array([p.goals.get(k, 0.0) for p in self.personas], np.float64) for k in GOAL_WEIGHTS}
        self.noise = np.array([p.noise for p in self.personas], np.float64)
        self.damage_pct = np.array([p.damage_pct for p in self.personas], np.int64)
        self.home = np.array([p.home for p in self.personas], np.int64)

    def act(self, game: MobaGame, view: dict | None = None) -> np.ndarray:
        """(B,) actions for the human hero of every match."""
        if game.B != len(self.personas):
            raise ValueError(f"{len(self.personas)} personas for {game.B} matches")
        scores = goal_scores(game, R.HUMAN, self.goals, self.home, view)
        return choose(scores, self.noise, game, R.HUMAN, STREAM_HUMAN)


_GOALS = {
    "slayer": {"kills": 1.5, "survival": 0.2},
    "farmer": {"gold": 1.5, "survival": 0.5},
    "pusher": {"towers": 1.5, "gold": 0.3},
    "survivor": {"survival": 1.5, "gold": 0.6},
    "allrounder": {"kills": 0.7, "gold": 0.7, "towers": 0.7, "survival": 0.7},
}
PERSONAS: dict[str, Persona] = {f"{name}-{skill}": Persona(f"{name}-{skill}", goals, skill)
                                for name, goals in _GOALS.items() for skill in SKILLS}


def persona(spec: str | Persona) -> Persona:
    """A persona by name (``"farmer-high"``), or the given one."""
    if isinstance(spec, Persona):
        return spec
    if not isinstance(spec, str) or spec not in PERSONAS:
        raise ValueError(f"unknown persona {spec!r}; known: {sorted(PERSONAS)}")
    return PERSONAS[spec]
