"""``workbench train <method>``: the TRL trainers (and the workbench PPO) behind one entry point.

Each method names its TRL trainer and config class, the data format it trains on and the
options it fixes (SimPO is TRL's CPO with ``loss_type="simpo"`` and no NLL term, Meng et al.
2024). :func:`train` loads the policy (optionally LoRA / QLoRA through PEFT), builds the data
(episodes converted, or a TRL dataset), the rewards of the online methods (a reward model, or
the environment in the loop), runs the trainer with metrics streamed to the run directory, and
saves the model (or adapter) to ``<out>/model`` with a loss / reward plot.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from workbench.errors import WorkbenchError
from workbench.runs import Run
from workbench.training.config import FORMATS, TrainConfig, check_trl_keys, trl_config
from workbench.training.data import FILTERS, KINDS, load_rows, prepare
from workbench.training.masking import LABELS, role_labels
from workbench.training.preferences import BY


@dataclass(frozen=True)
class Method:
    help: str
    trainer: str
    """``module:Class`` of the TRL trainer."""
    config: str
    """``module:Class`` of its config."""
    options: dict[str, Any] = field(default_factory=dict)
    """TRL options the method fixes (``--trl`` may still override them)."""


METHODS = {
    "sft": Method("supervised fine-tuning; in multi-turn dialogues only the agent's turns carry loss",
                  "trl:SFTTrainer", "trl:SFTConfig"),
    "reward": Method("reward model on preference pairs (Bradley-Terry)", "trl:RewardTrainer", "trl:RewardConfig"),
    "dpo": Method("direct preference optimisation and its loss variants (--loss_type, --f_divergence_type)",
                  "trl:DPOTrainer", "trl:DPOConfig"),
    "kto": Method("Kahneman-Tversky optimisation on unpaired good / bad replies", "trl:KTOTrainer", "trl:KTOConfig"),
    "orpo": Method("odds-ratio preference optimisation, no reference model",
                   "trl.experimental.orpo:ORPOTrainer", "trl.experimental.orpo:ORPOConfig"),
    "simpo": Method("SimPO: length-normalised reward margin, no reference model",
                    "trl.experimental.cpo:CPOTrainer", "trl.experimental.cpo:CPOConfig",
                    {"loss_type": "simpo", "cpo_alpha": 0.0}),
    "grpo": Method("group-relative policy optimisation; with --env whole episodes against the simulator",
                   "trl:GRPOTrainer", "trl:GRPOConfig"),
    "rloo": Method("REINFORCE leave-one-out; with --env the turn's reward is its episode's return",
                   "trl:RLOOTrainer", "trl:RLOOConfig"),
    "online-dpo": Method("online DPO: pairs sampled from the policy, ranked by the reward",
                         "trl.experimental.online_dpo:OnlineDPOTrainer",
                         "trl.experimental.online_dpo:OnlineDPOConfig"),
    "ppo": Method("PPO (PPO-max stabilisers) over whole episodes against the simulator (workbench's own)",
                  "workbench.training.ppo:PPO", "workbench.training.config:TrainConfig"),
}
ONLINE = ("grpo", "rloo", "online-dpo", "ppo")


def load_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def model_source(spec: str) -> str:
    """The folder of a local model spec (``embedded:gemma-3-270m`` or a model folder)."""
    from workbench.llm.resolve import _local_source

    name, source, hub = _local_source(spec)
    if hub:
        raise WorkbenchError(f"model spec {spec!r}: training needs a local model folder or embedded:gemma-3-270m")
    return source


def quantization(config: TrainConfig) -> Any:
    """The 4-bit NF4 config of QLoRA (Dettmers et al. 2023), where bitsandbytes and a GPU exist."""
    if not config.qlora:
        return None
    import torch

    if importlib.util.find_spec("bitsandbytes") is None or not torch.cuda.is_available():
        raise WorkbenchError("--qlora needs bitsandbytes and a CUDA GPU; use --lora on this machine")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def load_tokenizer(source: str) -> Any:
    """The model's tokenizer, padding with EOS where it has no pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(config: TrainConfig, *, reward: bool = False) -> tuple[Any, Any]:
    """The policy (or, for ``reward``, a one-label sequence classifier) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    source = model_source(config.model)
    tokenizer = load_tokenizer(source)
    kwargs: dict[str, Any] = {"quantization_config": quantization(config)} if config.qlora else {}
    if reward:
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, **kwargs)
        model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return model, tokenizer


def lora_config(config: TrainConfig, reward: bool = False) -> Any:
    if not (config.lora or config.qlora):
        return None
    from peft import LoraConfig

    target = config.lora_target if config.lora_target == "all-linear" else [
        t.strip() for t in config.lora_target.split(",") if t.strip()]
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=target, task_type="SEQ_CLS" if reward else "CAUSAL_LM")


def chat_mode(config: TrainConfig, tokenizer: Any) -> bool:
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if config.format == "chat" and not has_template:
        raise WorkbenchError(f"{config.model} has no chat template; use --format transcript")
    return has_template if config.format == "auto" else config.format == "chat"


def check(config: TrainConfig, method: str) -> None:
    """Refuse inconsistent options before anything loads."""
    if method not in METHODS:
        raise WorkbenchError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
    if method == "ppo" and not config.env:
        raise WorkbenchError("ppo trains on whole episodes: it needs --env (for a reward model use grpo or rloo)")
    if method in ONLINE:
        if not config.env and not (config.reward_model and config.data):
            raise WorkbenchError(f"{method} needs --env (rewards from episodes), or --reward_model with --data "
                                 "(prompts)")
        if config.env and config.reward_model:
            raise WorkbenchError("give --env or --reward_model, not both")
    elif not config.data:
        raise WorkbenchError(f"{method} needs --data (episodes or a TRL-format dataset)")
    if method == "ppo" and config.trl:
        raise WorkbenchError("--trl passes options to TRL trainers; the workbench PPO has its own flags")
    if method != "ppo":
        check_trl_keys(config, load_class(METHODS[method].config))
    model_source(config.model)
    quantization(config)
    if method in ONLINE and config.env and config.prompts < 1:
        raise WorkbenchError("--prompts must be at least 1")
    if config.data and not Path(config.data).exists():
        raise WorkbenchError(f"no data at {config.data}")
    if config.env:
        from workbench.registry import env_class

        env_class(config.env)
    for name, value, allowed in (("format", config.format, FORMATS), ("pairs", config.pairs, BY),
                                 ("episode_filter", config.episode_filter, FILTERS)):
        if value not in allowed:
            raise WorkbenchError(f"unknown {name} {value!r} (use {', '.join(allowed)})")


class MetricsToRun(TrainerCallback):
    """Appends every log record of the main process to the run's metrics.jsonl."""

    def __init__(self, run: Run):
        self.run = run

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs and state.is_world_process_zero:
            self.run.log_metrics({"step": state.global_step,
                                  **{k: v for k, v in logs.items() if isinstance(v, (int, float))}})


