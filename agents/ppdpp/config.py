"""``PPDPPConfig``: the options of ``workbench train ppdpp`` (run by ``agents.ppdpp.run``), in a module light
enough for ``--help``."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.simulation import SimulationConfig
from workbench.config import out_field

POOLING = ("mean", "cls")
"""How a planner represents the history: the mean of the encoder's token states, or the first token's."""
STAGES = ("sft", "rl", "both")


@dataclass
class PPDPPConfig(SimulationConfig):
    stage: str = field(default="both", metadata={"help": "sft, rl or both (SFT, then RL from its best planner)"})
    encoder: str = field(default="embedded:minilm", metadata={
        "help": "planner encoder: embedded:minilm or a transformers encoder folder (e.g. roberta-large, on GPU)"})
    max_length: int = field(default=256, metadata={
        "help": "encoder tokens kept from the end of the history, for a new planner (the paper: 512 with "
                "RoBERTa-large); a planner from --init keeps its own", "min": 1})
    pooling: str = field(default="mean", metadata={
        "help": "history representation: mean of the token states (MiniLM's own), or cls (the paper's RoBERTa)",
        "choices": POOLING})
    init: str | None = field(default=None, metadata={"help": "planner folder to start RL from (stage rl)",
                                                     "path": "in"})
    heldout: float = field(default=0.3, metadata={
        "help": "share of the case file held out for evaluation", "min": 0, "max": 1})
    sft_data: list[str] | None = field(default=None, metadata={
        "help": "annotated dialogue files for SFT; default: the environment's (only the case file's train split)",
        "path": "in"})
    sft_val_fraction: float = field(default=0.15, metadata={
        "help": "share of SFT dialogues kept for validation", "min": 0, "max": 1})
    sft_max_examples: int = field(default=0, metadata={"help": "subsample SFT training examples (0: all)", "min": 0})
    sft_epochs: int = field(default=3, metadata={"help": "SFT epochs", "min": 1})
    sft_lr: float = field(default=5e-5, metadata={
        "help": "SFT learning rate (AdamW, linear warm-up and decay)", "gt": 0})
    sft_batch_size: int = field(default=16, metadata={"help": "SFT batch size", "min": 1})
    rl_episodes: int = field(default=512, metadata={"help": "self-play episodes of the RL stage", "min": 1})
    rl_lr: float = field(default=1e-5, metadata={"help": "RL learning rate of the encoder (AdamW)", "gt": 0})
    rl_head_lr: float | None = field(default=None, metadata={
        "help": "RL learning rate of the linear head; default: --rl_lr", "gt": 0})
    gamma: float = field(default=0.999, metadata={
        "help": "discount of the returns (PPDPP: 0.999)", "min": 0, "max": 1})
    normalise: str = field(default="episode", metadata={
        "help": "normalise returns within each episode (episode, PPDPP), across the batch (batch), across the "
                "batch per turn index (turn: a time-dependent baseline), against a learned value baseline "
                "(value), or not (none)"})
    entropy_coef: float = field(default=0.0, metadata={
        "help": "entropy bonus against collapse onto one strategy (0: the paper's plain REINFORCE)", "min": 0})
    update: str = field(default="episode", metadata={
        "help": "one optimizer step per episode (PPDPP) or per batch of lockstep episodes"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm", "gt": 0})
    rl_freeze_encoder: bool = field(default=False, metadata={
        "help": "RL trains only the linear head on the frozen encoder's features (the paper trains both); "
                "several times cheaper per update on CPU"})
    rl_standardise_features: bool = field(default=False, metadata={
        "help": "standardise the planner's features with running statistics during RL (folded into the head, "
                "so the policy is unchanged by it); keeps a linear head on pooled states from collapsing"})
    save_every: int = field(default=1, metadata={"help": "checkpoint the RL stage every N updates", "min": 1})
    out: str | None = out_field("ppdpp")
