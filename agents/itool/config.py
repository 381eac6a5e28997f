"""Options of ``workbench train itool`` (run by :mod:`agents.itool.train`) and of its MCTS, in a module light enough
for ``--help``.

iTool (Zeng et al. 2025, arXiv 2501.09766): warm-up LoRA SFT on the expert's replies easy -> medium -> hard
(Sec. 3.1), then per iteration the deficiency set (the hardest ``deficiency_share`` of the training items by the
policy's perplexity of the ground truth, Sec. 3.2), step-wise MCTS on it and SimPO (or DPO) on the fine-grained
pairs (Sec. 3.3). The paper's SimPO settings are the defaults: beta 2.5, gamma 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.config import out_field

LOSSES = ("simpo", "dpo")


@dataclass
class MCTSConfig:
    simulations: int = field(default=16, metadata={
        "help": "selection-expansion-backup rounds (expansions) per item; fewer when every branch has ended",
        "min": 1})
    children: int = field(default=3, metadata={"help": "continuations sampled per expansion (k)", "min": 2})
    max_depth: int = field(default=4, metadata={
        "help": "most calls (tree levels) in a response; a node at this depth is judged as a complete response",
        "min": 1})
    c_uct: float = field(default=1.0, metadata={"help": "exploration weight of PUCT", "min": 0})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature of the expansions", "gt": 0})
    max_new_tokens: int = field(default=64, metadata={"help": "token budget of one expansion (one call)", "min": 1})
    min_gap: float = field(default=0.1, metadata={
        "help": "least value difference between the best and worst sibling for a preference pair", "min": 0})
    seed: int = field(default=0, metadata={"help": "seed of the sampling (with the prompt and the simulation number)"})


@dataclass
class ITOOLConfig(MCTSConfig):
    model: str = field(default="embedded:gemma-3-270m", metadata={
        "help": "causal LM to fine-tune: embedded:gemma-3-270m or a local model folder"})
    env: str = field(default="tool_use", metadata={
        "help": "tool-use environment (one with expert_reply, difficulty and reply_check)"})
    cases: list[str] = field(default_factory=lambda: ["bfcl", "tasks"], metadata={
        "help": "case sources of --env, each split by case id; iTool trains on their training split (the held-out "
                "split is what `workbench evaluate` scores): bfcl[:<category>,...], tasks[:<difficulty>,...]"})
    warmup_cases: int = field(default=24, metadata={
        "help": "cases per difficulty in the warm-up SFT, taken in turn from each source (a task gives one row per "
                "expert turn)", "min": 1})
    warmup: bool = field(default=True, metadata={
        "help": "run the warm-up SFT curriculum first",
        "no_help": "skip the warm-up: the iterations start from --model (e.g. another run's warmup-hard/merged)"})
    iteration_cases: int = field(default=24, metadata={
        "help": "training cases ranked by perplexity in each iteration (their expert turns are the items)",
        "min": 1})
    deficiency_share: float = field(default=0.3, metadata={
        "help": "share of the ranked items with the highest perplexity that MCTS searches", "gt": 0, "max": 1})
    iterations: int = field(default=2, metadata={
        "help": "MCTS + preference-optimisation rounds after the warm-up (0: warm-up only); raise it with --resume "
                "to add rounds", "min": 0})
    loss: str = field(default="simpo", metadata={
        "help": "preference loss of each iteration: simpo (TRL's CPO with loss_type simpo) or dpo",
        "choices": LOSSES})
    beta: float | None = field(default=None, metadata={
        "help": "beta of the preference loss; default: 2.5 for simpo (the paper's), TRL's 0.1 for dpo", "gt": 0})
    simpo_gamma: float = field(default=0.5, metadata={"help": "SimPO's target reward margin gamma", "min": 0})
    epochs: float = field(default=1.0, metadata={"help": "passes over each warm-up level's rows", "gt": 0})
    lr: float = field(default=2e-4, metadata={"help": "learning rate of the warm-up SFT (LoRA)", "gt": 0})
    pref_epochs: float = field(default=1.0, metadata={"help": "passes over each iteration's pairs", "gt": 0})
    pref_lr: float = field(default=5e-5, metadata={"help": "learning rate of the preference step (LoRA)", "gt": 0})
    batch_size: int = field(default=2, metadata={"help": "per-device batch size of the training steps", "min": 1})
    grad_accum: int = field(default=4, metadata={"help": "gradient accumulation steps", "min": 1})
    max_length: int = field(default=2048, metadata={
        "help": "tokens per training sequence; longer rows and pairs are left out and counted", "min": 16})
    ppl_batch_size: int = field(default=4, metadata={"help": "items per forward pass of the perplexity ranking",
                                                     "min": 1})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    resume: bool = field(default=False, metadata={
        "help": "continue the run in --out: finished stages are kept, an interrupted one continues"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})
    out: str | None = out_field("itool", " (each stage's merged model goes to <out>/<stage>/merged)")
