"""A fine-tuned copy of the embedded Gemma as a LoRA adapter in GGUF, so llama.cpp runs it on the quantized base.

Training merges LoRA adapters into full model folders (:func:`workbench.training.stages.merge`); a frozen role
(a trained critic) then runs faster on llama.cpp. The embedded Gemma's transformers weights are the dequantized
weights of its GGUF, exactly (checked by ``tests/test_gguf_lora.py`` against the file), so the fine-tuned model is
the GGUF's base plus ``W_tuned - W_base`` on each linear layer. Each difference is factored by SVD into ``B A`` of the
smallest rank that keeps ``1 - 1e-6`` of its energy (at most ``max_rank``; a model from LoRA stages of rank r1, r2
has rank <= r1 + r2, so nothing is lost), written as llama.cpp's LoRA tensors ``<tensor>.lora_a`` (r x in) and
``.lora_b`` (out x r) with ``adapter.lora.alpha`` 0 (scale 1). A model that changed anything but those linear
layers cannot be written so (None).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

LINEAR = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
          "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
          "mlp.down_proj": "ffn_down"}
"""Gemma 3's linear layers: transformers' name -> the GGUF's (``blk.<i>.<name>.weight``)."""
_NAME = re.compile(r"(?:model\.)?(?:language_model\.)?layers\.(\d+)\.(\w+\.\w+)\.weight")
ENERGY = 1 - 1e-6


def weights(folder: str | Path) -> dict[str, Any]:
    """A model folder's tensors (every ``*.safetensors`` file), as float32."""
    from safetensors.torch import load_file

    found: dict[str, Any] = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        found.update({k: v.float() for k, v in load_file(str(file)).items()})
    return found


def factor(delta: Any, max_rank: int) -> tuple[Any, Any, float]:
    """``(A, B, relative error)`` with ``B @ A`` the best rank-r approximation of ``delta`` (module docstring)."""
    import torch

    u, s, vh = torch.linalg.svd(delta, full_matrices=False)
    energy = torch.cumsum(s ** 2, 0) / max(float((s ** 2).sum()), 1e-30)
    rank = min(max_rank, int((energy < ENERGY).sum()) + 1)
    root = s[:rank].sqrt()
    a, b = root[:, None] * vh[:rank], u[:, :rank] * root[None, :]
    error = float(torch.linalg.norm(delta - b @ a) / max(float(torch.linalg.norm(delta)), 1e-30))
    return a.contiguous(), b.contiguous(), error


def export_lora(tuned: str | Path, base: str | Path, out: str | Path, max_rank: int = 64) -> dict[str, Any] | None:
    """Write ``tuned - base`` as a llama.cpp LoRA GGUF at ``out`` (atomically); what was written, or None when the
    difference is not in the linear layers alone."""
    import numpy as np
    from gguf import GGUFWriter, Keys

    new, old = weights(tuned), weights(base)
    if set(new) - set(old):
        return None
    tensors, errors = [], []
    for name, value in new.items():
        delta = value - old[name]
        if not bool(delta.abs().max() > 0):
            continue
        m = _NAME.fullmatch(name)
        if m is None or m.group(2) not in LINEAR:
            return None
        a, b, error = factor(delta, max_rank)
        target = f"blk.{m.group(1)}.{LINEAR[m.group(2)]}.weight"
        tensors += [(f"{target}.lora_a", a.numpy().astype(np.float32)), (f"{target}.lora_b", b.numpy().astype(np.float32))]
        errors.append(error)
    if not tensors:
        return None
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    writer = GGUFWriter(str(partial), arch="gemma3")
    writer.add_type("adapter")
    writer.add_string(Keys.Adapter.TYPE, "lora")
    writer.add_float32(Keys.Adapter.LORA_ALPHA, 0.0)
    for name, array in tensors:
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, out)
    return {"tensors": len(tensors) // 2, "max relative error": max(errors),
            "rank": max(a.shape[0] for n, a in tensors if n.endswith("lora_a"))}
