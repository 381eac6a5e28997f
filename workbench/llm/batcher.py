"""``BatchingChatModel``: one shared chat model serving many callers (browser sessions, jobs' threads).

Requests that arrive within a short window, from any thread, are grouped by their call options
(adapter, stop strings, sampling settings) and each group is answered with one batched call of the
inner model: for a ``LocalChatModel`` one left-padded ``generate``, in which sampled requests share a
call whatever their temperature and token budget (each conversation keeps its own). Callers block
until their own replies are ready, so the model sees one queue and every caller keeps a plain
LangChain interface. A request keeps its caller's progress sink (:mod:`workbench.progress`), so a local
model reports each caller's sequences to that caller's meter.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import Field, PrivateAttr

from workbench.progress import Sink, current_sink


@dataclass
class _Request:
    conversations: list[list[BaseMessage]]
    stop: tuple[str, ...]
    options: dict[str, Any]
    future: Future = field(default_factory=Future)
    sink: Sink | None = field(default_factory=current_sink)
    """The caller's progress sink (the request is made in the caller's thread)."""


class BatchingChatModel(BaseChatModel):
    """Queue calls to ``inner`` from any thread and answer those that share options as one batch."""

    inner: Any = Field(exclude=True, repr=False)
    """The shared chat model (a ``LocalChatModel``, or any LangChain chat model with ``batch``)."""
    window_s: float = 0.05
    """How long the worker waits for more requests after the first of a batch arrives."""
    max_batch_size: int = 64
    """Most conversations answered by one inner call."""

    _queue: SimpleQueue = PrivateAttr(default_factory=SimpleQueue)
    _worker: threading.Thread | None = PrivateAttr(default=None)
    _start_lock: Any = PrivateAttr(default_factory=threading.Lock)
    _batch_sizes: list[int] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "batching"

    @property
    def batch_sizes(self) -> list[int]:
        """Conversations per inner call so far, in order."""
        return list(self._batch_sizes)

    def submit(self, conversations: Sequence[Sequence[BaseMessage]], stop: Sequence[str] | None = None,
               **options: Any) -> list[AIMessage]:
        """Queue ``conversations`` and wait for their replies."""
        self._ensure_worker()
        request = _Request([list(c) for c in conversations], tuple(stop or ()), options)
        self._queue.put(request)
        return request.future.result()

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.submit([messages], stop, **kwargs)[0])])

    def batch(self, inputs: list[LanguageModelInput], config: RunnableConfig | list[RunnableConfig] | None = None,
              *, return_exceptions: bool = False, **kwargs: Any) -> list[AIMessage | Exception]:
        """All inputs in one queued request (so they share the inner call with other callers' requests)."""
        if not inputs:
            return []
        stop = kwargs.pop("stop", None)
        try:
            return self.submit([self._convert_input(x).to_messages() for x in inputs], stop, **kwargs)
        except Exception as error:
            if not return_exceptions:
                raise
            return [error] * len(inputs)

    # ----- the worker -----

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name="chat-batcher", daemon=True)
                self._worker.start()

    def _serve(self) -> None:
        while True:
            pending = [self._queue.get()]
            deadline = time.monotonic() + self.window_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    pending.append(self._queue.get(timeout=left))
                except Empty:
                    break
            groups: dict[tuple, list[_Request]] = {}
            for request in pending:
                groups.setdefault(self._key(request), []).append(request)
            for requests in groups.values():
                self._answer(requests)

    def _per_row(self) -> tuple[str, ...]:
        """The options the inner model takes per conversation (a ``LocalChatModel``'s ``PER_ROW``), else none."""
        return getattr(self.inner, "PER_ROW", ())

    def _key(self, request: _Request) -> tuple:
        """Requests with the same key share an inner call: the same stops and options, but for those taken per
        conversation (sampled and greedy requests still apart)."""
        per_row = self._per_row()
        shared = tuple(sorted((k, repr(v)) for k, v in request.options.items() if k not in per_row))
        sampled = bool(per_row) and request.options.get("temperature", self.inner.temperature) > 0
        return request.stop, shared, sampled

    def _answer(self, requests: list[_Request]) -> None:
        """Answer requests with the same options in inner calls of at most ``max_batch_size`` conversations
        (a request is never split)."""
        chunk: list[_Request] = []
        for request in requests:
            if chunk and sum(len(r.conversations) for r in chunk) + len(request.conversations) > self.max_batch_size:
                self._call(chunk)
                chunk = []
            chunk.append(request)
        if chunk:
            self._call(chunk)

    def _call(self, requests: list[_Request]) -> None:
        conversations = [c for r in requests for c in r.conversations]
        first = requests[0]
        try:
            if per_row := self._per_row():
                rows = {name: [r.options.get(name, getattr(self.inner, name)) for r in requests
                               for _ in r.conversations] for name in per_row}
                sinks = [r.sink for r in requests for _ in r.conversations]
                replies = self.inner.generate_messages(conversations, stop=list(first.stop) or None, sinks=sinks,
                                                       **(first.options | rows))
            else:
                replies = self.inner.batch(conversations, stop=list(first.stop) or None, **first.options)
        except Exception as error:  # every waiting caller gets the error, and the worker goes on
            for request in requests:
                request.future.set_exception(error)
            return
        self._batch_sizes.append(len(conversations))
        start = 0
        for request in requests:
            request.future.set_result(replies[start:start + len(request.conversations)])
            start += len(request.conversations)
