"""Rules and constants of the three-lane MOBA game used for human-gain training (issue 22).

After the setting of Gao et al., "Learning to Enhance Human Gain" (RLHG, ICLR 2024, arXiv 2401.16444): an agent
team plays *with* a human partner whose own goals (kills, gold, towers, survival) the agents may help. The game is
a small, fully integer, vectorised abstraction of a MOBA; every rule below is implemented in :mod:`.game`.

Teams and map
    Ally team = heroes 0, 1, 2 (hero 0 is the human, 1 and 2 the agents); enemy team = heroes 3, 4, 5 (scripted).
    Three lanes (0 top, 1 mid, 2 bot). Each lane is a 1-D integer track from the ally base (position 0) to the
    enemy base (position ``LANE_LENGTH`` = 100). The ally team moves "forward" towards 100, the enemy towards 0.
    Per lane and team there are two towers: ally outer at 35, inner at 15; enemy outer at 65, inner at 85.
    Each team has one base (ally at 0, enemy at 100) shared by the three lanes.

Start
    Human in mid, agents top (hero 1) and bot (hero 2), enemies mid (3), top (4), bot (5), all at their base with
    ``HERO_HP``, level 1, no gold; all structures at full hp; one wave per lane and team already spawned at the bases.

Structures
    A lane's *frontier* structure of a team is its first standing one of (outer, inner, base): only the frontier
    can be damaged, so the base can be hit from a lane once both towers of that lane are down. Towers have
    ``TOWER_HP`` hit points, bases ``BASE_HP``. Every standing structure (each tower, and the base once per lane)
    shoots each step at the enemy minion wave whose front is within ``TOWER_RANGE`` (``TOWER_MINION_DMG``);
    if there is none, at the nearest enemy hero on the map in that lane within range (``TOWER_HERO_DMG``; ties to
    the lower hero index). Heroes damage a structure with ``HERO_STRUCT_DMG`` (scaled by the hero's damage
    multiplier); without a friendly minion wave within ``TOWER_RANGE`` of the structure ("backdoor protection")
    hero damage to it is multiplied by ``BACKDOOR_PCT`` %. A destroyed structure is credited to the attacking
    hero that dealt it the most damage in the destroying step (ties to the lower index; none if only minions hit it),
    who earns ``TOWER_GOLD``; every hero of the destroying team earns ``TOWER_TEAM_GOLD`` (minion kills included).

Minions
    Every ``WAVE_INTERVAL`` steps (including step 0) each team adds a wave of ``WAVE_SIZE`` minions
    (``MINION_HP`` each) per lane. A wave is an aggregate per (match, lane, team): total hp, and front position;
    its count is ``ceil(hp / MINION_HP)``. A new wave starts at its own base; if the lane already has a living
    wave of that team, the reinforcements join it at its front. Each step a wave: (1) if the enemy wave's front is
    within ``MINION_RANGE``, the two fight (each deals ``count * MINION_DMG`` to the other); otherwise (2) if the
    enemy frontier structure is within ``MINION_RANGE``, it hits it (``count * MINION_STRUCT_DMG``); otherwise
    (3) if an enemy hero on the map is within ``MINION_RANGE`` it hits the nearest (``count * MINION_HERO_DMG``);
    otherwise (4) it advances ``MINION_SPEED``, stopping at the enemy wave front or frontier structure.

Heroes
    Each hero has lane, position, hp, xp/level, gold, kills, deaths, assists, structures destroyed, a respawn
    timer and a travel timer. Level = ``min(1 + xp // XP_PER_LEVEL, MAX_LEVEL)``; max hp
    ``HERO_HP + HERO_HP_PER_LEVEL * (level - 1)``; hero-vs-hero damage ``HERO_DMG + HERO_DMG_PER_LEVEL*(level-1)``.
    Every damage a hero deals is multiplied by its damage multiplier (percent; 100 except the human's, which is set
    by the persona's skill: 70 low, 130 high) and by a per-match seeded noise factor in [90, 110] % (integer
    arithmetic: ``base * damage_pct * noise // 10000``). Heroes regenerate ``REGEN`` per step, ``BASE_REGEN``
    within ``BASE_RADIUS`` of their own base. Every hero earns ``PASSIVE_GOLD`` and ``PASSIVE_XP`` per step on
    the map. Farming earns gold ``MINION_GOLD`` per 100 hp of minion damage dealt (xp the same).
    A hero dying (hp <= 0) is credited to the enemy hero that hit it hardest this step, or else to the enemy hero
    that hit it last within ``ASSIST_WINDOW`` steps (none if only towers/minions hit it): ``KILL_GOLD`` and
    ``KILL_XP`` to the killer, ``ASSIST_GOLD`` and an assist to every other enemy hero that hit it within the
    window. The dead hero waits ``RESPAWN_BASE + RESPAWN_PER_LEVEL * level`` steps and respawns at its base, full hp,
    in the same lane. All attacks in a step are resolved on the state at the start of the step (simultaneous).

Actions (same 10 for every hero; a hero that is dead or travelling ignores its action)
    0 FARM          hit the enemy minion wave of its lane if the front is within ``ATTACK_RANGE``, else walk
                    towards it (or forward if the lane has none).
    1 ATTACK_HERO   hit the nearest enemy hero in its lane within ``ATTACK_RANGE``, else walk towards the nearest
                    enemy hero in its lane (or forward if none).
    2 ATTACK_TOWER  hit the enemy frontier structure of its lane if within ``ATTACK_RANGE``, else walk towards it.
    3 ADVANCE       walk ``HERO_SPEED`` forward.       4 RETREAT  walk ``HERO_SPEED`` back.
    5/6/7 TOP/MID/BOT  change lane: off the map for ``LANE_CHANGE_STEPS`` steps, then at its own outer-tower
                    position of the new lane (no-op, standing still, if already in that lane).
    8 RECALL        off the map for ``RECALL_STEPS`` steps, then at its own base with full hp.
    9 FOLLOW        (ally agents) go to the human: if the human is on the map in another lane, change lane and
                    arrive at the human's position; in the same lane, walk towards the human; within
                    ``HERO_SPEED`` of the human, hit the nearest enemy hero in range, else the wave in range, else
                    stand. For the human and the enemy heroes, and while the human is off the map: stand still.
    Positions are clamped to [0, ``LANE_LENGTH``].

Order within a step
    Every decision reads the state at the start of the step. Then: hero attacks, structure shots and minion
    actions are summed; hero damage is applied (deaths, kill and assist credit); structure damage (destruction,
    credit); minion damage; hero moves, travel starts (a hero starting a lane change or recall is still hit this
    step), farming and passive income, level-ups, regeneration; respawn and travel timers count down; the clock
    advances and waves spawn; the end of the match is checked.

End of a match
    A team whose base reaches hp <= 0 loses (both in the same step: draw). At ``MAX_STEPS`` steps the match is
    decided by score: more enemy structures destroyed wins; tied, more team kills; tied, more team gold; tied: draw.
    Outcome for the ally team: +1 win, -1 loss, 0 draw.

Rewards
    Task reward (ally/agent team, per match, per step): ``REWARD_WIN`` * outcome at the end, + ``REWARD_STRUCT`` per
    enemy structure destroyed (by anyone of the ally side, minions included) - ``REWARD_STRUCT`` per ally structure
    lost, + ``REWARD_GOLD`` per gold earned by the three ally heroes.
    Human goals (hero 0): increments of kills, gold, structures destroyed and deaths each step; the human-goal reward
    vector is (d_kills, d_gold, d_towers, -d_deaths) in the order of ``GOALS``.

Randomness
    Counter-based: every random number is an integer hash of (match seed, step, hero, purpose), so a batch of
    matches gives exactly the trajectories of the same matches run one at a time (see :func:`.game.hash_uniform`).
"""

