"""Running standardisation of the planner's features, folded into its linear head.

Pooled encoder states share a large common component, so a step on a linear head over raw
features moves every state's logits together (a frozen MiniLM's mean-pooled states make the
policy collapse onto one strategy within a few REINFORCE updates). Standardising each feature
dimension with running statistics, as RL codebases normalise observations (e.g. Andrychowicz
et al., "What Matters in On-Policy RL", ICLR 2021, Sec. 3.5), leaves the differences between
states. When the statistics move, the head is re-parametrised so that its logits stay exactly
the same (W' = W diag(s'/s), b' = b + W (m' - m)/s; the input-side analogue of Pop-Art, van
Hasselt et al., NeurIPS 2016): observing data never changes the policy, only how a gradient
step on it is conditioned.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.moments import merge_moments

EPS = 1e-6


class FeatureStandardiser(nn.Module):
    """``(h - mean) / max(sqrt(var), eps)`` per dimension; the identity until :meth:`observe` is called."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.zeros(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / _scale(self.var)

    @torch.no_grad()
    def observe(self, features: torch.Tensor, head: nn.Linear) -> None:
        """Merge a batch of raw features into the running statistics (Chan et al.'s parallel
        mean and variance) and re-parametrise ``head`` so that ``head(self(h))`` is unchanged."""
        total, mean, var = merge_moments(self.count.item(), self.mean, self.var, features)
        scale, new_scale = _scale(self.var), _scale(var)
        head.bias += head.weight @ ((mean - self.mean) / scale)
        head.weight.mul_(new_scale / scale)
        self.mean.copy_(mean)
        self.var.copy_(var)
        self.count.fill_(total)


def _scale(var: torch.Tensor) -> torch.Tensor:
    return var.sqrt().clamp(min=EPS)
