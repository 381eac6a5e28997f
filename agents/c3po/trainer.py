"""C3PO training (Stephan et al., ICML 2024, Eq. 3) and the baselines trained on the same data.

    L = L_DPO(in-scope: y⁺ over y⁻) + λ1 · CE(out-of-scope y⁻) + λ2 · CE(near-scope y⁻)

plus, when ``sft_weight`` > 0, that weight times the NLL of y⁺ (RPO, Pang et al. 2024, Eq. 1; TRL's
``loss_type=["sigmoid", "sft"]``), which keeps DPO from pushing y⁺ down with y⁻ (likelihood displacement).

``C3POTrainer`` subclasses TRL's ``DPOTrainer``: every training row carries one in-scope preference
pair plus one out-of-scope and one near-scope prompt with the base model's own reply; the collator
pads those two into one extra batch, and the loss adds their token-mean cross-entropy, weighted λ1
and λ2, to TRL's DPO loss. Keeping the base model's replies likely outside the scope is what stops
the adapter from overgeneralising. The baselines are TRL's plain ``DPOTrainer`` on the in-scope pairs
and ``SFTTrainer`` on the revisions. All train a LoRA adapter (PEFT) on every linear layer but the head.
"""

from __future__ import annotations

from itertools import cycle, islice
from pathlib import Path
from typing import Any, Sequence

import torch
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from agents.c3po.config import FeedbackConfig
from agents.c3po.generate import Example, FeedbackData
from agents.c3po.prompts import Prompt
from workbench.errors import WorkbenchError
from workbench.llm.local import format_transcript
from workbench.runs import atomic_dir
from workbench.training.config import default_bf16
from workbench.training.masking import transcript_reply
from workbench.training.trainers import load_tokenizer

ANCHORS = ("out", "near")


def render(prompt: Prompt, reply: str, tokenizer: Any, chat: bool) -> tuple[str, str]:
    """(prompt text, completion text) exactly as the model sees them when it answers: the chat template,
    or the "Role: text" transcript ``LocalChatModel`` writes for base models."""
    if not chat:
        return format_transcript(prompt.chat(), assistant_label=prompt.speaker)[0], transcript_reply(reply)
    messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
    head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": reply}], tokenize=False)
    if not full.startswith(head):
        raise WorkbenchError("the model's chat template does not render a conversation as a prefix of its "
                             "continuation, so replies cannot be trained as they are generated; use a transcript model")
    return head, full[len(head):]


def tokenize_reply(tokenizer: Any, prompt: str, completion: str, chat: bool) -> tuple[list[int], list[int]]:
    """Prompt ids and completion ids, split where the tokenizations of prompt and prompt + completion part."""
    special = {"add_special_tokens": not chat}
    head = tokenizer(prompt, **special)["input_ids"]
    full = tokenizer(prompt + completion, **special)["input_ids"]
    cut = next((i for i, (a, b) in enumerate(zip(head, full)) if a != b), min(len(head), len(full)))
    return full[:cut], full[cut:]


def preference_rows(examples: Sequence[Example], tokenizer: Any, chat: bool) -> list[dict[str, str]]:
    """TRL preference rows (prompt, chosen y⁺, rejected y⁻) in the text the model sees."""
    rows = []
    for e in examples:
        prompt, chosen = render(e.prompt, e.revised, tokenizer, chat)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": render(e.prompt, e.baseline, tokenizer, chat)[1]})
    return rows


def c3po_rows(data: FeedbackData, tokenizer: Any, chat: bool, max_length: int) -> list[dict[str, Any]]:
    """One row per in-scope pair, each with an out- and a near-scope reply that fits in ``max_length``
    tokens (cycled when fewer; an empty list where a scope has none, whose loss term then drops out)."""
    rows = preference_rows(data.splits["train_in"], tokenizer, chat)
    for scope in ANCHORS:
        encoded = [tokenize_reply(tokenizer, *render(e.prompt, e.baseline, tokenizer, chat), chat)
                   for e in data.splits[f"train_{scope}"]]
        fitting = [(p, c) for p, c in encoded if c and len(p) + len(c) <= max_length]
        picked = list(islice(cycle(fitting), len(rows))) if fitting else [([], [])] * len(rows)
        for row, (prompt, completion) in zip(rows, picked):
            row[f"{scope}_prompt_ids"], row[f"{scope}_completion_ids"] = prompt, completion
    return rows


