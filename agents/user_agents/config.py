"""Options of ``workbench train user-classifier`` and ``workbench train user-sft`` (run by
:mod:`agents.user_agents.run`), in a module light enough for ``--help``.

Both train a Commander user agent (Philipov et al. 2024, arXiv 2410.23535) on the contexts of the
training games of a TEACh turn-level games file (Padmakumar et al., AAAI 2022), split by game id, and
evaluate it on the validation games.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.config import out_field


@dataclass
class GamesOptions:
    """The games, their split and the history the agent reads."""

    data: str | None = field(default=None, metadata={
        "help": "TEACh turn-level games file (JSON list of {goal, turns}); default: the shared development games",
        "path": "in"})
    valid_fraction: float = field(default=0.3, metadata={
        "help": "share of the games (by game id) held out for validation and evaluation", "min": 0, "max": 1})
    split_seed: int = field(default=0, metadata={"help": "seed of the train / validation split of the games"})
    max_lines: int = field(default=12, metadata={
        "help": "history lines the agent reads (the last ones, after the goal)", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})


@dataclass
class UserClassifierConfig(GamesOptions):
    encoder: str = field(default="embedded:minilm", metadata={
        "help": "encoder of the classifier: embedded:minilm or a transformers encoder folder"})
    max_length: int = field(default=256, metadata={
        "help": "encoder tokens kept from the end of the rendered history", "min": 8})
    finetune_encoder: bool = field(default=False, metadata={
        "help": "also fine-tune the encoder (slow on a CPU); by default its features are computed once and only "
                "the two heads learn"})
    epochs: int = field(default=30, metadata={"help": "passes over the training contexts", "min": 1})
    lr: float = field(default=1e-3, metadata={
        "help": "learning rate of the heads (AdamW); with --finetune_encoder the encoder's is --encoder_lr", "gt": 0})
    encoder_lr: float = field(default=2e-5, metadata={"help": "encoder learning rate (--finetune_encoder)", "gt": 0})
    batch_size: int = field(default=64, metadata={"help": "contexts per optimisation step", "min": 1})
    act_weight: float = field(default=1.0, metadata={
        "help": "weight of the dialogue-act loss (speaking steps only) against the speak loss", "min": 0})
    out: str | None = out_field("user-classifier", " (the agent goes to <out>/agent)")


@dataclass
class UserSFTConfig(GamesOptions):
    model: str = field(default="embedded:gemma-3-270m", metadata={
        "help": "causal LM to fine-tune: embedded:gemma-3-270m or a local model folder"})
    max_examples: int = field(default=256, metadata={
        "help": "training examples: every speaking step and as many observing steps, subsampled to this many "
                "(half each where possible; 0: no cap)", "min": 0})
    epochs: float = field(default=1.0, metadata={"help": "passes over the examples", "gt": 0})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; overrides --epochs when positive",
                                                 "min": -1})
    lr: float = field(default=2e-4, metadata={"help": "learning rate", "gt": 0})
    batch_size: int = field(default=4, metadata={"help": "per-device batch size", "min": 1})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps", "min": 1})
    max_length: int = field(default=1024, metadata={"help": "tokens per training sequence", "min": 16})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "recompute activations in the backward pass (saves memory on a GPU; costs time on a CPU)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    eval_games: int = field(default=4, metadata={
        "help": "validation games the trained agent is evaluated on after training (0: none)", "min": 0})
    max_new_tokens: int = field(default=32, metadata={"help": "tokens the agent generates per step", "min": 1})
    eval_batch_size: int = field(default=16, metadata={"help": "contexts per generate call", "min": 1})
    out: str | None = out_field("user-sft", " (the adapter and agent go to <out>/sft/model)")
