"""Chat-model backends: ``LocalChatModel``, the spec resolver and the embedded models.

The names are loaded on first use (PEP 562), so importing one submodule, or this package for a light
one, does not load torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "LocalChatModel": "local", "format_transcript": "local", "message_label": "local", "trim_at_stop": "local",
    "SentenceEncoder": "embedded", "gemma_path": "embedded", "load_encoder": "embedded", "minilm_path": "embedded",
    "chat_model": "resolve", "load_models": "resolve",
    "tiny_causal_lm": "tiny", "tiny_chat_model": "tiny",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