class C3POCollator(DataCollatorForPreference):
    """TRL's preference collator plus ``anchor_*``: the out- and near-scope sequences, right-padded,
    with a completion mask and ``anchor_group`` (0 out-of-scope, 1 near-scope)."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        output = super().torch_call(examples)
        ids, masks, groups = [], [], []
        for group, scope in enumerate(ANCHORS):
            for e in examples:
                prompt, completion = e[f"{scope}_prompt_ids"], e[f"{scope}_completion_ids"]
                if completion:  # c3po_rows keeps only sequences that fit in max_length
                    ids.append(prompt + completion)
                    masks.append([0] * len(prompt) + [1] * len(completion))
                    groups.append(group)
        width = max((len(s) for s in ids), default=1)
        output["anchor_input_ids"] = torch.tensor([s + [self.pad_token_id] * (width - len(s)) for s in ids],
                                                  dtype=torch.long).view(len(ids), width)
        output["anchor_attention_mask"] = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in ids],
                                                       dtype=torch.long).view(len(ids), width)
        output["anchor_completion_mask"] = torch.tensor([m + [0] * (width - len(m)) for m in masks],
                                                        dtype=torch.long).view(len(ids), width)
        output["anchor_group"] = torch.tensor(groups, dtype=torch.long)
        return output


class C3POTrainer(DPOTrainer):
    """TRL's ``DPOTrainer`` with C3PO's cross-entropy terms on out- and near-scope baseline replies (Eq. 3)."""

    def __init__(self, *args: Any, lambda_out: float = 0.2, lambda_near: float = 0.1, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lambdas = {"out": lambda_out, "near": lambda_near}

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns = [*self._signature_columns,
                                   *(f"{s}_{part}_ids" for s in ANCHORS for part in ("prompt", "completion"))]

    def anchor_losses(self, model: Any, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Token-mean negative log-likelihood of the out- and near-scope replies (zero for an empty scope)."""
        ids, group = inputs["anchor_input_ids"], inputs["anchor_group"]
        zero = torch.zeros((), device=ids.device)
        if ids.numel() == 0:
            return {scope: zero for scope in ANCHORS}
        mask = inputs["anchor_completion_mask"]
        labels = ids.masked_fill(mask == 0, -100)
        logps = model(input_ids=ids, attention_mask=inputs["anchor_attention_mask"], labels=labels,
                      fused_lm_head=True, use_cache=False).log_probs
        token_mask = mask[:, 1:].to(logps.dtype)
        nll = -(logps[:, -token_mask.size(1):] * token_mask).sum(dim=1)
        return {scope: nll[group == g].sum() / token_mask[group == g].sum().clamp(min=1)
                for g, scope in enumerate(ANCHORS)}

    def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
        anchors = {k: inputs.pop(k) for k in [k for k in inputs if k.startswith("anchor_")]}
        result = super()._compute_loss(model, inputs, return_outputs)
        dpo = result[0] if return_outputs else result
        terms = self.anchor_losses(model, anchors)
        loss = dpo + sum(self.lambdas[s] * terms[s] for s in ANCHORS)
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["dpo_loss"].append(float(dpo.detach()))  # with the y⁺ NLL term when sft_weight > 0
        for scope in ANCHORS:
            self._metrics[mode][f"ce_{scope}"].append(float(terms[scope].detach()))
        return (loss, result[1]) if return_outputs else loss


def lora(config: FeedbackConfig) -> Any:
    """The paper's LoRA: rank r, α, dropout on every linear layer but the head."""
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def preference_args(config: FeedbackConfig, out: Path) -> DPOConfig:
    """DPO's options, shared by C3PO and the DPO baseline: β and the optional NLL term on y⁺."""
    losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, config.sft_weight]} if config.sft_weight else {}
    return trainer_args(DPOConfig, config, out, beta=config.beta, **losses)


def trainer_args(config_class: type, config: FeedbackConfig, out: Path, **extra: Any) -> Any:
    """A TRL ``*Config`` with the feedback run's optimisation options (cosine schedule, no checkpoints)."""
    return config_class(output_dir=str(out / "checkpoints"), learning_rate=config.lr, lr_scheduler_type="cosine",
                        warmup_steps=config.warmup_ratio, num_train_epochs=config.epochs,
                        per_device_train_batch_size=config.batch_size, max_length=config.max_length,
                        seed=config.seed, logging_steps=1, save_strategy="no", report_to="none",
                        gradient_checkpointing=False,  # a 270M model fits; recomputing costs a third more time
                        bf16=default_bf16(), **extra)


def train_method(method: str, data: FeedbackData, config: FeedbackConfig, source: str, chat: bool, out: Path,
                 callbacks: Sequence[Any] = ()) -> Path:
    """Train ``method`` (c3po, dpo or sft) as a LoRA adapter on ``source``, whose replies are rendered
    with its chat template (``chat``) or as a transcript, as ``LocalChatModel`` renders them; returns
    the adapter folder, written atomically."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    common = {"model": model, "processing_class": tokenizer, "peft_config": lora(config), "callbacks": list(callbacks)}
    if method == "sft":
        rows = [{"prompt": p, "completion": c} for p, c in
                (render(e.prompt, e.revised, tokenizer, chat) for e in data.splits["train_in"])]
        trainer = SFTTrainer(args=trainer_args(SFTConfig, config, out), train_dataset=Dataset.from_list(rows),
                             **common)
    elif method == "dpo":
        trainer = DPOTrainer(args=preference_args(config, out),
                             train_dataset=Dataset.from_list(preference_rows(data.splits["train_in"], tokenizer, chat)),
                             **common)
    else:
        args = preference_args(config, out)
        collator = C3POCollator(pad_token_id=tokenizer.pad_token_id, max_length=args.max_length,
                                truncation_mode=args.truncation_mode)
        trainer = C3POTrainer(args=args, train_dataset=Dataset.from_list(c3po_rows(data, tokenizer, chat,
                                                                                   config.max_length)),
                              data_collator=collator, lambda_out=config.lambda_out, lambda_near=config.lambda_near,
                              **common)
    trainer.train()
    with atomic_dir(out / "adapter") as target:
        trainer.model.save_pretrained(str(target))
    return out / "adapter"
