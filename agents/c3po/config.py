"""``FeedbackConfig``: the options of ``workbench feedback add``; the training defaults are the paper's."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_LIBRARY = "runs/adapters"
COMBINATIONS = ("routed", "cat")
"""How ``workbench feedback combine`` stores several adapters as one (``AdapterLibrary.combine``'s kinds)."""
MAX_FEEDBACK_CHARS = 500


@dataclass
class FeedbackConfig:
    model: str = field(default="embedded:gemma-3-270m", metadata={
        "help": "model the adapter is trained for; it also writes the data unless --writer is given"})
    writer: str | None = field(default=None, metadata={
        "help": "chat model that writes categories, prompts and revisions (e.g. openai:gpt-4o-mini@URL); "
                "default: --model"})
    judge: str | None = field(default=None, metadata={
        "help": "chat model that judges adherence when the feedback has no checkable rule (critic:<folder>: a "
                "critic trained by `workbench train critic`, scoring each reply's critique); default: --writer"})
    name: str | None = field(default=None, metadata={"help": "adapter name; default: from the feedback's words"})
    library: str = field(default=DEFAULT_LIBRARY, metadata={"help": "adapter library folder", "path": "out"})
    scope_hint: list[str] | None = field(default=None, metadata={
        "help": "one or more descriptions of where the feedback applies; they replace the written categories"})
    near_hint: list[str] | None = field(default=None, metadata={
        "help": "one or more descriptions of related situations where it must NOT apply"})
    check: list[str] | None = field(default=None, metadata={
        "help": "checkable rule(s) KIND=VALUE (starts_with, ends_with, contains, excludes, regex, max_sentences, "
                "max_words, language, no_emoji); default: read from the feedback text, else an LLM judge"})
    envs: list[str] | None = field(default=None, metadata={
        "help": "environments whose dialogue contexts enter the prompt pool; default: all registered"})
    encoder: str = field(default="embedded:minilm", metadata={"help": "sentence encoder that checks scope"})
    threshold_in: float = field(default=0.4, metadata={
        "help": "least encoder similarity of an in-scope prompt", "min": -1, "max": 1})
    threshold_out: float = field(default=0.2, metadata={
        "help": "out-of-scope prompts are below this similarity to every in- and near-scope description",
        "min": -1, "max": 1})
    categories: int = field(default=4, metadata={
        "help": "categories the writer proposes per scope (without hints)", "gt": 0})
    written_prompts: int = field(default=4, metadata={"help": "prompts the writer proposes per category", "gt": 0})
    train_prompts: int = field(default=48, metadata={"help": "training prompts per scope (in, near, out)", "gt": 0})
    eval_prompts: int = field(default=16, metadata={"help": "held-out prompts per scope for evaluation", "gt": 0})
    revisions: int = field(default=2, metadata={"help": "revisions sampled per in-scope prompt", "gt": 0})
    max_new_tokens: int = field(default=40, metadata={
        "help": "tokens per reply (baseline, revision, evaluation)", "min": 1})
    lambda_out: float = field(default=0.2, metadata={"help": "λ1: weight of the out-of-scope cross-entropy", "min": 0})
    lambda_near: float = field(default=0.1, metadata={"help": "λ2: weight of the near-scope cross-entropy", "min": 0})
    beta: float = field(default=0.1, metadata={"help": "DPO β", "gt": 0})
    sft_weight: float = field(default=0.0, metadata={
        "help": "weight of a negative log-likelihood term on the in-scope revisions y⁺, added to the DPO loss of "
                "C3PO and of the DPO baseline (RPO, Pang et al. 2024); 0 is the paper's loss. Small models need it: "
                "without it DPO lowers y⁺ and y⁻ together", "min": 0})
    lora_r: int = field(default=64, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=128, metadata={"help": "LoRA alpha", "min": 1})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout", "min": 0, "max": 1})
    lr: float = field(default=5e-5, metadata={"help": "learning rate (cosine schedule)", "gt": 0})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps spent warming up", "min": 0, "max": 1})
    epochs: float = field(default=1.0, metadata={"help": "passes over the training data", "gt": 0})
    batch_size: int = field(default=4, metadata={"help": "in-scope pairs per step (each with one near- and one "
                                                         "out-of-scope completion)", "min": 1})
    max_length: int = field(default=384, metadata={"help": "tokens per training sequence", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    baselines: bool = field(default=False, metadata={
        "help": "also train DPO on in-scope pairs only and SFT on the revisions, and evaluate every method with "
                "in-context feedback, on the same data"})
    resume: bool = field(default=False, metadata={
        "help": "reuse the data already written in the adapter's folder and train again (training options, such as "
                "--epochs or --lr, may differ)"})
