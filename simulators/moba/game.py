"""The vectorised three-lane MOBA game: B matches as integer numpy arrays, one :meth:`MobaGame.step` for all.

The rules are in :mod:`.rules` (module docstring). Invariants:

* no Python loop over matches: every operation acts on whole ``(B, ...)`` arrays; the small loops in
  :meth:`MobaGame.step` run over lanes (3), teams (2), structure tiers (3) or heroes (6);
* all game quantities are integers and every random number is a counter-based hash of
  (match seed, match step, hero, purpose) (:func:`hash_uniform`), so match ``i`` of a batch follows exactly the
  trajectory it would follow alone with the same seed and actions (tested in ``tests/test_moba_game.py``);
* stepping a finished match leaves it unchanged (its rewards are zero) until :meth:`MobaGame.reset` refills it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rules as R

_U = np.uint64
_TEAM = np.array(R.TEAM_OF_HERO)
_ENEMY = 1 - _TEAM
_FWD = np.array([R.FORWARD[t] for t in R.TEAM_OF_HERO])
_BASE_OF_HERO = np.array([R.BASE_POS[t] for t in R.TEAM_OF_HERO])
_OUTER_OF_HERO = np.array([R.TOWER_POS[t][0] for t in R.TEAM_OF_HERO])
_OPPOSED = _TEAM[:, None] != _TEAM[None, :]
_FAR = 10**6
_NEVER = -10**6

# hash streams ("purpose"): damage noise, persona decisions, enemy decisions
STREAM_DAMAGE, STREAM_HUMAN, STREAM_ENEMY, STREAM_ALLY = 1, 2, 3, 4


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
    return x ^ (x >> _U(31))


def hash_u64(seed: np.ndarray, step: np.ndarray, stream: int, hero: np.ndarray | None = None) -> np.ndarray:
    """A uint64 hash of (seed, step, stream, hero) per match; ``hero`` broadcasts to ``(B, H)``."""
    x = _mix(seed.astype(_U) * _U(0x9E3779B97F4A7C15) + step.astype(_U))
    x = _mix(x ^ _U((stream * 0x632BE59BD9B4E019) % 2**64))
    if hero is not None:
        x = _mix(x[:, None] + (np.asarray(hero, dtype=_U) + _U(1)) * _U(0xD1B54A32D192ED03))
    return x


def hash_uniform(seed: np.ndarray, step: np.ndarray, stream: int, hero: np.ndarray | None = None) -> np.ndarray:
    """Uniform floats in [0, 1) from :func:`hash_u64` (53 bits)."""
    return (hash_u64(seed, step, stream, hero) >> _U(11)).astype(np.float64) * 2.0**-53


def derive_seeds(seed: int, index: np.ndarray, episode: np.ndarray) -> np.ndarray:
    """Match seeds for slot ``index``'s ``episode``-th match of a run seeded ``seed`` (uint64 array)."""
    base = np.full(np.shape(index), seed % 2**63, dtype=_U)
    return hash_u64(base, np.asarray(index, dtype=_U) * _U(1 << 32) + np.asarray(episode, dtype=_U), 99)


@dataclass
class StepResult:
    """What one :meth:`MobaGame.step` returns, all arrays over the B matches.

    ``task_reward``: the ally team's reward (see :mod:`.rules`); ``human_goals``: increments of the human's
    kills, gold, towers (structures destroyed) and deaths this step; ``human_goal_reward``: ``(B, 4)`` in the order
    of ``rules.GOALS`` with deaths negated; ``terminated``: the match ended this step; ``outcome``: +1/-1/0 for the
    ally team where ``terminated`` (0 elsewhere)."""

    task_reward: np.ndarray
    human_goals: dict[str, np.ndarray]
    human_goal_reward: np.ndarray
    terminated: np.ndarray
    outcome: np.ndarray


