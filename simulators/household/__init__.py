"""Embodied household tasks after TEACh (Padmakumar et al., AAAI 2022): a robot (the Driver) does a household task
that only the user (the Commander) knows in full; the user observes or speaks with TEACh's dialogue acts
(Philipov et al. 2024, arXiv 2410.23535). The world is a networkx graph (:mod:`.world`), tasks come from TEACh's
task definitions (:mod:`.definitions`, :mod:`.tasks`), and the environment is :class:`.env.HouseholdEnv`."""

from __future__ import annotations

from typing import Any

__all__ = ["HouseholdEnv"]


def __getattr__(name: str) -> Any:  # the game files and parsers import without loading the world
    if name == "HouseholdEnv":
        from .env import HouseholdEnv

        return HouseholdEnv
    raise AttributeError(name)
