"""Running mean and variance of a stream of batches (PPO's reward normalisation, the planner's feature
standardisation)."""

from __future__ import annotations

import torch


def merge_moments(count: float, mean: torch.Tensor, var: torch.Tensor,
                  batch: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    """``(count, mean, var)`` of the data seen so far (``count`` rows with that mean and population
    variance, per element) together with the rows of ``batch``: Chan, Golub and LeVeque's parallel update
    (1979; with ``delta = mean_b - mean_a`` and ``n = n_a + n_b``: ``mean = mean_a + delta * n_b / n``,
    ``var = (n_a var_a + n_b var_b + delta^2 n_a n_b / n) / n``). ``var`` is ignored while ``count`` is 0."""
    n = batch.shape[0]
    total = count + n
    delta = batch.mean(0) - mean
    merged_mean = mean + delta * n / total
    merged_var = (var * count + batch.var(0, unbiased=False) * n + delta.square() * count * n / total) / total
    return total, merged_mean, merged_var
