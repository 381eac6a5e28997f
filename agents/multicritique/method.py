"""``workbench train critic``: MultiCritique's critic (Lan et al. 2024)."""

from __future__ import annotations

from workbench.methods import Method

METHOD = Method("critic", "MultiCritique (Lan et al. 2024): a critic trained on merged multi-agent critiques (SFT) "
                "and MARV-validated critique pairs (DPO), used as --critic_model critic:<run>",
                "agents.multicritique.config:CriticConfig", "agents.multicritique.train:run_critic",
                "self-play dialogues of the environments' training cases critiqued by a panel of critic agents, "
                "their ACUs rated by a meta-critic and merged; pairs of critiques validated by revising the dialogue",
                inputs=("env", "model"))
