"""The app's models: each spec is loaded once per process and shared by every browser session.

Every caller gets the model behind one :class:`~workbench.llm.batcher.BatchingChatModel`, so generation
requests from several sessions (agents, critics, adapter comparisons) are queued and answered in batches.
Adapters are attached to the shared model once; the base model stays the default, and an agent that
speaks with adapters names them per call.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel

from agents.simulation import EMBEDDED
from workbench.errors import WorkbenchError
from workbench.llm.batcher import BatchingChatModel
from workbench.llm.local import LocalChatModel
from workbench.llm.resolve import chat_model, frozen_role_spec

TEMPLATE = "template (no model)"
"""The agent-model choice that uses the environment's template utterances."""


class SharedModels:
    """The chat models the app offers, loaded on first use and kept."""

    def __init__(self, specs: Sequence[str] = (EMBEDDED,)):
        self.specs = list(specs)
        self._models: dict[str, BatchingChatModel] = {}
        self._lock = threading.Lock()

    def get(self, spec: str | None, frozen: bool = False) -> BatchingChatModel | None:
        """The shared batched model for ``spec`` (None or the template choice: no model); ``frozen`` for a role
        that does not train (a critic, an agent without adapters): the engine ``frozen_role_spec`` picks."""
        if not spec or spec == TEMPLATE:
            return None
        if spec not in self.specs and spec not in {frozen_role_spec(s) for s in self.specs}:
            raise WorkbenchError(f"model {spec!r} is not offered by this app (offered: {', '.join(self.specs)})")
        spec = frozen_role_spec(spec) if frozen else spec
        with self._lock:
            if spec not in self._models:
                self._models[spec] = BatchingChatModel(inner=chat_model(spec))
            return self._models[spec]

    def load(self, specs: dict[str, str | None], seed: int) -> dict[str, BaseChatModel | None]:
        """``workbench.llm.resolve.load_models``'s contract over the shared models (which stay unseeded: sessions share them)."""
        return {role: self.get(spec) for role, spec in specs.items()}

    def local(self, spec: str) -> LocalChatModel:
        """The ``LocalChatModel`` behind ``spec`` (adapters are attached to it)."""
        model = self.get(spec)
        if model is None or not isinstance(model.inner, LocalChatModel):
            raise WorkbenchError(f"adapters need a local model, not {spec!r}")
        return model.inner

    def with_adapters(self, spec: str, names: Sequence[str], library: Any) -> BaseChatModel | Any:
        """The shared model for ``spec`` speaking with library adapters ``names`` (several: combined); other
        callers keep the base model."""
        model = self.get(spec)
        if not names:
            return model
        local = self.local(spec)
        with local.lock:
            active = library.attach(local, list(names))
            local.disable_adapters()
        return model.bind(adapter=active)