class MobaGame:
    """B matches of the three-lane game. Arrays (B = ``num_matches``, H = 6 heroes, lanes 3, teams 2):

    ``lane, pos, hp, xp, gold, kills, deaths, assists, towers, respawn, busy`` (B, H); ``damage_pct`` (B, H) the
    heroes' damage multipliers in percent (the human's is set from a persona's skill);
    ``wave_hp, wave_front`` (B, 3, 2); ``tower_hp`` (B, 3, 2, 2) [lane, team, tier (outer, inner)];
    ``base_hp`` (B, 2); ``t`` (B,) steps played; ``done`` (B,); ``outcome`` (B,) ally +1 / -1 / 0.
    """

    STATE = ("seed", "t", "done", "outcome", "lane", "pos", "hp", "xp", "gold", "kills", "deaths", "assists",
             "towers", "respawn", "busy", "busy_lane", "busy_pos", "busy_heal", "last_hit", "wave_hp", "wave_front",
             "tower_hp", "base_hp", "last_action", "damage_pct")

    def __init__(self, num_matches: int, max_steps: int = R.MAX_STEPS):
        self.B = int(num_matches)
        self.max_steps = int(max_steps)
        B, H = self.B, R.NUM_HEROES
        i64 = np.int64
        self.seed = np.zeros(B, dtype=_U)
        self.t = np.zeros(B, i64)
        self.done = np.ones(B, bool)
        self.outcome = np.zeros(B, i64)
        self.lane = np.zeros((B, H), i64)
        self.pos = np.zeros((B, H), i64)
        self.hp = np.zeros((B, H), i64)
        self.xp = np.zeros((B, H), i64)
        self.gold = np.zeros((B, H), i64)
        self.kills = np.zeros((B, H), i64)
        self.deaths = np.zeros((B, H), i64)
        self.assists = np.zeros((B, H), i64)
        self.towers = np.zeros((B, H), i64)
        self.respawn = np.zeros((B, H), i64)
        self.busy = np.zeros((B, H), i64)
        self.busy_lane = np.zeros((B, H), i64)
        self.busy_pos = np.zeros((B, H), i64)
        self.busy_heal = np.zeros((B, H), bool)
        self.last_hit = np.full((B, H, H), _NEVER, i64)  # [victim, attacker] step of the last hit
        self.wave_hp = np.zeros((B, R.NUM_LANES, 2), i64)
        self.wave_front = np.zeros((B, R.NUM_LANES, 2), i64)
        self.tower_hp = np.zeros((B, R.NUM_LANES, 2, 2), i64)
        self.base_hp = np.zeros((B, 2), i64)
        self.last_action = np.zeros((B, H), i64)
        self.damage_pct = np.full((B, H), 100, i64)
        self._ar = np.arange(B)

    # ----------------------------------------------------------------- state
    def reset(self, seeds, mask: np.ndarray | None = None) -> None:
        """Start new matches with ``seeds`` (uint64 array over B, or over the ``mask``ed matches)."""
        m = np.ones(self.B, bool) if mask is None else np.asarray(mask, bool)
        seeds = np.asarray(seeds).astype(_U)
        self.seed[m] = seeds if seeds.shape == (int(m.sum()),) else seeds[m]
        self.t[m] = 0
        self.done[m] = False
        self.outcome[m] = 0
        self.lane[m] = [1, 0, 2, 1, 0, 2]  # human mid, agents top/bot, enemies mirrored
        self.pos[m] = _BASE_OF_HERO
        self.xp[m] = 0
        self.hp[m] = R.HERO_HP
        for name in ("gold", "kills", "deaths", "assists", "towers", "respawn", "busy", "busy_lane", "busy_pos",
                     "last_action"):
            getattr(self, name)[m] = 0
        self.busy_heal[m] = False
        self.last_hit[m] = _NEVER
        self.tower_hp[m] = R.TOWER_HP
        self.base_hp[m] = R.BASE_HP
        self.wave_hp[m] = R.WAVE_SIZE * R.MINION_HP
        self.wave_front[m] = np.array(R.BASE_POS)[None, None, :]

    def snapshot(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Copies of the state arrays (of the ``mask``ed matches)."""
        return {k: (getattr(self, k) if mask is None else getattr(self, k)[mask]).copy() for k in self.STATE}

    def _restore(self, snap: dict[str, np.ndarray], mask: np.ndarray) -> None:
        for k, v in snap.items():
            getattr(self, k)[mask] = v

    def level(self) -> np.ndarray:
        return np.minimum(1 + self.xp // R.XP_PER_LEVEL, R.MAX_LEVEL)

    def max_hp(self) -> np.ndarray:
        return R.HERO_HP + R.HERO_HP_PER_LEVEL * (self.level() - 1)

    def on_map(self) -> np.ndarray:
        return (self.respawn == 0) & (self.busy == 0)

    def frontier(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per (B, lane, defending team): tier (0 outer, 1 inner, 2 base), position and hp of the frontier."""
        tier = (self.tower_hp <= 0).sum(axis=3)
        pos_table = np.array([[R.TOWER_POS[t][0], R.TOWER_POS[t][1], R.BASE_POS[t]] for t in range(2)])
        fpos = pos_table[np.arange(2)[None, None, :], tier]
        base = np.broadcast_to(self.base_hp[:, None, :], tier.shape)
        fhp = np.where(tier == 0, self.tower_hp[..., 0], np.where(tier == 1, self.tower_hp[..., 1], base))
        return tier, fpos, fhp

    def structures_lost(self) -> np.ndarray:
        """(B, 2): structures each team has lost (towers and base)."""
        return (self.tower_hp <= 0).sum(axis=(1, 3)) + (self.base_hp <= 0)

    def hero_view(self) -> dict[str, np.ndarray]:
        """Per hero (B, H) facts that policies use: nearest enemy hero in lane and its distance, the enemy wave of
        the lane (hp, distance), the enemy frontier structure (distance), the friendly wave hp, on-map flags."""
        ar = self._ar[:, None]
        on = self.on_map()
        same = (self.lane[:, :, None] == self.lane[:, None, :]) & _OPPOSED[None] & on[:, :, None] & on[:, None, :]
        dist = np.where(same, np.abs(self.pos[:, :, None] - self.pos[:, None, :]), _FAR)
        nearest = dist.argmin(axis=2)
        ndist = np.take_along_axis(dist, nearest[..., None], axis=2)[..., 0]
        whp = self.wave_hp[ar, self.lane, _ENEMY[None, :]]
        wfront = self.wave_front[ar, self.lane, _ENEMY[None, :]]
        own_whp = self.wave_hp[ar, self.lane, _TEAM[None, :]]
        own_wfront = self.wave_front[ar, self.lane, _TEAM[None, :]]
        _, fpos, fhp = self.frontier()
        sfront = fpos[ar, self.lane, _ENEMY[None, :]]
        return dict(on=on, nearest=nearest, hero_dist=ndist, enemy_wave_hp=whp, enemy_wave_front=wfront,
                    wave_dist=np.where(whp > 0, np.abs(self.pos - wfront), _FAR), own_wave_hp=own_whp,
                    own_wave_front=own_wfront, struct_pos=sfront, struct_dist=np.abs(self.pos - sfront),
                    struct_hp=fhp[ar, self.lane, _ENEMY[None, :]], dist_matrix=dist)

    # ------------------------------------------------------------------ step
    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every unfinished match by one step with ``actions`` (B, 6) ints in [0, 10)."""
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (self.B, R.NUM_HEROES):
            raise ValueError(f"actions must have shape {(self.B, R.NUM_HEROES)}, got {actions.shape}")
        if actions.size and (actions.min() < 0 or actions.max() >= R.NUM_ACTIONS):
            raise ValueError(f"actions must be in [0, {R.NUM_ACTIONS}), got {actions.min()}..{actions.max()}")
        frozen = self.done.copy()
        snap = self.snapshot(frozen) if frozen.any() else None
        B, H, ar = self.B, R.NUM_HEROES, self._ar
        arc = ar[:, None]
        v = self.hero_view()
        on = v["on"]
        lvl = self.level()
        gold0 = self.gold.copy()
        kills0, deaths0, towers0 = self.kills[:, 0].copy(), self.deaths[:, 0].copy(), self.towers[:, 0].copy()
        lost0 = self.structures_lost()
        self.last_action = np.where(on, actions, self.last_action)

        a = np.where(on, actions, -1)
        noise = (100 - R.NOISE_PCT + (hash_u64(self.seed, self.t, STREAM_DAMAGE, np.arange(H))
                                     % _U(2 * R.NOISE_PCT + 1)).astype(np.int64))
        mult = self.damage_pct * noise  # percent * percent

        # --- resolve FOLLOW into the other actions' effects
        human_on = on[:, 0:1]
        follow = (a == R.FOLLOW) & (_TEAM == 0)[None] & (np.arange(H) != R.HUMAN)[None] & human_on
        other_lane = follow & (self.lane != self.lane[:, 0:1])
        far = follow & ~other_lane & (np.abs(self.pos - self.pos[:, 0:1]) > R.HERO_SPEED)
        near = follow & ~other_lane & ~far

        hero_in = v["hero_dist"] <= R.ATTACK_RANGE
        wave_in = v["wave_dist"] <= R.ATTACK_RANGE
        struct_in = v["struct_dist"] <= R.ATTACK_RANGE
        hit_hero = ((a == R.ATTACK_HERO) | near) & hero_in
        hit_wave = ((a == R.FARM) | (near & ~hero_in)) & wave_in
        hit_struct = (a == R.ATTACK_TOWER) & struct_in

        # --- movement targets
        step_fwd = self.pos + _FWD * R.HERO_SPEED
        has_enemy = v["hero_dist"] < _FAR
        enemy_pos = np.take_along_axis(self.pos, v["nearest"], axis=1)
        tgt = self.pos.copy()
        tgt = np.where((a == R.FARM) & ~wave_in, np.where(v["enemy_wave_hp"] > 0, v["enemy_wave_front"], step_fwd),
                       tgt)
        tgt = np.where((a == R.ATTACK_HERO) & ~hero_in, np.where(has_enemy, enemy_pos, step_fwd), tgt)
        tgt = np.where((a == R.ATTACK_TOWER) & ~struct_in, v["struct_pos"], tgt)
        tgt = np.where(a == R.ADVANCE, step_fwd, tgt)
        tgt = np.where(a == R.RETREAT, self.pos - _FWD * R.HERO_SPEED, tgt)
        tgt = np.where(far, self.pos[:, 0:1], tgt)
        new_pos = np.clip(self.pos + np.clip(tgt - self.pos, -R.HERO_SPEED, R.HERO_SPEED), 0, R.LANE_LENGTH)

        # --- travel (lane change, recall)
        want_lane = a - R.TOP
        lane_move = (a >= R.TOP) & (a <= R.BOT) & (want_lane != self.lane)
        recall = a == R.RECALL
        travel = lane_move | other_lane | recall
        t_lane = np.where(other_lane, self.lane[:, 0:1], np.where(lane_move, want_lane, self.lane))
        t_pos = np.where(other_lane, self.pos[:, 0:1], np.where(recall, _BASE_OF_HERO, _OUTER_OF_HERO))
        t_steps = np.where(recall, R.RECALL_STEPS, R.LANE_CHANGE_STEPS)

        # --- hero damage
        hero_out = np.where(hit_hero, (R.HERO_DMG + R.HERO_DMG_PER_LEVEL * (lvl - 1)) * mult // 10000, 0)
        dmgmat = np.zeros((B, H, H), np.int64)  # [victim, attacker]
        dmgmat[arc, v["nearest"], np.arange(H)[None, :]] = hero_out
        env_dmg = np.zeros((B, H), np.int64)  # towers and minions
        wave_dmg = np.zeros((B, R.NUM_LANES, 2), np.int64)
        struct_dmg = np.zeros((B, R.NUM_LANES, 2), np.int64)
        farm_out = np.where(hit_wave, R.HERO_MINION_DMG * mult // 10000, 0)
        farm_gain = np.minimum(farm_out, v["enemy_wave_hp"])
        tier, fpos, fhp = self.frontier()
        own_wave_near = (v["own_wave_hp"] > 0) & (np.abs(v["own_wave_front"] - v["struct_pos"]) <= R.TOWER_RANGE)
        struct_out = np.where(hit_struct, R.HERO_STRUCT_DMG * mult // 10000, 0)
        struct_out = np.where(own_wave_near, struct_out, struct_out * R.BACKDOOR_PCT // 100)
        for h in range(H):
            wave_dmg[ar, self.lane[:, h], _ENEMY[h]] += farm_out[:, h]
            struct_dmg[ar, self.lane[:, h], _ENEMY[h]] += struct_out[:, h]

        # --- structures shoot
        team_heroes = (np.arange(0, 3), np.arange(3, 6))
        for lane in range(R.NUM_LANES):
            for d in range(2):
                e = 1 - d
                eh = team_heroes[e]
                hero_d = np.where(on[:, eh] & (self.lane[:, eh] == lane), self.pos[:, eh], _FAR)
                wave_alive = self.wave_hp[:, lane, e] > 0
                for k in range(3):
                    spos = R.TOWER_POS[d][k] if k < 2 else R.BASE_POS[d]
                    alive = self.tower_hp[:, lane, d, k] > 0 if k < 2 else self.base_hp[:, d] > 0
                    wave_target = alive & wave_alive & (np.abs(self.wave_front[:, lane, e] - spos) <= R.TOWER_RANGE)
                    wave_dmg[:, lane, e] += np.where(wave_target, R.TOWER_MINION_DMG, 0)
                    dist = np.abs(hero_d - spos)
                    j = dist.argmin(axis=1)
                    hit = alive & ~wave_target & (dist[ar, j] <= R.TOWER_RANGE)
                    env_dmg[ar, eh[j]] += np.where(hit, R.TOWER_HERO_DMG, 0)

        # --- minion waves: fight, siege, hit heroes, or walk
        new_front = self.wave_front.copy()
        for lane in range(R.NUM_LANES):
            f0, f1 = self.wave_front[:, lane, 0], self.wave_front[:, lane, 1]
            engaged = (self.wave_hp[:, lane, 0] > 0) & (self.wave_hp[:, lane, 1] > 0) & (f1 - f0 <= R.MINION_RANGE)
            for tm in range(2):
                e = 1 - tm
                whp = self.wave_hp[:, lane, tm]
                f = self.wave_front[:, lane, tm]
                fe = self.wave_front[:, lane, e]
                cnt = (whp + R.MINION_HP - 1) // R.MINION_HP
                alive = whp > 0
                wave_dmg[:, lane, e] += np.where(engaged, cnt * R.MINION_DMG, 0)
                sp = fpos[:, lane, e]
                siege = alive & ~engaged & (np.abs(sp - f) <= R.MINION_RANGE)
                struct_dmg[:, lane, e] += np.where(siege, cnt * R.MINION_STRUCT_DMG, 0)
                eh = team_heroes[e]
                hero_d = np.abs(np.where(on[:, eh] & (self.lane[:, eh] == lane), self.pos[:, eh], _FAR) - f[:, None])
                j = hero_d.argmin(axis=1)
                hit = alive & ~engaged & ~siege & (hero_d[ar, j] <= R.MINION_RANGE)
                env_dmg[ar, eh[j]] += np.where(hit, cnt * R.MINION_HERO_DMG, 0)
                walk = alive & ~engaged & ~siege & ~hit
                fwd = R.FORWARD[tm]
                stop = sp - fwd * R.MINION_RANGE
                stop = np.where(self.wave_hp[:, lane, e] > 0,
                                np.where(fwd > 0, np.minimum(stop, fe - R.MINION_RANGE),
                                         np.maximum(stop, fe + R.MINION_RANGE)), stop)
                moved = f + fwd * R.MINION_SPEED
                moved = np.minimum(moved, np.maximum(stop, f)) if fwd > 0 else np.maximum(moved, np.minimum(stop, f))
                new_front[:, lane, tm] = np.where(walk, moved, f)

        # --- apply hero damage, deaths, kill credit
        taken = dmgmat.sum(axis=2) + env_dmg
        hp = self.hp - taken
        self.last_hit = np.where(dmgmat > 0, self.t[:, None, None], self.last_hit)
        died = on & (hp <= 0)
        step_max = dmgmat.max(axis=2)
        recent = self.last_hit >= (self.t - R.ASSIST_WINDOW)[:, None, None]
        killer = np.where(step_max > 0, dmgmat.argmax(axis=2), self.last_hit.argmax(axis=2))
        has_killer = died & recent.any(axis=2)
        kill_hot = (np.arange(H)[None, None, :] == killer[..., None]) & has_killer[..., None]
        assist_hot = recent & ~kill_hot & died[..., None]
        new_kills = kill_hot.sum(axis=1)
        new_assists = assist_hot.sum(axis=1)
        self.kills += new_kills
        self.assists += new_assists
        self.deaths += died
        self.gold += R.KILL_GOLD * new_kills + R.ASSIST_GOLD * new_assists
        self.xp += R.KILL_XP * new_kills
        self.last_hit[died] = _NEVER

        # --- structures: damage, destruction, credit
        destroyed = (fhp > 0) & (fhp - struct_dmg <= 0)
        for k in range(2):
            self.tower_hp[..., k] = np.maximum(self.tower_hp[..., k] - np.where(tier == k, struct_dmg, 0), 0)
        self.base_hp = np.maximum(self.base_hp - np.where(tier == 2, struct_dmg, 0).sum(axis=1), 0)
        dest_h = destroyed[arc, self.lane, _ENEMY[None, :]] & hit_struct
        group = (self.lane[:, :, None] == self.lane[:, None, :]) & ~_OPPOSED[None] & hit_struct[:, None, :]
        so_h, so_g = struct_out[:, :, None], struct_out[:, None, :]
        lower = np.arange(H)[None, :] < np.arange(H)[:, None]
        beaten = group & ((so_g > so_h) | ((so_g == so_h) & lower[None]))
        credited = dest_h & ~beaten.any(axis=2)
        self.towers += credited
        self.gold += R.TOWER_GOLD * credited
        lost = self.structures_lost() - lost0  # (B, 2) lost this step
        self.gold += R.TOWER_TEAM_GOLD * lost[:, _ENEMY]

        # --- minions
        self.wave_hp = np.maximum(self.wave_hp - wave_dmg, 0)
        self.wave_front = new_front

        # --- heroes: move, travel, farm income, passive income, level, regen, timers
        self.gold += farm_gain * R.MINION_GOLD // 100 + R.PASSIVE_GOLD * on
        self.xp += farm_gain * R.MINION_GOLD // 100 + R.PASSIVE_XP * on
        self.pos = np.where(on, new_pos, self.pos)
        start = travel & ~died
        self.busy = np.where(start, t_steps, self.busy)
        self.busy_lane = np.where(start, t_lane, self.busy_lane)
        self.busy_pos = np.where(start, t_pos, self.busy_pos)
        self.busy_heal = np.where(start, recall, self.busy_heal)
        mhp = self.max_hp()
        regen = np.where(np.abs(self.pos - _BASE_OF_HERO) <= R.BASE_RADIUS, R.BASE_REGEN, R.REGEN)
        hp = np.where(on & ~died, np.minimum(hp + regen, mhp), hp)
        self.respawn = np.where(died, R.RESPAWN_BASE + R.RESPAWN_PER_LEVEL * lvl, self.respawn)
        self.busy = np.where(died, 0, self.busy)
        self.pos = np.where(died, _BASE_OF_HERO, self.pos)
        self.hp = np.where(died, 0, hp)
        # timers
        waiting = ~start & ~died
        back = waiting & (self.respawn == 1)
        self.respawn = np.where(waiting & (self.respawn > 0), self.respawn - 1, self.respawn)
        self.hp = np.where(back, mhp, self.hp)
        self.pos = np.where(back, _BASE_OF_HERO, self.pos)
        arrive = waiting & (self.busy == 1)
        self.busy = np.where(waiting & (self.busy > 0), self.busy - 1, self.busy)
        self.lane = np.where(arrive, self.busy_lane, self.lane)
        self.pos = np.where(arrive, self.busy_pos, self.pos)
        self.hp = np.where(arrive & self.busy_heal, mhp, self.hp)

        # --- clock, waves, end of match
        self.t = self.t + 1
        spawn = (self.t % R.WAVE_INTERVAL == 0)[:, None, None]
        fresh = spawn & (self.wave_hp == 0)
        self.wave_front = np.where(fresh, np.array(R.BASE_POS)[None, None, :], self.wave_front)
        self.wave_hp = self.wave_hp + np.where(spawn, R.WAVE_SIZE * R.MINION_HP, 0)

        dead_base = self.base_hp <= 0
        timeout = self.t >= self.max_steps
        ended = dead_base.any(axis=1) | timeout
        lost_all = self.structures_lost()
        team_kills = self.kills[:, :3].sum(axis=1) - self.kills[:, 3:].sum(axis=1)
        team_gold = self.gold[:, :3].sum(axis=1) - self.gold[:, 3:].sum(axis=1)
        score = np.sign(lost_all[:, 1] - lost_all[:, 0])
        score = np.where(score == 0, np.sign(team_kills), score)
        score = np.where(score == 0, np.sign(team_gold), score)
        by_base = np.where(dead_base[:, 0] & dead_base[:, 1], 0, np.where(dead_base[:, 1], 1, -1))
        outcome = np.where(ended, np.where(dead_base.any(axis=1), by_base, score), 0)
        self.outcome = np.where(ended, outcome, self.outcome)
        self.done = self.done | ended

        if snap is not None:
            self._restore(snap, frozen)
        live = ~frozen
        ally_gold = (self.gold[:, :3] - gold0[:, :3]).sum(axis=1)
        reward = (R.REWARD_STRUCT * (lost[:, 1] - lost[:, 0]) + R.REWARD_GOLD * ally_gold
                  + R.REWARD_WIN * outcome) * live
        goals = {"kills": (self.kills[:, 0] - kills0) * live, "gold": (self.gold[:, 0] - gold0[:, 0]) * live,
                 "towers": (self.towers[:, 0] - towers0) * live, "deaths": (self.deaths[:, 0] - deaths0) * live}
        goal_reward = np.stack([goals["kills"], goals["gold"], goals["towers"], -goals["deaths"]], axis=1)
        return StepResult(reward.astype(np.float64), goals, goal_reward.astype(np.float64), ended & live,
                          outcome * live)

    # ---------------------------------------------------------------- output
    def metrics(self) -> dict[str, np.ndarray]:
        """Per-match metrics (B,): the human's kills/gold/towers/deaths/assists, team totals, outcome, steps."""
        lost = self.structures_lost()
        return {"human_kills": self.kills[:, 0].copy(), "human_gold": self.gold[:, 0].copy(),
                "human_towers": self.towers[:, 0].copy(), "human_deaths": self.deaths[:, 0].copy(),
                "human_assists": self.assists[:, 0].copy(),
                "ally_kills": self.kills[:, :3].sum(axis=1), "enemy_kills": self.kills[:, 3:].sum(axis=1),
                "ally_gold": self.gold[:, :3].sum(axis=1), "enemy_gold": self.gold[:, 3:].sum(axis=1),
                "enemy_structures_destroyed": lost[:, 1], "ally_structures_lost": lost[:, 0],
                "outcome": self.outcome.copy(), "steps": self.t.copy()}

    def render_text(self, i: int) -> str:
        """An ASCII picture of match ``i``: one row per lane (ally base ``[`` left, enemy base ``]`` right; towers
        ``T``/``E`` (``x`` destroyed); minion waves ``>``/``<``; heroes H (human), a b (agents), 1 2 3 (enemies))
        and one status line per hero."""
        width = 51
        col = lambda p: int(p) * (width - 1) // R.LANE_LENGTH  # noqa: E731
        names = "Hab123"
        lines = [f"match {i}  step {self.t[i]}/{self.max_steps}  base hp ally {self.base_hp[i, 0]} "
                 f"enemy {self.base_hp[i, 1]}" + (f"  FINISHED outcome {self.outcome[i]:+d}" if self.done[i] else "")]
        for lane in range(R.NUM_LANES):
            row = ["-"] * width
            row[0], row[-1] = "[", "]"
            for tm, mark in ((0, "T"), (1, "E")):
                for k in range(2):
                    row[col(R.TOWER_POS[tm][k])] = mark if self.tower_hp[i, lane, tm, k] > 0 else "x"
            for tm, mark in ((0, ">"), (1, "<")):
                if self.wave_hp[i, lane, tm] > 0:
                    row[col(self.wave_front[i, lane, tm])] = mark
            for h in range(R.NUM_HEROES):
                if self.respawn[i, h] == 0 and self.busy[i, h] == 0 and self.lane[i, h] == lane:
                    row[col(self.pos[i, h])] = names[h]
            ally_n, enemy_n = -(-self.wave_hp[i, lane] // R.MINION_HP)
            waves = f"minions {ally_n}v{enemy_n}"
            lines.append(f"{R.LANE_NAMES[lane]:>3} {''.join(row)}  {waves}")
        for h in range(R.NUM_HEROES):
            state = ("dead %d" % self.respawn[i, h] if self.respawn[i, h] else
                     "travel %d" % self.busy[i, h] if self.busy[i, h] else
                     f"{R.LANE_NAMES[self.lane[i, h]]}@{self.pos[i, h]}")
            lines.append(f"  {names[h]} hp {self.hp[i, h]:4d} lv {self.level()[i, h]:2d} gold {self.gold[i, h]:5d} "
                         f"K/D/A {self.kills[i, h]}/{self.deaths[i, h]}/{self.assists[i, h]} "
                         f"towers {self.towers[i, h]}  {state}  last {R.ACTION_NAMES[self.last_action[i, h]]}")
        return "\n".join(lines)