from __future__ import annotations

# map
NUM_LANES = 3
LANE_NAMES = ("top", "mid", "bot")
LANE_LENGTH = 100
NUM_HEROES = 6
HUMAN = 0
AGENTS = (1, 2)
ENEMIES = (3, 4, 5)
TEAM_OF_HERO = (0, 0, 0, 1, 1, 1)
BASE_POS = (0, LANE_LENGTH)
TOWER_POS = ((35, 15), (65, 85))  # [team][tier]: outer, inner
FORWARD = (1, -1)

# structures
TOWER_HP = 1200
BASE_HP = 2000
TOWER_RANGE = 8
TOWER_MINION_DMG = 40
TOWER_HERO_DMG = 90
BACKDOOR_PCT = 40
TOWER_GOLD = 150
TOWER_TEAM_GOLD = 40

# minions
WAVE_INTERVAL = 15
WAVE_SIZE = 4
MINION_HP = 100
MINION_RANGE = 2
MINION_SPEED = 2
MINION_DMG = 10
MINION_STRUCT_DMG = 14
MINION_HERO_DMG = 5
MINION_GOLD = 20  # per 100 hp of minion damage dealt by a hero

# heroes
HERO_HP = 500
HERO_HP_PER_LEVEL = 60
HERO_DMG = 45
HERO_DMG_PER_LEVEL = 6
HERO_MINION_DMG = 60
HERO_STRUCT_DMG = 45
HERO_SPEED = 4
ATTACK_RANGE = 6
REGEN = 2
BASE_REGEN = 60
BASE_RADIUS = 6
PASSIVE_GOLD = 1
PASSIVE_XP = 1
XP_PER_LEVEL = 120
MAX_LEVEL = 10
KILL_GOLD = 150
KILL_XP = 80
ASSIST_GOLD = 50
ASSIST_WINDOW = 5
RESPAWN_BASE = 8
RESPAWN_PER_LEVEL = 2
LANE_CHANGE_STEPS = 4
RECALL_STEPS = 4
NOISE_PCT = 10  # damage noise: uniform integer in [100 - NOISE_PCT, 100 + NOISE_PCT] percent

# actions
FARM, ATTACK_HERO, ATTACK_TOWER, ADVANCE, RETREAT, TOP, MID, BOT, RECALL, FOLLOW = range(10)
NUM_ACTIONS = 10
ACTION_NAMES = ("farm", "attack_hero", "attack_tower", "advance", "retreat", "top", "mid", "bot", "recall",
                "follow")

# match
MAX_STEPS = 300

# rewards
REWARD_WIN = 10.0
REWARD_STRUCT = 1.0
REWARD_GOLD = 0.001
GOALS = ("kills", "gold", "towers", "deaths")
