"""Match steps per second of the vectorised MOBA game (B matches per ``step``) against the same game stepped one
match at a time (B = 1 in a Python loop), in the same process; prints both rates and their ratio.

Three workloads: ``game.step only`` (actions from a fixed table), ``full`` (the scripted human persona, default
allies and scripted enemy choose the actions every step) and ``MobaVectorEnv.step`` (``full`` plus observations,
infos and auto-reset; needs gymnasium).

    OMP_NUM_THREADS=1 python benchmarks/moba_speed.py --batch 1024 --steps 60 --single-steps 600
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simulators.moba import rules as R
from simulators.moba.enemy import default_ally_policy, enemy_policy
from simulators.moba.game import MobaGame
from simulators.moba.humans import PERSONAS


def run(batch: int, steps: int, full: bool, repeats: int = 1) -> float:
    """Match steps per second for ``repeats`` games of ``batch`` matches played ``steps`` steps each."""
    table = np.random.default_rng(0).integers(0, R.NUM_ACTIONS, (steps, batch, R.NUM_HEROES))
    human, ally, enemy = PERSONAS["allrounder-high"], default_ally_policy(), enemy_policy()
    total, seconds = 0, 0.0
    for rep in range(repeats):
        game = MobaGame(batch)
        game.reset(np.arange(batch) + 1000 * rep)
        start = time.perf_counter()
        for t in range(steps):
            if full:
                view = game.hero_view()
                actions = np.empty((batch, R.NUM_HEROES), np.int64)
                actions[:, 0] = human.act(game, view)
                actions[:, 1:3] = ally.act(game, view)
                actions[:, 3:] = enemy.act(game, view)
            else:
                actions = table[t]
            game.step(actions)
        seconds += time.perf_counter() - start
        total += batch * steps
    return total / seconds


def run_env(batch: int, steps: int, repeats: int = 1) -> float:
    """Match steps per second of ``MobaVectorEnv.step`` with a fixed action table (agents) and the persona."""
    from simulators.moba.vector_env import MobaVectorEnv

    table = np.random.default_rng(0).integers(0, R.NUM_ACTIONS, (steps, batch, 2))
    total, seconds = 0, 0.0
    for rep in range(repeats):
        env = MobaVectorEnv(batch, persona="allrounder-high", seed=rep)
        env.reset()
        start = time.perf_counter()
        for t in range(steps):
            env.step(table[t])
        seconds += time.perf_counter() - start
        total += batch * steps
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=60, help="steps per match in the vectorised run")
    parser.add_argument("--single-steps", type=int, default=600, help="match steps of the one-at-a-time run")
    args = parser.parse_args()
    for full in (False, True):
        name = "full (policies + game)" if full else "game.step only"
        vec = run(args.batch, args.steps, full)
        single = run(1, min(args.single_steps, R.MAX_STEPS), full, repeats=max(1, args.single_steps // R.MAX_STEPS))
        report(name, args.batch, vec, single)
    try:
        vec = run_env(args.batch, args.steps)
        single = run_env(1, min(args.single_steps, R.MAX_STEPS), repeats=max(1, args.single_steps // R.MAX_STEPS))
        report("MobaVectorEnv.step", args.batch, vec, single)
    except ImportError as err:  # gymnasium is optional for the game itself
        print(f"MobaVectorEnv.step skipped: {err}")


def report(name: str, batch: int, vec: float, single: float) -> None:
    print(f"{name:24s} B={batch}: {vec:10,.0f} match-steps/s   B=1 loop: {single:8,.0f} match-steps/s"
          f"   ratio {vec / single:6.1f}x")


if __name__ == "__main__":
    main()
