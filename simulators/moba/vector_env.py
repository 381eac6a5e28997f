"""Gymnasium vector-API wrapper of the MOBA game: the agent controls the two agent heroes of ``num_envs`` matches.

``MobaVectorEnv(num_envs, persona="allrounder-high", seed=None)``; ``persona`` is one persona (a name in
``humans.PERSONAS`` or a :class:`.humans.Persona`) for every match, or a sequence of ``num_envs`` of them (one per
match slot; ``env.persona.names`` lists them):

* ``reset(seed=None, options=None) -> (obs, info)``; ``step(actions, human_actions=None) -> (obs, reward,
  terminated, truncated, info)``.
* ``single_action_space = MultiDiscrete([10, 10])``: the actions (``rules.ACTION_NAMES``) of heroes 1 and 2.
* ``single_observation_space = Box(0, 1, (OBS_DIM,), float32)`` (counts can exceed 1). Layout (``OBS_DIM`` = 103):
  ``[0]`` step / max_steps; ``HUMAN_SLICE`` = ``[1:22]`` the human's hero features (11, below) then the one-hot of
  the human's last action (10); ``[22:77]`` heroes 1..5, 11 features each: lane one-hot (3), position / 100,
  hp / max hp, level / 10, on map, (respawn + travel timer) / 10, gold / 2000, kills / 10, deaths / 10;
  ``[77:101]`` per lane (top, mid, bot) 8 values: ally minions / 10, ally front / 100, enemy minions / 10, enemy
  front / 100, hp fraction of ally outer, ally inner, enemy outer, enemy inner tower; ``[101:103]`` base hp
  fractions (ally, enemy). "Human input gated to zero" is ``obs * human_obs_mask()`` (or ``gate_human=True``).
* ``reward``: the ally team's task reward (:mod:`.rules`). ``terminated`` is True when a match ends, by a base or by
  the fixed length (a match's end is part of the game, so ``truncated`` is always False).
* ``info``: ``human_goals`` (dict of (B,) increments: kills, gold, towers, deaths), ``human_goal_reward`` (B, 4),
  ``human_action`` (B,), ``match_seed`` (B,) the seeds of the matches this step played (before any auto-reset).
* Auto-reset, Gymnasium's ``SAME_STEP`` convention: a match that ends is reset inside the same ``step``; the
  returned ``obs`` is the new match's first observation, the last observation of the finished match is in
  ``info["final_obs"]`` (a (B, OBS_DIM) float array, rows valid where ``info["_final_obs"]``) and its metrics in
  ``info["final_info"]`` (dict of (B,) arrays from :meth:`.game.MobaGame.metrics` plus ``match_seed``, valid
  where ``_final_info``).
  Match seeds are ``derive_seeds(seed, slot, episode)``, so a run is reproducible from its seed.
* The human hero is driven by the persona unless ``human_actions`` (B,) is passed to ``step``; entries < 0 there
  still let the persona decide (so a person can play one match of a batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from . import rules as R
from .enemy import default_ally_policy, enemy_policy
from .game import MobaGame, derive_seeds
from .humans import PERSONAS, Persona, PersonaBatch

HERO_FEATURES = 11
HUMAN_SLICE = slice(1, 1 + HERO_FEATURES + R.NUM_ACTIONS)
OBS_DIM = 1 + HERO_FEATURES + R.NUM_ACTIONS + 5 * HERO_FEATURES + 8 * R.NUM_LANES + 2


def human_obs_mask() -> np.ndarray:
    """(OBS_DIM,) float32 ones with zeros on the human's slice."""
    mask = np.ones(OBS_DIM, np.float32)
    mask[HUMAN_SLICE] = 0.0
    return mask


