"""Shared test helpers: play a hand-written strategy policy through an environment's template agent."""

import random
import socket
from typing import Callable

from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Case, Episode, Turn


def play(env: DialogueEnv, cases: list[Case], policy: Callable[[DialogueState, random.Random], str],
         seed: int = 0, label: bool = True) -> list[Episode]:
    """All ``cases`` in lockstep; ``policy(state, rng)`` names each template turn's strategy
    (``label=False`` leaves the turns unlabelled, so simulators must read the text)."""
    rng = random.Random(seed)
    states = [env.begin(c, seed * 100003 + i) for i, c in enumerate(cases)]
    live = list(states)
    while live:
        names = [policy(s, rng) for s in live]
        env.advance(live, [Turn(role=s.agent_role, text=env.realise(s, env.strategy(n)), strategy=n if label else None)
                           for s, n in zip(live, names)])
        live = [s for s in live if not (s.done or s.truncated)]
    return [env.finish(s) for s in states]


def train_method(method: str, **options):
    """``workbench train METHOD`` in this process: the method's registered config with ``options``, trained by
    the core backend (with the continuation agent the registered method gives RLOO and Online DPO)."""
    from agents.trl_methods import continuation_agent
    from workbench.methods import get_method
    from workbench.training.trainers import train

    config = get_method(method).config_class()(**options)
    return train(config, continuation=continuation_agent(config))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
