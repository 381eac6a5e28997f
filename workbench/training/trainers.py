"""The TRL trainers (and the workbench PPO) behind the chat-model methods of ``workbench train``.

Each method's config class (``workbench.training.config``) names its TRL trainer and config class,
the data format it trains on and the options it fixes. :func:`train` loads the policy (optionally LoRA / QLoRA through PEFT), builds the data
(episodes converted, or a TRL dataset), the rewards of the online methods (a reward model, or
the environment in the loop), runs the trainer with metrics streamed to the run directory, and
saves the model (or adapter) to ``<out>/model`` with a loss / reward plot.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from workbench.env import Agent
from workbench.errors import WorkbenchError
from workbench.llm.embedded import GEMMA
from workbench.methods import load_object
from workbench.runs import Run
from workbench.training.config import (FORMATS, OnlineOptions, PPOTrainConfig, TrainConfig, TRLTrainConfig,
                                       check_trl_keys, trl_config)
from workbench.training.data import FILTERS, load_rows, prepare
from workbench.training.masking import LABELS, role_labels
from workbench.training.preferences import BY


def model_source(spec: str) -> str:
    """The folder of a local model spec (``embedded:gemma-3-270m`` or a model folder)."""
    from workbench.llm.resolve import ADAPTER_CONFIG, _local_source

    name, source, hub = _local_source(spec)
    if hub:
        raise WorkbenchError(f"model spec {spec!r}: training needs a local model folder or embedded:gemma-3-270m")
    if not (Path(source) / "config.json").is_file() and (Path(source) / ADAPTER_CONFIG).is_file():
        raise WorkbenchError(f"model spec {spec!r} is a LoRA adapter; training starts from a whole model folder "
                             "(merge the adapter into its base first, as `workbench train itool` does per stage)")
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


def check(config: TrainConfig) -> None:
    """Refuse inconsistent options and values out of range (the fields' metadata rules, and ``--trl`` values
    against the TRL field's ``choices`` or the same-named workbench field's rules) before anything loads."""
    from workbench.config import check_value, check_values

    check_values(config)
    method, online = config.method, isinstance(config, OnlineOptions)
    if isinstance(config, PPOTrainConfig) and not config.env:
        raise WorkbenchError("ppo trains on whole episodes: it needs --env (for a reward model use grpo or rloo)")
    if online:
        if not config.env and not (config.reward_model and config.data):
            raise WorkbenchError(f"{method} needs --env (rewards from episodes), or --reward_model with --data "
                                 "(prompts)")
        if config.env and config.reward_model:
            raise WorkbenchError("give --env or --reward_model, not both")
        if config.env and config.prompts < 1:
            raise WorkbenchError("--prompts must be at least 1")
    elif not config.data:
        raise WorkbenchError(f"{method} needs --data (episodes or a TRL-format dataset)")
    if isinstance(config, TRLTrainConfig):
        trl_class = load_object(config.trl_class)
        trl_fields = {f.name: f.metadata for f in dataclasses.fields(trl_class)}
        own = {f.name: f.metadata for f in dataclasses.fields(config)}
        for key, value in check_trl_keys(config, trl_class).items():
            rules = {k: v for k, v in {**own.get(key, {}), **trl_fields[key]}.items()
                     if k in ("min", "max", "gt", "choices")}
            for item in value if isinstance(value, list) else [value]:
                check_value(f"--trl {key}", item, rules)
    if config.model != f"embedded:{GEMMA}":  # the embedded Gemma is always there (converted on first load)
        model_source(config.model)
    quantization(config)
    if config.data and not Path(config.data).exists():
        raise WorkbenchError(f"no data at {config.data}")
    if config.env:
        from workbench.registry import env_class

        env_class(config.env)
    for name, allowed in (("format", FORMATS), ("pairs", BY), ("episode_filter", FILTERS)):
        value = getattr(config, name, None)
        if value is not None and value not in allowed:
            raise WorkbenchError(f"unknown {name} {value!r} (use {', '.join(allowed)})")


class MetricsToRun(TrainerCallback):
    """Appends every log record of the main process to the run's metrics.jsonl (``step``: the global step)."""

    def __init__(self, run: Run):
        self.run = run

    def resume_from(self, checkpoint: str | Path | None) -> None:
        """Before resumed training (main process): drop the rows logged past ``checkpoint``'s global step (all
        step rows without a checkpoint), which training logs again, so each step's row is stored once."""
        step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"] if checkpoint else 0
        self.run.cut_back(metrics=lambda r: "step" not in r or r["step"] <= step)

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