def observe(game: MobaGame) -> np.ndarray:
    """(B, OBS_DIM) float32 observations of every match (layout in the module docstring)."""
    B = game.B
    lvl = game.level()
    heroes = np.concatenate([
        (game.lane[..., None] == np.arange(R.NUM_LANES)).astype(np.float32),
        (game.pos / R.LANE_LENGTH)[..., None], (game.hp / game.max_hp())[..., None], (lvl / 10)[..., None],
        game.on_map()[..., None], ((game.respawn + game.busy) / 10)[..., None], (game.gold / 2000)[..., None],
        (game.kills / 10)[..., None], (game.deaths / 10)[..., None]], axis=2).astype(np.float32)  # (B, 6, 11)
    last = (game.last_action[:, 0:1] == np.arange(R.NUM_ACTIONS)).astype(np.float32)
    count = -(-game.wave_hp // R.MINION_HP) / 10
    lanes = np.concatenate([count[..., 0:1], game.wave_front[..., 0:1] / R.LANE_LENGTH, count[..., 1:2],
                            game.wave_front[..., 1:2] / R.LANE_LENGTH, game.tower_hp[:, :, 0, :] / R.TOWER_HP,
                            game.tower_hp[:, :, 1, :] / R.TOWER_HP], axis=2).reshape(B, -1)
    return np.concatenate([(game.t / game.max_steps)[:, None], heroes[:, 0], last, heroes[:, 1:].reshape(B, -1),
                           lanes, game.base_hp / R.BASE_HP], axis=1).astype(np.float32)


class MobaVectorEnv(VectorEnv):
    """``num_envs`` matches; the agent plays heroes 1 and 2, a persona the human (hero 0), a script the enemy."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["ansi"]}
    personas = tuple(PERSONAS)
    """The scripted human partners, by name (:data:`.humans.PERSONAS`)."""
    goals = R.GOALS
    """The human goals, in the order of ``info["human_goal_reward"]``."""

    def __init__(self, num_envs: int, persona: str | Persona | Sequence[str | Persona] = "allrounder-high",
                 seed: int | None = None, max_steps: int = R.MAX_STEPS, gate_human: bool = False,
                 enemy_noise: float = 0.1):
        self.num_envs = int(num_envs)
        many = not isinstance(persona, (str, Persona))
        if many and len(persona) != self.num_envs:
            raise ValueError(f"persona: {len(persona)} personas for {self.num_envs} matches")
        self.persona = PersonaBatch(persona if many else [persona] * self.num_envs)
        self.gate_human = gate_human
        self.enemy = enemy_policy(enemy_noise)
        self.game = MobaGame(self.num_envs, max_steps)
        self.single_action_space = gymnasium.spaces.MultiDiscrete([R.NUM_ACTIONS, R.NUM_ACTIONS])
        self.action_space = gymnasium.spaces.MultiDiscrete(np.full((self.num_envs, 2), R.NUM_ACTIONS))
        self.single_observation_space = gymnasium.spaces.Box(0.0, np.inf, (OBS_DIM,), np.float32)
        self.observation_space = gymnasium.spaces.Box(0.0, np.inf, (self.num_envs, OBS_DIM), np.float32)
        self.render_mode = "ansi"
        self._run_seed = seed
        self._episode = np.zeros(self.num_envs, np.int64)
        self._mask = human_obs_mask()
        self._allies = default_ally_policy()
        self.action_names = R.ACTION_NAMES
        """The heroes' actions, by index."""

    def _obs(self) -> np.ndarray:
        obs = observe(self.game)
        return obs * self._mask if self.gate_human else obs

    def _start(self, mask: np.ndarray) -> None:
        slots = np.flatnonzero(mask)
        self.game.reset(derive_seeds(self._run_seed, slots, self._episode[slots]), mask)
        self.game.damage_pct[mask, R.HUMAN] = self.persona.damage_pct[mask]
        self._episode[slots] += 1

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None or self._run_seed is None:
            self._run_seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
            self._episode[:] = 0
        self._start(np.ones(self.num_envs, bool))
        return self._obs(), {"match_seed": self.game.seed.copy()}

    def step(self, actions, human_actions=None):
        g = self.game
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs, 2)
        view = g.hero_view()
        full = np.empty((self.num_envs, R.NUM_HEROES), np.int64)
        human = self.persona.act(g, view)
        if human_actions is not None:
            given = np.asarray(human_actions, dtype=np.int64).reshape(self.num_envs)
            human = np.where(given >= 0, given, human)
        full[:, R.HUMAN] = human
        full[:, list(R.AGENTS)] = actions
        full[:, list(R.ENEMIES)] = self.enemy.act(g, view)
        res = g.step(full)
        info = {"human_goals": res.human_goals, "human_goal_reward": res.human_goal_reward,
                "human_action": human, "match_seed": g.seed.copy()}
        ended = res.terminated
        if ended.any():
            info["final_obs"] = np.where(ended[:, None], self._obs(), 0.0).astype(np.float32)
            info["_final_obs"] = ended.copy()
            info["final_info"] = {k: np.where(ended, val, 0) for k, val in g.metrics().items()}
            info["final_info"]["match_seed"] = np.where(ended, g.seed, 0).astype(np.uint64)
            info["_final_info"] = ended.copy()
            self._start(ended)
        return (self._obs(), res.task_reward.astype(np.float32), ended, np.zeros(self.num_envs, bool), info)

    def scripted_actions(self) -> np.ndarray:
        """(B, 2) actions of the scripted ally policy (:func:`.enemy.default_ally_policy`) for the agent heroes now:
        the rule-based team to compare trained agents with."""
        return self._allies.act(self.game)

    def human_obs_mask(self) -> np.ndarray:
        """(OBS_DIM,) mask that gates the human's input to zero (:func:`human_obs_mask`)."""
        return human_obs_mask()

    def human_goal_weights(self) -> np.ndarray:
        """(B, 4) weights of the human goals (kills, gold, towers, deaths) each match's persona pursues, from its goal
        weights (survival counts for deaths), each row summing to 1: what "the human's goal achievement" means for
        that partner (RLHG sums the human gain over these goals)."""
        goals = self.persona.goals
        w = np.stack([goals["kills"], goals["gold"], goals["towers"], goals["survival"]], axis=1)
        return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)

    def render_text(self, match_index: int = 0) -> str:
        """ASCII picture of one match (see :meth:`.game.MobaGame.render_text`)."""
        return self.game.render_text(match_index)

    def render(self) -> str:
        return self.render_text(0)

    def close(self, **kwargs) -> None:
        pass
