"""``workbench train rlhg``: RLHG human-gain training and its baselines on a vectorised game (Gao et al., ICLR 2024)."""

from __future__ import annotations

from workbench.methods import Method

METHOD = Method("rlhg", "RLHG (Gao et al. 2024): --stage self (PPO), value (human primitive value), gain (human-gain "
                "PPO) or shaping (baseline) on a game with a human partner (moba)",
                "agents.rlhg.config:RLHGConfig", "agents.rlhg.train:run_rlhg",
                "self-play matches of a vectorised game (`workbench play --env moba`) with a scripted human partner")