def plot_metrics(run: Run, method: str) -> Path | None:
    """Loss and reward curves from the run's metrics (``plots/train.png``)."""
    from workbench.evaluate import plot_lines

    records = run.metrics()
    panels = []
    for title, keys in (("loss", ("loss",)), ("reward", ("reward", "rewards/margins", "return", "episode_return"))):
        lines = {k: ([r["step"] for r in records if k in r], [r[k] for r in records if k in r]) for k in keys}
        lines = {k: v for k, v in lines.items() if v[0]}
        if lines:
            panels.append({"title": title, "xlabel": "step", "ylabel": title, "lines": lines})
    return plot_lines(panels, run.plot_path("train.png"), f"workbench train {method}") if panels else None


def train(config: TrainConfig, method: str) -> tuple[Run, dict[str, Any]]:
    """Train with ``method``; return the run and a summary (first and last logged loss / reward).
    Under ``accelerate launch`` every process trains and the main process writes the run directory."""
    from accelerate import PartialState

    check(config, method)
    main = PartialState().is_main_process
    if main:
        Run.open(config.out, {"method": method, **dataclasses.asdict(config)}, resume=config.resume,
                 resumable_changes=("resume", "max_steps", "epochs"))
    PartialState().wait_for_everyone()
    run = Run(config.out)
    if method == "ppo":
        from workbench.training.ppo import train_ppo

        summary = train_ppo(config, run)
    else:
        summary = _train_trl(config, method, run)
    if main:
        plot_metrics(run, method)
        run.write_summary(f"# workbench train {method}\n\n"
                          + "\n".join(f"- {k}: {v}" for k, v in summary.items()) + "\n")
    return run, summary


def _train_trl(config: TrainConfig, method: str, run: Run) -> dict[str, Any]:
    spec = METHODS[method]
    model, tokenizer = load_model(config, reward=method == "reward")
    chat = chat_mode(config, tokenizer)
    kind = KINDS[method]
    options: dict[str, Any] = dict(spec.options)
    extra: dict[str, Any] = {}
    env_name = None
    labels = dict(LABELS)
    if method in ONLINE and config.env:
        from workbench.training.online import env_setup

        rows, extra, options_env, env = env_setup(config, method, tokenizer, chat)
        options.update(options_env)
        env_name = env.name
        labels = role_labels(env.user_role, env.agent_role)
    else:
        rows, env_name = load_rows(config.data, kind, agent_role=config.agent_role, system=config.system,
                                   episode_filter=config.episode_filter, pairs=config.pairs,
                                   min_margin=config.min_margin)
        if env_name or config.env:  # episodes name their environment; a TRL table may name it with --env
            from workbench.registry import env_class

            cls = env_class(env_name or config.env)
            labels = role_labels(cls.user_role, config.agent_role or cls.agent_role)
        if method in ONLINE:
            extra["reward_funcs"] = [config.reward_model]
    dataset = prepare(rows, kind, tokenizer, chat=chat, labels=labels, where=str(config.data or config.env))
    args = trl_config(config, load_class(spec.config), **options)
    trainer = load_class(spec.trainer)(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                       peft_config=lora_config(config, reward=method == "reward"),
                                       callbacks=[MetricsToRun(run)], **extra)
    checkpoints = Path(args.output_dir)
    resume = config.resume and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(str(run.path / "model"))  # with the tokenizer, from the main process
    return summarise(run.metrics(), method, len(dataset), env_name)


def summarise(records: list[dict[str, Any]], method: str, rows: int, env: str | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"method": method, "rows": rows, "steps": max((r["step"] for r in records), default=0)}
    if env:
        summary["env"] = env
    for key in ("loss", "reward", "rewards/margins", "rewards/accuracies", "return"):
        values = [r[key] for r in records if key in r and not math.isnan(r[key])]
        if values:
            summary[f"{key} first"], summary[f"{key} last"] = round(values[0], 4), round(values[-1], 4)
    return summary
