"""Chat-model backends: ``LocalChatModel``, the spec resolver and the embedded models."""

from workbench.llm.embedded import SentenceEncoder, gemma_path, load_encoder, minilm_path
from workbench.llm.local import LocalChatModel, format_transcript, message_label, trim_at_stop
from workbench.llm.resolve import chat_model, load_models
from workbench.llm.tiny import tiny_causal_lm, tiny_chat_model

__all__ = [
    "LocalChatModel",
    "SentenceEncoder",
    "chat_model",
    "format_transcript",
    "load_models",
    "gemma_path",
    "load_encoder",
    "message_label",
    "minilm_path",
    "tiny_causal_lm",
    "tiny_chat_model",
    "trim_at_stop",
]
