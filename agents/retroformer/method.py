"""``workbench train retroformer``: Retroformer's retrospective model (Yao et al., ICLR 2024)."""

from __future__ import annotations

from workbench.methods import Method

METHOD = Method("retroformer", "Retroformer (Yao et al. 2024): a retrospective LM trained to write reflections that "
                "make a frozen actor succeed on its next trial (rated reflections, SFT, reward model, PPO)",
                "agents.retroformer.config:RetroformerConfig", "agents.retroformer.train:run_retroformer",
                "reflections on the frozen actor's failed trials of the environment's training cases, rated by "
                "the next trial's return", inputs=("env", "model"))
