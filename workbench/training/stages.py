"""Multi-stage training runs: finished stages recorded once, JSONL data files, LoRA adapters merged into model folders.

Methods that chain trainers (iTool's warm-up and iterations, Retroformer's SFT, reward model and PPO) record each
finished stage in ``<out>/stages.json`` (:class:`Stages`), so a resumed run skips what is done, and merge each stage's
LoRA adapter into a model folder (:func:`merge`) that the next stage trains on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from workbench.runs import atomic_write


class Stages:
    """The finished stages of a run and what each recorded, kept in a JSON file written atomically."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}

    def __contains__(self, name: str) -> bool:
        return name in self.done

    def __getitem__(self, name: str) -> dict[str, Any]:
        return self.done[name]

    def mark(self, name: str, record: dict[str, Any]) -> None:
        self.done[name] = record
        atomic_write(self.path, json.dumps(self.done, indent=1))


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    return atomic_write(path, "".join(json.dumps(r) + "\n" for r in rows))


def trained_and_merged(train_config: Any, model: str, folder: Path) -> dict[str, Any]:
    """Train ``train_config`` (a LoRA method config), merge its adapter into ``model`` at ``folder/merged``."""
    from workbench.training.trainers import train

    trained, result = train(train_config)
    merged = merge(model, trained.path / "model", folder / "merged")
    return {"model": str(merged), **{k: v for k, v in result.items()
                                     if k in ("steps", "loss first", "loss last", "rewards/accuracies last")}}


def fitting(model: str, max_length: int, rows: Sequence[dict[str, str]], completion: str = "completion"
            ) -> tuple[list[dict[str, str]], int]:
    """The rows whose prompt and ``completion`` fit ``max_length`` tokens of ``model``, and how many did not."""
    from workbench.training.trainers import load_tokenizer, model_source

    if not rows:
        return [], 0
    tokenizer = load_tokenizer(model_source(model))
    kept = [r for r in rows if len(tokenizer(r["prompt"] + r[completion])["input_ids"]) <= max_length]
    return kept, len(rows) - len(kept)


def final_model(folder: Path, model: str) -> Path:
    """``folder/model``: the run's final model folder, a copy of ``model``'s files (the last stage's merged model, or
    the base model when no stage trained); copied beside it and renamed, so it is whole or absent."""
    from workbench.training.trainers import load_tokenizer, model_source

    target = folder / "model"
    if target.is_dir():
        return target
    source = Path(model_source(model))
    partial = target.with_name("model.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    if not (partial / "tokenizer_config.json").is_file():
        load_tokenizer(str(source)).save_pretrained(partial)
    partial.rename(target)
    return target


def stage_lines(stages: Stages, names: Sequence[str]) -> list[str]:
    """A summary's sections: each finished stage of ``names`` with what it recorded."""
    lines: list[str] = []
    for name in names:
        if name in stages:
            lines += [f"## {name}", "", *(f"- {k}: {v}" for k, v in stages[name].items() if k != "history"), ""]
    return lines


def merge(model: str, adapter: Path, out: Path) -> Path:
    """``model`` with the LoRA adapter at ``adapter`` merged in, saved (with the tokenizer) as a model folder at
    ``out``; written beside it and renamed, so ``out`` is whole or absent."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from workbench.training.trainers import load_tokenizer, model_source

    source = model_source(model)
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(source), str(adapter)).merge_and_unload()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(partial)
    load_tokenizer(source).save_pretrained(partial)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


