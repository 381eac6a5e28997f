"""Agent teams for a vector game: who plays the agent heroes, by spec, and how well, over many matches at once.

A team is anything with ``act(env, obs) -> (B, heroes)`` actions. :func:`load_team` reads a spec:

- ``scripted``: the game's rule-based ally policy (``env.scripted_actions()``);
- ``follow``: every agent hero always takes the game's ``follow`` action (stay with the human and fight beside them);
- a run folder of ``workbench train rlhg`` (or its ``model.pt``): the trained policy (:class:`NetTeam`).

:func:`evaluate_team` plays one full match per slot and summarises them (:func:`.rollout.summarise_matches`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from agents.rlhg.networks import PolicyNet
from agents.rlhg.rollout import summarise_matches
from workbench.errors import WorkbenchError

MODEL = "model.pt"
BUILT_IN = ("scripted", "follow")


class Team(Protocol):
    def act(self, env: Any, obs: np.ndarray) -> np.ndarray: ...


class ScriptedTeam:
    """The game's own rule-based ally policy."""

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        return np.asarray(env.scripted_actions())


class FollowTeam:
    """Every agent hero takes the ``follow`` action every step."""

    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        follow = list(env.action_names).index("follow")
        return np.full(env.action_space.shape, follow, np.int64)


class NetTeam:
    """A trained :class:`.networks.PolicyNet` that sees the whole observation (human-agent mode); it samples its
    actions from a seeded generator (as in training) or, ``greedy``, takes the most likely ones."""

    def __init__(self, policy: PolicyNet, greedy: bool = False, seed: int = 0):
        self.policy, self.greedy = policy, greedy
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def act(self, env: Any, obs: np.ndarray) -> np.ndarray:
        logits, _ = self.policy(torch.as_tensor(obs, dtype=torch.float32))
        if self.greedy:
            return logits.argmax(-1).numpy()
        flat = torch.softmax(logits, -1).reshape(-1, logits.shape[-1])
        return torch.multinomial(flat, 1, generator=self.generator).view(logits.shape[:-1]).numpy()


def load_policy(spec: str | Path) -> PolicyNet:
    """The policy saved by a ``workbench train rlhg`` run (its folder or ``model.pt``)."""
    path = Path(spec)
    file = path / MODEL if path.is_dir() else path
    if not file.is_file():
        raise WorkbenchError(f"agents {spec}: no such run folder or {MODEL} (built-in teams: {', '.join(BUILT_IN)})")
    try:
        state = torch.load(file, weights_only=False)["policy"]
        policy = PolicyNet(state["pi.0.weight"].shape[1], hidden=state["pi.0.weight"].shape[0])
        policy.load_state_dict(state)
    except Exception as error:  # a foreign or damaged file
        raise WorkbenchError(f"agents {file}: not an RLHG model ({type(error).__name__}: {error})") from None
    return policy.eval()


def load_team(spec: str, greedy: bool = False, seed: int = 0) -> Team:
    """The team a spec names (module docstring)."""
    if spec == "scripted":
        return ScriptedTeam()
    if spec == "follow":
        return FollowTeam()
    return NetTeam(load_policy(spec), greedy, seed)


def evaluate_team(team: Team, env: Any, seed: int, max_steps: int = 100_000) -> dict[str, float | None]:
    """Play one full match in each of ``env.num_envs`` slots (the first match of each slot counts; all slots step
    together) and summarise them."""
    obs, _ = env.reset(seed=seed)
    first: dict[int, dict[str, float]] = {}
    for _ in range(max_steps):
        obs, _, _, _, info = env.step(team.act(env, obs))
        if "_final_info" in info:
            for i in np.flatnonzero(info["_final_info"]):
                first.setdefault(int(i), {k: float(v[i]) for k, v in info["final_info"].items() if k != "match_seed"})
        if len(first) == env.num_envs:
            break
    return summarise_matches(list(first.values()))

