"""The vectorised MOBA game (simulators/moba): rules in exact numbers, batch-vs-single equivalence, personas, env."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.moba import rules as R
from simulators.moba.enemy import default_ally_policy, enemy_policy
from simulators.moba.game import STREAM_DAMAGE, MobaGame, hash_u64
from simulators.moba.humans import PERSONAS

STAND = R.FOLLOW  # FOLLOW is "stand still" for the human and the enemy heroes


def quiet_game(seed: int = 7, max_steps: int = R.MAX_STEPS) -> MobaGame:
    """One match at step 1 with no minions and every hero off the map except what a test places."""
    g = MobaGame(1, max_steps)
    g.reset(np.array([seed]))
    g.t[:] = 1  # no wave spawns on the next step (spawns when t % WAVE_INTERVAL == 0 after the step)
    g.wave_hp[:] = 0
    g.respawn[:] = 50  # everyone dead (off the map) unless placed
    return g


def place(g: MobaGame, hero: int, lane: int, pos: int) -> None:
    g.respawn[0, hero], g.lane[0, hero], g.pos[0, hero], g.hp[0, hero] = 0, lane, pos, R.HERO_HP


def noise(g: MobaGame, hero: int) -> int:
    h = hash_u64(g.seed, g.t, STREAM_DAMAGE, np.arange(R.NUM_HEROES))[0, hero]
    return 100 - R.NOISE_PCT + int(h % np.uint64(2 * R.NOISE_PCT + 1))


def act(**by_hero: int) -> np.ndarray:
    a = np.full((1, R.NUM_HEROES), STAND)
    for k, v in by_hero.items():
        a[0, int(k[1:])] = v
    return a


def test_hero_damage_is_exact():
    g = quiet_game()
    place(g, 0, 1, 50)
    place(g, 3, 1, 53)
    g.damage_pct[0, 0] = 130
    expected = R.HERO_DMG * 130 * noise(g, 0) // 10000
    g.step(act(h0=R.ATTACK_HERO))
    assert g.hp[0, 3] == R.HERO_HP - expected + R.REGEN
    assert g.hp[0, 0] == R.HERO_HP  # the enemy stood still
    assert g.last_hit[0, 3, 0] == 1


def test_farming_gold_and_kill_credit():
    g = quiet_game()
    place(g, 0, 1, 50)
    g.wave_hp[0, 1, 1], g.wave_front[0, 1, 1] = 400, 53
    gold0 = g.gold[0, 0]
    dealt = R.HERO_MINION_DMG * 100 * noise(g, 0) // 10000
    res = g.step(act(h0=R.FARM))  # the wave front is 3 > MINION_RANGE away: it walks, it does not hit
    assert g.gold[0, 0] - gold0 == dealt * R.MINION_GOLD // 100 + R.PASSIVE_GOLD
    assert res.human_goals["gold"][0] == g.gold[0, 0] - gold0
    assert g.wave_hp[0, 1, 1] == 400 - dealt

    g = quiet_game()
    place(g, 0, 1, 50)
    place(g, 3, 1, 52)
    g.hp[0, 3] = 10
    res = g.step(act(h0=R.ATTACK_HERO))
    assert (g.kills[0, 0], g.deaths[0, 3], g.respawn[0, 3] > 0) == (1, 1, True)
    assert res.human_goals["kills"][0] == 1 and res.human_goal_reward[0, 0] == 1
    assert g.pos[0, 3] == R.LANE_LENGTH  # sent back to its base


def test_tower_destroyed_with_credit_and_backdoor_protection():
    g = quiet_game()
    place(g, 0, 1, 62)
    g.tower_hp[0, 1, 1, 0] = 1000
    full = R.HERO_STRUCT_DMG * 100 * noise(g, 0) // 10000
    g.step(act(h0=R.ATTACK_TOWER))  # no friendly minions near the tower: backdoor protection
    assert g.tower_hp[0, 1, 1, 0] == 1000 - full * R.BACKDOOR_PCT // 100
    assert g.hp[0, 0] == R.HERO_HP - R.TOWER_HERO_DMG + R.REGEN  # and the tower shoots the hero

    g = quiet_game()
    place(g, 0, 1, 62)
    g.wave_hp[0, 1, 0], g.wave_front[0, 1, 0] = 100, 60  # friendly minion near the tower (not yet sieging)
    g.tower_hp[0, 1, 1, 0] = 10
    gold0 = g.gold[0].copy()
    res = g.step(act(h0=R.ATTACK_TOWER))
    assert g.tower_hp[0, 1, 1, 0] == 0 and g.towers[0, 0] == 1
    assert g.gold[0, 0] - gold0[0] >= R.TOWER_GOLD + R.TOWER_TEAM_GOLD
    assert res.human_goals["towers"][0] == 1
    assert res.task_reward[0] >= R.REWARD_STRUCT
    tier, fpos, _ = g.frontier()
    assert tier[0, 1, 1] == 1 and fpos[0, 1, 1] == R.TOWER_POS[1][1]  # the inner tower is now the frontier


def test_match_ends_when_a_base_falls_or_time_runs_out():
    g = quiet_game()
    place(g, 0, 1, 97)
    g.tower_hp[0, 1, 1, :] = 0
    g.base_hp[0, 1] = 5
    res = g.step(act(h0=R.ATTACK_TOWER))
    assert res.terminated[0] and res.outcome[0] == 1 and g.done[0]
    assert res.task_reward[0] >= R.REWARD_WIN
    # a finished match is frozen
    before = g.snapshot()
    res = g.step(act(h0=R.ADVANCE))
    assert not res.terminated[0] and res.task_reward[0] == 0
    assert all(np.array_equal(before[k], v) for k, v in g.snapshot().items())

    g = MobaGame(2, max_steps=5)
    g.reset(np.array([1, 2]))
    ended = [g.step(R.TOP + g.lane).terminated.copy() for _ in range(5)]  # everyone stands in its own lane
    assert not np.any(ended[:4]) and ended[4].all()
    assert (g.outcome == 0).all()  # identical standing teams: draw by score


def test_bad_actions_fail_with_a_message():
    g = MobaGame(2)
    g.reset(np.array([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        g.step(np.zeros((1, R.NUM_HEROES), np.int64))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        g.step(np.full((2, R.NUM_HEROES), R.NUM_ACTIONS))


def play(game: MobaGame, persona: str, steps: int) -> list[dict]:
    human, ally, enemy = PERSONAS[persona], default_ally_policy(), enemy_policy()
    game.damage_pct[:, 0] = human.damage_pct
    trace = []
    for _ in range(steps):
        view = game.hero_view()
        a = np.empty((game.B, R.NUM_HEROES), np.int64)
        a[:, 0], a[:, 1:3], a[:, 3:] = human.act(game, view), ally.act(game, view), enemy.act(game, view)
        res = game.step(a)
        trace.append({**game.snapshot(), "reward": res.task_reward.copy(), "goal": res.human_goal_reward.copy()})
    return trace


def test_batch_equals_matches_run_one_at_a_time():
    seeds = np.array([3, 11, 12, 99, 2**40 + 5])
    batch = play(_reset(MobaGame(len(seeds), max_steps=120), seeds), "allrounder-low", 140)
    for i, s in enumerate(seeds):
        alone = play(_reset(MobaGame(1, max_steps=120), seeds[i:i + 1]), "allrounder-low", 140)
        for t, (b, a) in enumerate(zip(batch, alone)):
            for k in a:
                assert np.array_equal(b[k][i], a[k][0]), (s, t, k)
    assert len({int(x) for x in batch[-1]["kills"].sum(axis=1)}) > 1  # the matches do differ


def test_mixed_personas_act_as_each_would_alone():
    from simulators.moba.humans import PersonaBatch

    names = ["slayer-high", "farmer-low", "pusher-high", "survivor-low"]
    seeds = np.arange(len(names)) + 40
    mixed = PersonaBatch(names)
    g = _reset(MobaGame(len(names)), seeds)
    g.damage_pct[:, 0] = mixed.damage_pct
    alone = [_reset(MobaGame(1), seeds[i:i + 1]) for i in range(len(names))]
    for i, a in enumerate(alone):
        a.damage_pct[:, 0] = PERSONAS[names[i]].damage_pct
    ally, enemy = default_ally_policy(), enemy_policy()
    for _ in range(80):
        v = g.hero_view()
        acts = np.concatenate([mixed.act(g, v)[:, None], ally.act(g, v), enemy.act(g, v)], axis=1)
        for i, a in enumerate(alone):
            va = a.hero_view()
            single = np.concatenate([PERSONAS[names[i]].act(a, va)[:, None], ally.act(a, va), enemy.act(a, va)], 1)
            assert np.array_equal(acts[i], single[0])
            a.step(single)
        g.step(acts)
    assert all(np.array_equal(g.gold[i], a.gold[0]) for i, a in enumerate(alone))


def _reset(g: MobaGame, seeds) -> MobaGame:
    g.reset(seeds)
    return g


def metrics_for(persona: str, n: int = 64) -> dict[str, np.ndarray]:
    g = MobaGame(n)
    g.reset(np.arange(n) + 500)
    play_until_done(g, persona)
    return g.metrics()


def play_until_done(g: MobaGame, persona: str) -> None:
    human, ally, enemy = PERSONAS[persona], default_ally_policy(), enemy_policy()
    g.damage_pct[:, 0] = human.damage_pct
    while not g.done.all():
        view = g.hero_view()
        a = np.empty((g.B, R.NUM_HEROES), np.int64)
        a[:, 0], a[:, 1:3], a[:, 3:] = human.act(g, view), ally.act(g, view), enemy.act(g, view)
        g.step(a)


@pytest.fixture(scope="module")
def persona_metrics() -> dict[str, dict[str, np.ndarray]]:
    return {p: metrics_for(p) for p in ("slayer-high", "farmer-high", "pusher-high", "survivor-high",
                                        "allrounder-high", "allrounder-low")}


def test_personas_pursue_their_goals(persona_metrics):
    m = {p: {k: float(v.mean()) for k, v in d.items()} for p, d in persona_metrics.items()}
    assert m["slayer-high"]["human_kills"] > 2 * m["farmer-high"]["human_kills"] + 0.5
    assert m["farmer-high"]["human_gold"] > m["slayer-high"]["human_gold"]
    assert m["pusher-high"]["human_towers"] > m["farmer-high"]["human_towers"] + 0.3
    assert m["survivor-high"]["human_deaths"] < 0.5 * m["farmer-high"]["human_deaths"]
    # skill matters: a skilled partner wins more often
    assert m["allrounder-high"]["outcome"] > m["allrounder-low"]["outcome"]


def test_default_allies_against_scripted_enemy_are_not_trivial(persona_metrics):
    for p in ("allrounder-high", "farmer-high", "allrounder-low"):
        win = float((persona_metrics[p]["outcome"] == 1).mean())
        assert 0.05 < win < 0.95, (p, win)
    steps = np.concatenate([d["steps"] for d in persona_metrics.values()])
    assert (steps < R.MAX_STEPS).any()  # some matches end by a base


def test_vector_env_api_autoreset_human_override_and_gating():
    gym = pytest.importorskip("gymnasium")
    from simulators.moba.vector_env import HUMAN_SLICE, OBS_DIM, MobaVectorEnv, human_obs_mask

    with pytest.raises(ValueError, match="2 personas for 3"):
        MobaVectorEnv(3, persona=["farmer-low", "slayer-high"])
    mixed = MobaVectorEnv(2, persona=["farmer-low", "slayer-high"], seed=1)
    mixed.reset()
    assert mixed.game.damage_pct[:, 0].tolist() == [70, 130] and mixed.persona.names[1] == "slayer-high"
    env = MobaVectorEnv(3, persona="farmer-low", seed=5, max_steps=20)
    assert isinstance(env.single_action_space, gym.spaces.MultiDiscrete)
    obs, info = env.reset(seed=5)
    assert obs.shape == (3, OBS_DIM) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    first_seeds = info["match_seed"].copy()
    ended_at = None
    for t in range(20):
        obs, reward, term, trunc, info = env.step(np.zeros((3, 2), np.int64),
                                                  human_actions=np.array([R.RETREAT, -1, -1]))
        assert info["human_action"][0] == R.RETREAT
        assert set(info["human_goals"]) == {"kills", "gold", "towers", "deaths"}
        assert not trunc.any()
        if term.any():
            ended_at = t
            break
    assert ended_at == 19 and term.all()
    assert info["_final_obs"].all() and info["final_info"]["steps"].tolist() == [20, 20, 20]
    assert np.array_equal(info["final_info"]["match_seed"], first_seeds)
    assert not np.isin(env.game.seed, first_seeds).any()  # new matches, new seeds
    assert (obs[:, 0] == 0).all()  # the returned obs is the new match's first
    gated = MobaVectorEnv(3, persona="farmer-low", seed=5, gate_human=True)
    g_obs, _ = gated.reset(seed=5)
    o, _ = MobaVectorEnv(3, persona="farmer-low", seed=5).reset(seed=5)
    assert (g_obs[:, HUMAN_SLICE] == 0).all() and np.array_equal(g_obs, o * human_obs_mask())
    assert (o[:, HUMAN_SLICE] != 0).any()
    text = env.render_text(1)
    assert all(lane in text for lane in R.LANE_NAMES) and "H hp" in text
