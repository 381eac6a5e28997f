"""Batched rollouts of the agent team: T steps of B matches at once, one policy call per step (no per-match loop).

The environment is any Gymnasium vector environment with the MOBA's contract (``step(actions (B, 2))``,
``info["human_goal_reward"]`` (B, goals), ``SAME_STEP`` auto-reset with ``info["final_info"]``), passed in, never
imported. Each match of a rollout is in human-agent mode (the policy sees the whole observation) or in agent-only
mode (the human's slice of the observation gated to zero by ``human_mask``), per ``human_mode`` (B,).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.rlhg.networks import PolicyNet
from workbench.errors import WorkbenchError


def human_mask_of(env: Any) -> np.ndarray:
    """The env's (D,) observation mask that zeroes the human's input (``env.human_obs_mask()``)."""
    own = getattr(env, "human_obs_mask", None)
    if not callable(own):
        raise WorkbenchError(f"{type(env).__name__} has no human_obs_mask(): RLHG's agent-only mode needs it")
    return np.asarray(own(), np.float32)


@dataclass
class Rollout:
    """One rollout; every tensor is (B, T, ...) (rows are matches, as :func:`.losses.batched_gae` reads them)."""

    obs: torch.Tensor
    """(B, T, D) what the policy saw (gated in agent-only rows)."""
    full_obs: torch.Tensor
    """(B, T, D) the whole observation (for the human value and gain networks)."""
    actions: torch.Tensor
    logps: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    """(B, T) scaled task reward."""
    human_rewards: torch.Tensor
    """(B, T, goals) scaled human-goal reward."""
    dones: torch.Tensor
    human_mode: torch.Tensor
    """(B,) 1: human-agent mode, 0: agent-only."""
    last_obs: torch.Tensor
    last_full_obs: torch.Tensor
    finished: list[dict[str, float]] = field(default_factory=list)
    """Metrics of the matches that ended during the rollout, with the ``human_mode`` of their slot."""


class Collector:
    """Holds the environment, its current observation and the sampling generator between rollouts."""

    def __init__(self, env: Any, seed: int, human_mask: np.ndarray, task_reward_scale: float,
                 goal_scales: list[float]):
        self.env = env
        self.obs, _ = env.reset(seed=seed)
        self.mask = torch.as_tensor(human_mask, dtype=torch.float32)
        self.generator = torch.Generator().manual_seed(seed)
        self.task_reward_scale = task_reward_scale
        self.goal_scales = torch.tensor(goal_scales, dtype=torch.float32)

    def gate(self, obs: torch.Tensor, human_mode: torch.Tensor) -> torch.Tensor:
        """``obs`` (B, D) with the human's input zeroed where ``human_mode`` is 0."""
        keep = human_mode.to(torch.float32)[:, None]
        return obs * (keep + (1 - keep) * self.mask)

    @torch.no_grad()
    def collect(self, policy: PolicyNet, steps: int, human_mode: torch.Tensor, greedy: bool = False) -> Rollout:
        B = self.env.num_envs
        cols: dict[str, list[torch.Tensor]] = {k: [] for k in ("obs", "full", "act", "logp", "v", "r", "h", "d")}
        finished: list[dict[str, float]] = []
        for _ in range(steps):
            full = torch.as_tensor(self.obs, dtype=torch.float32)
            seen = self.gate(full, human_mode)
            logits, value = policy(seen)
            logp_all = torch.log_softmax(logits, -1)
            if greedy:
                actions = logits.argmax(-1)
            else:
                actions = torch.multinomial(logp_all.exp().reshape(-1, logits.shape[-1]), 1,
                                            generator=self.generator).view(B, -1)
            logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1).sum(-1)
            self.obs, reward, terminated, truncated, info = self.env.step(actions.numpy())
            if info["human_goal_reward"].shape[-1] != len(self.goal_scales):
                raise WorkbenchError(f"goal_scales has {len(self.goal_scales)} factors but the game has "
                                     f"{info['human_goal_reward'].shape[-1]} human goals")
            done = np.logical_or(terminated, truncated)
            if "_final_info" in info:
                ended = np.flatnonzero(info["_final_info"])
                finished += [{**{k: float(v[i]) for k, v in info["final_info"].items() if k != "match_seed"},
                              "human_mode": float(human_mode[i])} for i in ended]
            for key, value_ in (("obs", seen), ("full", full), ("act", actions), ("logp", logp), ("v", value),
                                ("r", torch.as_tensor(reward, dtype=torch.float32) * self.task_reward_scale),
                                ("h", torch.as_tensor(info["human_goal_reward"], dtype=torch.float32)
                                 * self.goal_scales),
                                ("d", torch.as_tensor(done, dtype=torch.float32))):
                cols[key].append(value_)
        last_full = torch.as_tensor(self.obs, dtype=torch.float32)
        stack = {k: torch.stack(v, 1) for k, v in cols.items()}
        return Rollout(stack["obs"], stack["full"], stack["act"], stack["logp"], stack["v"], stack["r"], stack["h"],
                       stack["d"], human_mode.to(torch.float32), self.gate(last_full, human_mode), last_full,
                       finished)


def summarise_matches(finished: list[dict[str, float]]) -> dict[str, float | None]:
    """Win/loss rates and the human's mean goals over finished matches (None when none finished)."""
    if not finished:
        return {"matches": 0, "win_rate": None, "loss_rate": None}
    out = np.array([m["outcome"] for m in finished])
    summary: dict[str, float | None] = {"matches": len(finished), "win_rate": float(np.mean(out == 1)),
                                        "loss_rate": float(np.mean(out == -1))}
    for key in ("human_kills", "human_gold", "human_towers", "human_deaths", "ally_kills",
                "enemy_structures_destroyed"):
        if key in finished[0]:
            summary[key] = float(np.mean([m[key] for m in finished]))
    return summary
