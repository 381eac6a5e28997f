"""``TrainConfig``: the typed options of ``workbench train <method>``, mapped onto TRL's configs.

Options that TRL names the same way (``beta``, ``loss_type``, ``num_generations``, ...) are copied
to the trainer's config only where it has them; ``--trl KEY=VALUE`` reaches every other TRL option
(values are read as YAML, so ``--trl loss_type=[sigmoid,sft] loss_weights=[1.0,0.5]`` works). A
key the trainer's config lacks stops at start with an error naming it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from workbench.config import out_field
from workbench.errors import WorkbenchError

FORMATS = ("auto", "chat", "transcript")
DPO_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm")
"""``DPOConfig.loss_type``'s values in TRL 1.16 (its help lists them; its metadata has no ``choices``)."""
GRPO_LOSSES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
"""``GRPOConfig.loss_type``'s values in TRL 1.16 (from its help)."""
KTO_LOSSES = ("kto", "apo_zero_unpaired")
ONLINE_DPO_LOSSES = ("sigmoid", "ipo")
TRACKERS: dict[str, tuple[tuple[str, str], ...]] = {
    "azure_ml": (("azureml.core", "azureml-core"),), "clearml": (("clearml", "clearml"),),
    "codecarbon": (("codecarbon", "codecarbon"),), "comet_ml": (("comet_ml", "comet-ml"),),
    "dagshub": (("dagshub", "dagshub"), ("mlflow", "mlflow")), "dvclive": (("dvclive", "dvclive"),),
    "flyte": (("flytekit", "flytekit"), ("flytekitplugins.deck", "flytekitplugins-deck-standard")),
    "kubeflow": (), "mlflow": (("mlflow", "mlflow"),), "neptune": (("neptune", "neptune"),),
    "swanlab": (("swanlab", "swanlab"),), "tensorboard": (("tensorboard", "tensorboard"),),
    "trackio": (("trackio", "trackio"),), "wandb": (("wandb", "wandb"),),
}
"""The trackers of ``TrainingArguments.report_to`` in transformers 5 (its ``INTEGRATION_TO_CALLBACK``), each with
the modules it needs and the packages that install them."""
REPORT_TO = ("none", "all", *TRACKERS)
PPO_TRACKERS = ("tensorboard",)
"""The trackers the workbench's PPO logs to."""