def train(config: TrainConfig, *, continuation: Agent | None = None) -> tuple[Run, dict[str, Any]]:
    """Train with ``config.method``; return the run and a summary (first and last logged loss / reward).
    ``continuation`` plays each episode on after a trained turn (RLOO and Online DPO with ``--env``).
    Under ``accelerate launch`` every process trains and the main process writes the run directory."""
    from accelerate import PartialState

    check(config)
    method = config.method
    main = PartialState().is_main_process
    run = Run.open(config.out, {"method": method, **dataclasses.asdict(config)}, resume=config.resume,
                   resumable_changes=("resume", "max_steps", "epochs")) if main else Run(config.out)
    PartialState().wait_for_everyone()
    with run:  # the main process's lock on the run folder, released here
        if isinstance(config, PPOTrainConfig):
            from workbench.training.ppo import train_ppo

            summary = train_ppo(config, run)
        else:
            summary = _train_trl(config, run, continuation)
        if main:
            plot_metrics(run, method)
            run.write_summary(f"# workbench train {method}\n\n"
                              + "\n".join(f"- {k}: {v}" for k, v in summary.items()) + "\n")
    return run, summary


def _train_trl(config: TRLTrainConfig, run: Run, continuation: Agent | None) -> dict[str, Any]:
    method, reward = config.method, config.method == "reward"
    model, tokenizer = load_model(config, reward=reward)
    chat = chat_mode(config, tokenizer)
    options: dict[str, Any] = dict(config.trl_fixed)
    extra: dict[str, Any] = {}
    env_name = None
    labels = dict(LABELS)
    online = isinstance(config, OnlineOptions)
    fallbacks: dict[str, float] = {}
    if online and config.env:
        from workbench.training.online import env_setup

        rows, extra, options_env, env = env_setup(config, tokenizer, chat, continuation)
        options.update(options_env)
        env_name = env.name
        labels = role_labels(env.user_role, env.agent_role)
    else:
        rows, env_name, fallbacks = load_rows(
            config.data, config.data_kind, agent_role=config.agent_role, system=config.system,
            episode_filter=getattr(config, "episode_filter", "all"), pairs=getattr(config, "pairs", "return"),
            min_margin=getattr(config, "min_margin", 0.0), keep_fallbacks=config.keep_fallbacks)
        if env_name or config.env:  # episodes name their environment; a TRL table may name it with --env
            from workbench.registry import env_class

            cls = env_class(env_name or config.env)
            labels = role_labels(cls.user_role, config.agent_role or cls.agent_role)
        if online:
            extra["reward_funcs"] = [config.reward_model]
    dataset = prepare(rows, config.data_kind, tokenizer, chat=chat, labels=labels,
                      where=str(config.data or config.env))
    if fallbacks and not any(r.get("event") == "data" for r in run.metrics()):  # fallback rates (once on resume)
        run.log_metrics({"event": "data", "rows": len(dataset), **{f"data {k}": v for k, v in fallbacks.items()}})
    args = trl_config(config, load_object(config.trl_class), **options)
    trainer = load_object(config.trainer)(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                          peft_config=lora_config(config, reward=reward),
                                          callbacks=[to_run := MetricsToRun(run)], **extra)
    checkpoints = Path(args.output_dir)
    last = get_last_checkpoint(str(checkpoints)) if config.resume and checkpoints.is_dir() else None
    if config.resume:
        from accelerate import PartialState

        if PartialState().is_main_process:
            to_run.resume_from(last)
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(str(run.path / "model"))  # with the tokenizer, from the main process
    return summarise(run.metrics(), method, len(dataset), env_name) | {
        f"data {k}": round(v, 4) for k, v in fallbacks.items()} | (
        {"fallback turns": "kept" if config.keep_fallbacks else "left out"} if fallbacks else {})


def summarise(records: list[dict[str, Any]], method: str, rows: int, env: str | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"method": method, "rows": rows,
                               "steps": max((r["step"] for r in records if "step" in r), default=0)}
    if env:
        summary["env"] = env
    for key in ("loss", "reward", "rewards/margins", "rewards/accuracies", "return"):
        values = [r[key] for r in records if key in r and not math.isnan(r[key])]
        if values:
            summary[f"{key} first"], summary[f"{key} last"] = round(values[0], 4), round(values[-1], 4)
    return summary
