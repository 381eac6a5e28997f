"""Options of ``workbench train retroformer`` (run by :mod:`agents.retroformer.train`), in a module light enough for
``--help``.

Retroformer (Yao et al., ICLR 2024): rated reflections are collected from the frozen actor's trials, the
retrospective model is fine-tuned on the positively rated ones (SFT), a reward model is trained on the ratings, and
the model is then optimised by PPO against the reward model or directly on the return differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.simulation import SimulationConfig
from workbench.config import out_field

PPO_REWARDS = ("returns", "model")


@dataclass
class RetroformerConfig(SimulationConfig):
    model: str = field(default="embedded:gemma-3-270m", metadata={
        "help": "the retrospective model to train (LoRA): embedded:gemma-3-270m or a local model folder"})
    policy: str = field(default="most-frequent", metadata={
        "help": "the frozen strategy actor's prior policy (random, most-frequent, fixed:<name>, planner:<folder>); "
                "with --agent_model the prompted agent's strategies (none: it speaks freely)"})
    follow: float = field(default=0.8, metadata={
        "help": "how often the strategy actor plays a strategy a reflection prefers", "min": 0, "max": 1})
    heldout: float = field(default=0.3, metadata={
        "help": "share of the case file held out for `workbench evaluate --reflection` (never trained on)",
        "min": 0, "max": 1})
    cases: int = field(default=48, metadata={"help": "training cases whose failed first trials are reflected on",
                                             "min": 1})
    samples: int = field(default=4, metadata={
        "help": "reflections sampled per failed trial, each rated by replaying the case with it", "min": 1})
    collect_temperature: float = field(default=1.0, metadata={
        "help": "sampling temperature of the collected reflections", "gt": 0})
    reflection_tokens: int = field(default=40, metadata={"help": "new tokens per reflection", "min": 1})
    sft: bool = field(default=True, metadata={"help": "fine-tune on the positively rated reflections",
                                              "no_help": "skip the SFT stage"})
    reward_model: bool = field(default=True, metadata={
        "help": "train a reward model on pairs of reflections of the same trial (TRL's RewardTrainer)",
        "no_help": "skip the reward model (PPO then rates reflections by replay: --ppo_reward returns)"})
    ppo_reward: str = field(default="returns", metadata={
        "help": "what rates PPO's reflections: returns (replay the next trial: G(k+1) - G(k)) or model (the "
                "reward model's score)", "choices": PPO_REWARDS})
    ppo_iterations: int = field(default=4, metadata={"help": "PPO iterations (0: no PPO stage)", "min": 0})
    ppo_cases: int = field(default=8, metadata={"help": "failed trials reflected on per PPO iteration", "min": 1})
    ppo_samples: int = field(default=2, metadata={"help": "reflections sampled per failed trial in PPO", "min": 1})
    ppo_epochs: int = field(default=2, metadata={"help": "optimisation epochs over each PPO batch", "min": 1})
    kl_coef: float = field(default=0.05, metadata={"help": "per-token KL penalty against the SFT model", "min": 0})
    lr: float = field(default=2e-4, metadata={"help": "learning rate of the SFT stage (LoRA)", "gt": 0})
    epochs: float = field(default=2.0, metadata={"help": "passes over the positive reflections in SFT", "gt": 0})
    reward_lr: float = field(default=1e-4, metadata={"help": "learning rate of the reward model (LoRA)", "gt": 0})
    reward_epochs: float = field(default=1.0, metadata={"help": "passes over the pairs in the reward model stage",
                                                        "gt": 0})
    ppo_lr: float = field(default=1e-5, metadata={"help": "learning rate of PPO (LoRA)", "gt": 0})
    train_batch_size: int = field(default=4, metadata={"help": "rows per optimisation step", "min": 1})
    max_length: int = field(default=1024, metadata={
        "help": "tokens per training row (prompt and reflection); longer rows are left out and counted", "min": 16})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    out: str | None = out_field("retroformer", " (the trained model goes to <out>/model)")
