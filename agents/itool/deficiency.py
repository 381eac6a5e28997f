"""The deficiency set of iTool (Zeng et al. 2025, arXiv 2501.09766, Sec. 3.2 "sample selection"): training items
ranked by the policy's perplexity of their ground-truth response, of which the hardest share is searched and
trained on in each iteration.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, TypeVar

import torch

T = TypeVar("T")


@torch.no_grad()
def completion_perplexity(model: Any, tokenizer: Any, examples: Sequence[Mapping[str, str]],
                          batch_size: int = 8) -> list[float]:
    """``exp(-mean log p(completion token | prompt, earlier tokens))`` for each ``{"prompt", "completion"}``.

    Tokenized as TRL's preference trainers do: the prompt with the tokenizer's special tokens, the completion
    without them and followed by EOS (the model is also scored on stopping); only the completion's tokens are
    scored. Batches of ``batch_size`` examples of similar length, left-padded so that every completion ends at the
    right edge and the LM head runs only over the completions' positions (``logits_to_keep``: long tool prompts
    and a large vocabulary, e.g. Gemma's 262k, made the full logits most of the cost). The result is in the
    order of ``examples``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [(tokenizer(e["prompt"])["input_ids"], tokenizer(e["completion"], add_special_tokens=False)["input_ids"]
                + eos) for e in examples]
    if any(not prompt or not completion for prompt, completion in encoded):
        raise ValueError("every prompt needs a token (a BOS will do) and every completion a token to score")
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]) + len(encoded[i][1]))
    result = [math.nan] * len(encoded)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        seqs = [encoded[i][0] + encoded[i][1] for i in rows]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        attention = torch.zeros_like(ids)
        for r, seq in enumerate(seqs):
            ids[r, width - len(seq):] = torch.tensor(seq)
            attention[r, width - len(seq):] = 1
        keep = max(len(encoded[i][1]) for i in rows) + 1
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids.to(device), attention_mask=attention.to(device), position_ids=positions.to(device),
                       logits_to_keep=keep).logits
        for r, i in enumerate(rows):
            n = len(encoded[i][1])  # the completion's tokens, predicted by the n positions before the last
            logps = torch.log_softmax(logits[r, keep - n - 1:keep - 1].float(), -1)
            targets = torch.tensor(encoded[i][1], device=logps.device)
            result[i] = math.exp(-logps.gather(-1, targets.unsqueeze(-1)).mean().item())
    return result


def deficiency_set(examples: Sequence[T], perplexities: Sequence[float], share: float = 0.3) -> list[T]:
    """The ``share`` of ``examples`` with the highest perplexity (``round(share * n)``, at least one), hardest
    first; equal perplexities keep the order of ``examples``."""
    if len(examples) != len(perplexities):
        raise ValueError(f"{len(examples)} examples but {len(perplexities)} perplexities")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if not examples:
        return []
    keep = max(1, round(share * len(examples)))
    ranked = sorted(range(len(examples)), key=lambda i: -perplexities[i])
    return [examples[i] for i in ranked[:keep]]
