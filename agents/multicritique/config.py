"""Options of ``workbench train critic`` (run by :mod:`agents.multicritique.train`) and of ``workbench critique``
(:mod:`apps.critique`), in a module light enough for ``--help``."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.config import out_field

META_CRITICS = ("auto", "ground-truth", "llm")
EMBEDDED = "embedded:gemma-3-270m"


@dataclass
class PanelOptions:
    """The critic agents, the meta-critic and the dialogues they critique (shared by training and the benchmark)."""

    env: str = field(default="negotiation", metadata={"help": "environment (see `workbench envs`)"})
    envs: list[str] | None = field(default=None, metadata={
        "help": "several environments at once (one critic for all of them); default: --env"})
    critic_models: list[str] = field(default_factory=lambda: [EMBEDDED], metadata={
        "help": "the critic agents' chat models (each with every persona)"})
    personas: int = field(default=3, metadata={"help": "critic personas per model (1: no persona)", "min": 1,
                                               "max": 4})
    meta_model: str | None = field(default=None, metadata={
        "help": "the LLM meta-critic's model; default: the first critic model"})
    policy: str = field(default="random", metadata={
        "help": "the template agent's strategy policy whose self-play dialogues are critiqued (random, "
                "most-frequent, fixed:<name>, planner:<folder>)"})
    acus: int = field(default=3, metadata={"help": "ACUs a critique may list", "min": 1})
    critique_tokens: int = field(default=120, metadata={"help": "new tokens per critique", "min": 8})
    critique_temperature: float = field(default=0.9, metadata={"help": "critic agents' sampling temperature",
                                                               "min": 0})
    heldout: float = field(default=0.3, metadata={
        "help": "share of each case file held out (the benchmark's cases; never trained on)", "min": 0, "max": 1})
    batch_size: int = field(default=64, metadata={"help": "dialogues in lockstep", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    resume: bool = field(default=False, metadata={"help": "continue an interrupted run in --out"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})


@dataclass
class CriticConfig(PanelOptions):
    model: str = field(default=EMBEDDED, metadata={
        "help": "the critic to train (LoRA): embedded:gemma-3-270m or a local model folder"})
    meta_critic: str = field(default="auto", metadata={
        "help": "who rates the panel's ACUs: ground-truth (the scripted persona's labels), llm (--meta_model), auto "
                "(ground-truth, since the dialogues are scripted self-play)", "choices": META_CRITICS})
    dialogues: int = field(default=48, metadata={"help": "self-play dialogues per environment (training cases)",
                                                 "min": 1})
    prefixes: float = field(default=0.5, metadata={
        "help": "share of dialogues also critiqued in flight (cut after a random agent turn), so the critic learns "
                "the verdict 'ongoing' it gives as a turn reward", "min": 0, "max": 1})
    marv: bool = field(default=True, metadata={"help": "validate critique pairs by revision (MARV) and train DPO",
                                               "no_help": "SFT only"})
    reviser: str = field(default=f"{EMBEDDED}@llamacpp", metadata={
        "help": "the agent model that revises the criticised turn (MARV)"})
    revisions: int = field(default=2, metadata={"help": "revisions per critique (MARV's k)", "min": 1})
    marv_margin: float = field(default=0.0, metadata={
        "help": "mean revision return by which the chosen critique must beat the rejected", "min": 0})
    max_pairs: int = field(default=2, metadata={"help": "MARV pairs per dialogue", "min": 1})
    epochs: float = field(default=2.0, metadata={"help": "passes over the merged critiques (SFT)", "gt": 0})
    lr: float = field(default=2e-4, metadata={"help": "SFT learning rate (LoRA)", "gt": 0})
    dpo_epochs: float = field(default=1.0, metadata={"help": "passes over the MARV pairs (DPO)", "gt": 0})
    dpo_lr: float = field(default=5e-5, metadata={"help": "DPO learning rate (LoRA)", "gt": 0})
    beta: float = field(default=0.1, metadata={"help": "DPO beta", "gt": 0})
    train_batch_size: int = field(default=4, metadata={"help": "rows per optimisation step", "min": 1})
    max_length: int = field(default=1024, metadata={
        "help": "tokens per training row; longer rows are left out and counted", "min": 16})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    out: str | None = out_field("critic", " (the trained critic: critic.json and model/)")


@dataclass
class BenchmarkConfig(PanelOptions):
    critics: list[str] = field(default_factory=lambda: ["single", "merged"], metadata={
        "help": "critics to score: single (one critic agent of the first --critic_models, no persona), merged "
                "(the panel merged by the LLM meta-critic, untrained), critic:<folder> (a trained critic), or a "
                "model spec (that model alone, zero-shot)"})
    cases: int | None = field(default=None, metadata={"help": "held-out cases per environment; default: all",
                                                      "min": 1})
    out: str | None = out_field("critique")
