"""``workbench train itool``: iTool's warm-up curriculum and MCTS preference iterations (Zeng et al. 2025)."""

from __future__ import annotations

from workbench.methods import Method

METHOD = Method("itool", "iTool (Zeng et al. 2025): warm-up LoRA SFT easy -> medium -> hard, then per iteration the "
                "deficiency set, step-wise MCTS and SimPO / DPO on its fine-grained pairs",
                "agents.itool.config:ITOOLConfig", "agents.itool.train:run_itool",
                "the expert's replies to the training split of tool-use cases (BFCL items, generated tasks)",
                inputs=("model",))
