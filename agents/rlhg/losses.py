"""RLHG's losses and advantages, and a GAE batched over matches.

Notation of Gao et al., "Learning to Enhance Human Gain" (ICLR 2024, arXiv 2401.16444), Sec. 4; per human goal k:

- human return R_H^k(s_t) = sum_l gamma_H^l r_H^k(t+l) (bootstrapped with V_phi at the rollout's end), the
  discounted human-goal reward;
- human gain (Eq. for the gain of the agent's behaviour over the human's primitive value)
  G^k(s_t) = R_H^k(s_t) - V_phi^k(s_t), V_phi the human value of the self-centred agent (Stage I);
- gain loss (the gain network learns only the positive gains): L(omega) = 0.5 * E[ 1{G^k > 0} (G^k - Delta^k(s))^2 ];
- human-enhancement advantage A_H(s_t, a_t) = sum_k (G^k - sg(Delta^k(s_t))): an action helps the human only when its
  gain beats the gain expected in that state;
- total advantage A = A_task + alpha * A_H (alpha = 2), in human-agent mode; agent-only rollouts use A_task alone.

The batched GAE (Schulman et al. 2016) loops over time only; it equals :func:`workbench.training.ppo.gae` row by row
(``tests/test_rlhg.py``) and adds episode ends (``dones``) and a bootstrap value for rows cut by the rollout.
"""

from __future__ import annotations

import torch

from workbench.training.ppo import masked_mean


def batched_gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float, *,
                mask: torch.Tensor | None = None, dones: torch.Tensor | None = None,
                last_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and returns (``advantages + values``) of ``rewards`` and ``values`` shaped (B, T, ...).

    delta_t = r_t + gamma * (1 - done_t) * V_next - V_t,  A_t = delta_t + gamma * lam * (1 - done_t) * A_next,
    where "next" is the next position of the row with ``mask`` 1 (positions with mask 0 are skipped and get 0, as in
    :func:`workbench.training.ppo.gae`); ``done_t`` = 1 when the episode ended at t (no bootstrap across it);
    after a row's last position V_next is ``last_values`` (B, ...) (default 0: the episode ended).
    """
    B, T = rewards.shape[:2]
    shape = (B,) + (1,) * (rewards.dim() - 2)  # a (B, T) column broadcast over the trailing dims

    def column(x: torch.Tensor | None, t: int, default: float) -> torch.Tensor:
        if x is None:
            return torch.full(shape, default, dtype=rewards.dtype)
        return x[:, t].reshape(shape).to(rewards.dtype)

    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0]) if last_values is None else last_values.to(rewards.dtype)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        keep = column(mask, t, 1.0) > 0
        carry = 1.0 - column(dones, t, 0.0)
        delta = rewards[:, t] + gamma * carry * next_value - values[:, t]
        new = delta + gamma * lam * carry * running
        advantages[:, t] = torch.where(keep, new, torch.zeros_like(new))
        running = torch.where(keep, new, running)
        next_value = torch.where(keep, values[:, t], next_value)
    return advantages, advantages + values


def gain_loss(gain: torch.Tensor, delta: torch.Tensor, mask: torch.Tensor | None = None,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """0.5 * E[1{G > 0} (G - Delta)^2] over samples (the expectation over ``mask``'s samples) and goals; ``gain``
    and ``delta`` are (N, goals), ``mask`` (N,) (default all); the goals are averaged, or summed with ``weights``
    (N, goals) (the goals the human pursues; the others need no Delta). Only Delta receives gradient."""
    positive = (gain > 0).to(delta.dtype)
    squared = positive * (gain.detach() - delta) ** 2
    per_sample = 0.5 * (squared.mean(-1) if weights is None else (squared * weights).sum(-1))
    return masked_mean(per_sample, torch.ones_like(per_sample) if mask is None else mask.to(per_sample.dtype))


def human_advantage(gain: torch.Tensor, delta: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """A_H = sum_goals w_k (G_k - sg(Delta_k)): (..., goals) -> (...); ``weights`` (broadcast; default 1) are the
    goals the human pursues."""
    diff = gain - delta.detach()
    return (diff if weights is None else diff * weights).sum(-1)


def total_advantage(task: torch.Tensor, human: torch.Tensor, human_mode: torch.Tensor, alpha: float) -> torch.Tensor:
    """A = A_task + alpha * A_H where ``human_mode`` (broadcast to ``task``) is 1, else A_task."""
    return task + alpha * human * human_mode.to(task.dtype)