@dataclass
class TrainConfig:
    """Options every method of ``workbench train`` takes; each method's config adds its own (an option a
    method does not take is refused by name)."""

    method: ClassVar[str] = ""
    """The registered method this config belongs to (``workbench.methods``)."""
    data_kind: ClassVar[str] = ""
    """The TRL data format it trains on (``workbench.training.data.COLUMNS``)."""
    model: str = field(default="embedded:gemma-3-270m", metadata={
        "help": "policy to train: embedded:gemma-3-270m or a local model folder (for reward: the backbone)"})
    data: str | None = field(default=None, metadata={
        "help": "training data: a run directory or episode file/folder (converted to the method's TRL format), "
                "or a dataset already in a TRL format (.jsonl/.json/.parquet/.csv file, or a save_to_disk folder)",
        "path": "in"})
    out: str | None = out_field("<method>", " (the model goes to <out>/model)")
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in <out>/checkpoints"})
    format: str = field(default="auto", metadata={
        "help": "chat (the tokenizer's chat template), transcript (\"Role: text\" lines for base models) or auto "
                "(chat when the tokenizer has a template; the embedded Gemma is a base model: transcript)"})
    system: str | None = field(default=None, metadata={"help": "system message put before every dialogue"})
    env: str | None = field(default=None, metadata={
        "help": "online methods: the environment whose episodes give the reward; the others, on a TRL table: the "
                "environment whose role names label the transcript"})
    agent_role: str | None = field(default=None, metadata={
        "help": "the role the policy speaks for in episode data; default: the environment's agent role"})
    keep_fallbacks: bool = field(default=False, metadata={
        "help": "also train on turns marked as fallbacks (a template line or '...' standing in for an empty model "
                "reply); by default they are left out and counted in the run's metrics"})
    epochs: float = field(default=1.0, metadata={"help": "passes over the data (num_train_epochs)", "gt": 0})
    max_steps: int = field(default=-1, metadata={
        "help": "optimizer steps; overrides --epochs when positive", "min": -1})
    lr: float | None = field(default=None, metadata={"help": "learning rate; default: the TRL trainer's own", "gt": 0})
    batch_size: int = field(default=4, metadata={"help": "per-device batch size", "min": 1})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps", "min": 1})
    max_length: int = field(default=512, metadata={
        "help": "tokens per training sequence (prompt plus completion)", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    report_to: list[str] = field(default_factory=lambda: ["none"], metadata={
        "help": "trackers that receive the logged metrics, as TRL's report_to: none, all (every installed one), or "
                "one or more of " + ", ".join(TRACKERS) + " (ppo: tensorboard); TensorBoard's files go to "
                "<out>/checkpoints/runs", "choices": REPORT_TO})
    bf16: bool | None = field(default=None, metadata={"help": "bf16 mixed precision; default: on a GPU that has it"})
    logging_steps: int = field(default=1, metadata={"help": "log the loss every N steps", "min": 1})
    save_steps: int = field(default=0, metadata={
        "help": "checkpoint every N steps (0: at the end of each epoch)", "min": 0})
    lora: bool = field(default=False, metadata={"help": "train a LoRA adapter (PEFT) instead of all weights"})
    qlora: bool = field(default=False, metadata={"help": "LoRA on a 4-bit base model (needs bitsandbytes and a GPU)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha", "min": 1})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout", "min": 0, "max": 1})
    lora_target: str = field(default="all-linear", metadata={
        "help": "modules that get LoRA: all-linear (every linear layer but the head) or a comma-separated list"})


@dataclass
class TRLTrainConfig(TrainConfig):
    """A method run by a TRL trainer (``trainer``, configured by ``trl_class``, both ``module:Class``, with the
    options ``trl_fixed`` fixes), on data of ``data_kind`` (``workbench.training.data.COLUMNS``); ``--trl``
    reaches any option of its TRL config."""

    trainer: ClassVar[str] = ""
    trl_class: ClassVar[str] = ""
    trl_fixed: ClassVar[dict[str, Any]] = {}
    data_kind: ClassVar[str] = ""

    trl: list[str] | None = field(default=None, metadata={
        "help": "any other TRL config option as KEY=VALUE (values read as YAML), e.g. --trl warmup_steps=0.1 "
                "(a float below 1 is a share of the steps)"})

    def trl_overrides(self) -> dict[str, Any]:
        """The ``--trl KEY=VALUE`` pairs as a dict (values parsed as YAML)."""
        overrides = {}
        for item in self.trl or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise WorkbenchError(f"--trl expects KEY=VALUE, got {item!r}")
            try:
                overrides[key.strip()] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise WorkbenchError(f"--trl {key}: value {value!r} is not valid YAML") from None
        return overrides


@dataclass
class SFTTrainConfig(TRLTrainConfig):
    method: ClassVar[str] = "sft"
    trainer: ClassVar[str] = "trl:SFTTrainer"
    trl_class: ClassVar[str] = "trl:SFTConfig"
    data_kind: ClassVar[str] = "dialogue"
    episode_filter: str = field(default="all", metadata={
        "help": "episodes that become SFT data: all, or success (filtered behaviour cloning)"})


@dataclass
class PairsTrainConfig(TRLTrainConfig):
    """Methods that learn from preference pairs (or good / bad replies) built from episodes."""

    data_kind: ClassVar[str] = "preference"
    pairs: str = field(default="return", metadata={
        "help": "preference pairs from episodes: return (best against worst return among episodes that share the "
                "dialogue up to an agent turn), critic (the turn's own critic reward), or hindsight (regenerated "
                "branches against their original)"})
    min_margin: float = field(default=0.0, metadata={
        "help": "smallest return (or reward) gap of a preference pair", "min": 0})


@dataclass
class RewardTrainConfig(PairsTrainConfig):
    method: ClassVar[str] = "reward"
    trainer: ClassVar[str] = "trl:RewardTrainer"
    trl_class: ClassVar[str] = "trl:RewardConfig"


@dataclass
class BetaOption:
    beta: float | None = field(default=None, metadata={"help": "DPO-family coefficient; default: TRL's", "gt": 0})


@dataclass
class KLBetaOption:
    beta: float | None = field(default=None, metadata={
        "help": "KL coefficient against the reference policy (0: none, no reference model); default: TRL's",
        "min": 0})


@dataclass
class DPOTrainConfig(BetaOption, PairsTrainConfig):
    method: ClassVar[str] = "dpo"
    trainer: ClassVar[str] = "trl:DPOTrainer"
    trl_class: ClassVar[str] = "trl:DPOConfig"
    loss_type: list[str] | None = field(default=None, metadata={
        "help": "DPO loss(es): sigmoid, hinge, ipo, exo_pair, nca_pair, robust, bco_pair, sppo_hard, aot, "
                "aot_unpaired, apo_zero, apo_down, discopop, sft, ... (several are summed with --trl loss_weights=)",
        "choices": DPO_LOSSES})
    f_divergence_type: str | None = field(default=None, metadata={
        "help": "DPO's divergence: reverse_kl (default), forward_kl, js_divergence, alpha_divergence"})


@dataclass
class KTOTrainConfig(BetaOption, PairsTrainConfig):
    method: ClassVar[str] = "kto"
    trainer: ClassVar[str] = "trl:KTOTrainer"
    trl_class: ClassVar[str] = "trl:KTOConfig"
    data_kind: ClassVar[str] = "unpaired"
    loss_type: str | None = field(default=None, metadata={
        "help": "kto (default) or apo_zero_unpaired", "choices": KTO_LOSSES})


@dataclass
class ORPOTrainConfig(BetaOption, PairsTrainConfig):
    method: ClassVar[str] = "orpo"
    trainer: ClassVar[str] = "trl.experimental.orpo:ORPOTrainer"
    trl_class: ClassVar[str] = "trl.experimental.orpo:ORPOConfig"


@dataclass
class SimPOTrainConfig(BetaOption, PairsTrainConfig):
    """SimPO is TRL's CPO with ``loss_type="simpo"`` and no NLL term (Meng et al. 2024)."""

    method: ClassVar[str] = "simpo"
    trainer: ClassVar[str] = "trl.experimental.cpo:CPOTrainer"
    trl_class: ClassVar[str] = "trl.experimental.cpo:CPOConfig"
    trl_fixed: ClassVar[dict[str, Any]] = {"loss_type": "simpo", "cpo_alpha": 0.0}


@dataclass
class OnlineOptions:
    """Methods that generate while they train, rewarded by ``--env`` (or a reward model on ``--data`` prompts)."""

    data_kind: ClassVar[str] = "prompt"
    reward_model: str | None = field(default=None, metadata={
        "help": "a reward model folder (from `workbench train reward`) instead of an environment", "path": "in"})
    simulator: str = field(default="scripted", metadata={"help": "user simulator of --env (scripted or llm)"})
    simulator_model: str | None = field(default=None, metadata={
        "help": "chat model of the llm simulator and critic; default: the embedded Gemma"})
    cases: str | None = field(default=None, metadata={
        "help": "case file of --env; default: the environment's", "path": "in"})
    max_turns: int | None = field(default=None, metadata={
        "help": "agent turns per episode; default: the env's", "min": 1})
    prompts: int = field(default=64, metadata={
        "help": "distinct dialogue states (episode starts) to train on", "min": 1})
    max_new_tokens: int = field(default=32, metadata={"help": "tokens the policy generates per agent turn", "min": 1})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of the policy", "gt": 0})


@dataclass
class GenerationsOption:
    num_generations: int = field(default=4, metadata={"help": "episodes (or replies) per dialogue state", "min": 1})


@dataclass
class ContinuationOption:
    continuation: str = field(default="random", metadata={
        "help": "with --env: the strategy policy that plays the episode on after the trained turn "
                "(random, most-frequent, fixed:<name>, planner:<folder>)"})


@dataclass
class GRPOTrainConfig(KLBetaOption, GenerationsOption, OnlineOptions, TRLTrainConfig):
    method: ClassVar[str] = "grpo"
    trainer: ClassVar[str] = "trl:GRPOTrainer"
    trl_class: ClassVar[str] = "trl:GRPOConfig"
    loss_type: str | None = field(default=None, metadata={
        "help": "grpo, dapo, dr_grpo, ...; default: TRL's", "choices": GRPO_LOSSES})


@dataclass
class RLOOTrainConfig(KLBetaOption, ContinuationOption, GenerationsOption, OnlineOptions, TRLTrainConfig):
    method: ClassVar[str] = "rloo"
    trainer: ClassVar[str] = "trl:RLOOTrainer"
    trl_class: ClassVar[str] = "trl:RLOOConfig"


@dataclass
class OnlineDPOTrainConfig(BetaOption, ContinuationOption, OnlineOptions, TRLTrainConfig):
    method: ClassVar[str] = "online-dpo"
    trainer: ClassVar[str] = "trl.experimental.online_dpo:OnlineDPOTrainer"
    trl_class: ClassVar[str] = "trl.experimental.online_dpo:OnlineDPOConfig"
    loss_type: str | None = field(default=None, metadata={"help": "sigmoid (default) or ipo",
                                                          "choices": ONLINE_DPO_LOSSES})


@dataclass
class PPOTrainConfig(GenerationsOption, OnlineOptions, TrainConfig):
    """The workbench's PPO (``workbench.training.ppo``): its own options, no ``--trl``."""

    method: ClassVar[str] = "ppo"
    ppo_epochs: int = field(default=2, metadata={"help": "optimisation epochs over each batch of episodes", "min": 1})
    clip_range: float = field(default=0.2, metadata={"help": "policy ratio clip epsilon", "gt": 0})
    dual_clip: float | None = field(default=None, metadata={
        "help": "dual-clip constant c > 1 bounding the loss of negative-advantage tokens (Ye et al. 2020)", "gt": 1})
    value_clip: float = field(default=0.2, metadata={"help": "value clip around the old values", "gt": 0})
    vf_coef: float = field(default=0.5, metadata={"help": "value-loss weight", "min": 0})
    gamma: float = field(default=1.0, metadata={"help": "discount per token", "min": 0, "max": 1})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda", "min": 0, "max": 1})
    kl_coef: float = field(default=0.05, metadata={"help": "per-token KL penalty against the reference policy",
                                                   "min": 0})
    reward_clip: float = field(default=5.0, metadata={"help": "clip normalised rewards to [-c, c]", "gt": 0})


SHARED_NAMES = ("beta", "loss_type", "f_divergence_type", "num_generations", "temperature", "max_length")
"""Workbench options copied to a TRL config under the same name, where that config has the field."""


def check_trl_keys(config: TrainConfig, config_class: type) -> dict[str, Any]:
    """The ``--trl`` overrides, refusing any key ``config_class`` does not have."""
    known = {f.name for f in dataclasses.fields(config_class)}
    overrides = config.trl_overrides()
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise WorkbenchError(f"--trl {unknown[0]}: {config_class.__name__} has no option {unknown[0]!r}")
    return overrides


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


def trackers(report_to: list[str]) -> list[str]:
    """The trackers ``--report_to`` names: ``all`` is every tracker whose packages are installed, ``none`` none."""
    if report_to == ["all"]:
        return [t for t, needs in TRACKERS.items() if needs and all(_installed(m) for m, _ in needs)]
    return [t for t in report_to if t != "none"]


def check_trackers(config: TrainConfig) -> None:
    """Refuse ``--report_to`` that mixes ``none`` or ``all`` with trackers, names a tracker the method cannot log to,
    or one whose package is not installed (at start, before any folder is made)."""
    names = config.report_to
    if len(names) > 1 and {"none", "all"} & set(names):
        raise WorkbenchError(f"--report_to {' '.join(names)}: none and all go alone")
    if config.method == "ppo" and names != ["all"]:
        unsupported = [t for t in trackers(names) if t not in PPO_TRACKERS]
        if unsupported:
            raise WorkbenchError(f"--report_to {unsupported[0]}: ppo logs to {', '.join(PPO_TRACKERS)} only")
    for tracker in trackers(names):
        missing = [package for module, package in TRACKERS[tracker] if not _installed(module)]
        if missing:
            raise WorkbenchError(f"--report_to {tracker} needs {' and '.join(missing)}: pip install {' '.join(missing)}")


def default_bf16() -> bool:
    """bf16 mixed precision where the GPU has it (never on CPU)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def trl_config(config: TrainConfig, config_class: type, **method_options: Any) -> Any:
    """Build ``config_class`` (a TRL ``*Config``) from the workbench options, the method's own
    options and the ``--trl`` passthrough (which wins), refusing keys the class does not have."""
    known = {f.name for f in dataclasses.fields(config_class)}
    overrides = check_trl_keys(config, config_class)
    bf16 = default_bf16() if config.bf16 is None else config.bf16
    options: dict[str, Any] = {
        "output_dir": f"{config.out}/checkpoints", "num_train_epochs": config.epochs, "max_steps": config.max_steps,
        "per_device_train_batch_size": config.batch_size, "gradient_accumulation_steps": config.grad_accum,
        "seed": config.seed, "data_seed": config.seed, "bf16": bf16, "logging_steps": config.logging_steps,
        "save_strategy": "steps" if config.save_steps else "epoch", "report_to": trackers(config.report_to),
        "disable_tqdm": False, "save_total_limit": 2,
    }
    if config.save_steps:
        options["save_steps"] = config.save_steps
    if config.lr is not None:
        options["learning_rate"] = config.lr
    defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
    for name in SHARED_NAMES:
        value = getattr(config, name, None)
        if value is not None and name in known:
            if isinstance(value, list) and isinstance(defaults[name], str):  # a trainer with one loss type
                if len(value) != 1:
                    raise WorkbenchError(f"{config_class.__name__} takes one {name}, got {', '.join(value)}")
                value = value[0]
            options[name] = value
    options.update({k: v for k, v in method_options.items() if k in known})
    options.update(overrides)
    try:
        return config_class(**options)
    except (TypeError, ValueError) as err:
        raise WorkbenchError(f"{config_class.__name__}: {err}") from None
