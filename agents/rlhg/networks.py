"""The RLHG networks: the agent team's policy with its task value, the human value V_phi(s) and the gain Delta(s).

After Gao et al. (ICLR 2024, arXiv 2401.16444), Sec. 4: the human primitive value network V_phi(s) predicts, per human
goal, the human's return when the self-centred agent plays along; the gain network Delta_omega(s) >= 0 predicts the
expected positive gain over it. Small MLPs over the flat game observation.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(inputs: int, hidden: int, outputs: int, last_gain: float = 1.0) -> nn.Sequential:
    """Two tanh hidden layers; orthogonal initialisation, the output layer scaled by ``last_gain``."""
    net = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                        nn.Linear(hidden, outputs))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, gain=last_gain if layer is net[-1] else 2 ** 0.5)
            nn.init.zeros_(layer.bias)
    return net


class PolicyNet(nn.Module):
    """Observation (N, D) -> logits (N, heads, actions), one head per agent hero, and task value (N,)."""

    def __init__(self, obs_dim: int, heads: int = 2, actions: int = 10, hidden: int = 128):
        super().__init__()
        self.heads, self.actions = heads, actions
        self.pi = mlp(obs_dim, hidden, heads * actions, last_gain=0.01)
        self.v = mlp(obs_dim, hidden, 1, last_gain=1.0)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pi(obs).view(*obs.shape[:-1], self.heads, self.actions), self.v(obs).squeeze(-1)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Joint log-probability of the heads' ``actions`` (N, heads), summed entropy and value, each (N,)."""
        logits, value = self(obs)
        logp = torch.log_softmax(logits, -1)
        chosen = logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1).sum(-1)
        entropy = -(logp.exp() * logp).sum(-1).sum(-1)
        return chosen, entropy, value


class HumanValueNet(nn.Module):
    """V_phi(s): (N, D) -> (N, goals), the human's expected discounted return per goal."""

    def __init__(self, obs_dim: int, goals: int = 4, hidden: int = 128):
        super().__init__()
        self.net = mlp(obs_dim, hidden, goals)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class GainNet(nn.Module):
    """Delta_omega(s) = softplus(f(s)) >= 0: (N, D) -> (N, goals), the expected positive human gain per goal."""

    def __init__(self, obs_dim: int, goals: int = 4, hidden: int = 128):
        super().__init__()
        self.net = mlp(obs_dim, hidden, goals)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(self.net(obs))
