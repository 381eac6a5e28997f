"""``OpenAIServerChatModel``: ``ChatOpenAI`` for an OpenAI-compatible server (vLLM, llama.cpp's server, ...),
batched the way the workbench calls chat models.

``batch`` sends its requests concurrently (at most ``max_concurrency`` in flight) and keeps their order. The
copies of one conversation in a batch (a critic's N sampled verdicts) go as one request with ``n`` = the number
of copies; a server that returns fewer choices than asked (llama-cpp-python's server ignores ``n``) gets the
missing ones as single requests, each with its own seed. Such replies are counted in ``n_ignored``, and the
model remembers the server so that later calls ask one reply per request straight away.

A server that is down, too slow or refuses a request raises a one-line ``WorkbenchError`` naming its URL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from pydantic import Field, PrivateAttr

from workbench.errors import WorkbenchError
from workbench.llm.base import batch_through

DEFAULT_TIMEOUT_S = 60.0
TIMEOUT_ENV = "WORKBENCH_OPENAI_TIMEOUT"


def default_timeout() -> float:
    """Seconds a request may take: ``$WORKBENCH_OPENAI_TIMEOUT``, else 60."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise WorkbenchError(f"{TIMEOUT_ENV}={value!r} is not a positive number of seconds")
    return seconds


def _conversation_key(messages: Sequence[BaseMessage]) -> tuple:
    """What makes two conversations the same request."""
    return tuple((m.type, getattr(m, "name", None), repr(m.content)) for m in messages)


def _reason(error: BaseException) -> str:
    """The innermost cause of a connection error, in a few lower-case words ("connection refused")."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = " ".join(str(error).split())
    if text.startswith("[Errno") and "]" in text:
        text = text.partition("]")[2].strip()
    return (text or type(error).__name__).lower()


def _seconds(timeout: Any) -> str:
    return f"{timeout:g}" if isinstance(timeout, int | float) else str(timeout)


class OpenAIServerChatModel(ChatOpenAI):
    """``ChatOpenAI`` with concurrent, ``n``-grouped batches, token counts and one-line errors."""

    max_concurrency: int = Field(default=8, ge=1)
    """Most requests in flight at once during a ``batch``."""
    request_timeout: float | tuple[float, float] | Any | None = Field(default_factory=default_timeout,
                                                                      alias="timeout")
    """Seconds one request may take (each retry again): ``timeout=``, ``$WORKBENCH_OPENAI_TIMEOUT``, else 60."""
    max_retries: int | None = 2
    """Retries of a request that failed to connect, timed out or got a 429/5xx answer."""

    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _n_ignored: int = PrivateAttr(default=0)
    _honours_n: bool | None = PrivateAttr(default=None)
    _generated_tokens: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "openai-server"

    @property
    def n_ignored(self) -> int:
        """Replies requested one by one because the server does not honour ``n``."""
        return self._n_ignored

    @property
    def honours_n(self) -> bool | None:
        """Whether the server answers ``n`` > 1 with ``n`` choices (None: not asked yet)."""
        return self._honours_n

    @property
    def generated_tokens(self) -> int:
        """Completion tokens the server reported so far."""
        return self._generated_tokens

    @property
    def url(self) -> str:
        return self.openai_api_base or "https://api.openai.com/v1"

    # ----- one request -----

    def _get_request_payload(self, input_: LanguageModelInput, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict:
        """ChatOpenAI's payload, but with ``max_tokens``: the name every OpenAI-compatible server reads
        (llama-cpp-python's ignores ``max_completion_tokens``)."""
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        if kwargs.pop("adapter", None):
            raise WorkbenchError(f"model '{self.model_name}' at {self.url} takes no adapters "
                                 "(they live on a local model)")
        try:
            result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except openai.APIError as error:
            raise self._server_error(error) from None
        usage = (result.llm_output or {}).get("token_usage") or {}
        with self._lock:
            self._generated_tokens += int(usage.get("completion_tokens") or 0)
        return result

    def _server_error(self, error: openai.APIError) -> WorkbenchError:
        """A one-line message for a failed request: what happened, at which URL, what to do."""
        where = f"the OpenAI-compatible server at {self.url}"
        if isinstance(error, openai.APITimeoutError):
            return WorkbenchError(
                f"{where} did not answer within {_seconds(self.request_timeout)} s (timeout, {self.max_retries or 0} "
                f"retries): raise it with timeout=<seconds> or {TIMEOUT_ENV}, or check the server")
        if isinstance(error, openai.APIConnectionError):
            return WorkbenchError(f"could not reach {where} ({_reason(error)}): start it, or check the URL")
        status = getattr(error, "status_code", None)
        body = getattr(error, "body", None)
        detail = body.get("message") or body.get("detail") if isinstance(body, dict) else None
        detail = " ".join(str(detail or error.message).split())[:300]
        return WorkbenchError(f"{where} refused the request ({status}: {detail}): check the model name "
                              f"'{self.model_name}' and the options")

    def _ask(self, messages: list[BaseMessage], n: int, stop: list[str] | None, options: dict[str, Any]
             ) -> list[AIMessage]:
        """Up to ``n`` replies to ``messages`` from one request (a server that refuses ``n`` > 1 gets one)."""
        if n == 1:
            return [g.message for g in self._generate(messages, stop=stop, **options).generations]
        try:
            result = self._generate(messages, stop=stop, **options, n=n)
        except WorkbenchError as error:
            if not str(error).startswith(f"the OpenAI-compatible server at {self.url} refused"):
                raise
            return self._ask(messages, 1, stop, options)
        return [g.message for g in result.generations][:n]

    # ----- batches -----

    def generate_messages(self, conversations: Sequence[Sequence[BaseMessage]], stop: list[str] | None = None,
                          **options: Any) -> list[AIMessage]:
        """One reply per conversation, in order: concurrent requests, the copies of a conversation as one
        request with ``n`` where the server honours it (see the module docstring)."""
        groups: dict[tuple, list[int]] = {}
        for i, messages in enumerate(conversations):
            groups.setdefault(_conversation_key(messages), []).append(i)
        replies: list[AIMessage | None] = [None] * len(conversations)
        seed = options.get("seed", self.seed)

        def single(row: int, copy: int) -> list[AIMessage]:
            extra = {"seed": seed + copy} if seed is not None and copy else {}
            return self._ask(list(conversations[row]), 1, stop, options | extra)

        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(conversations)),
                                thread_name_prefix="openai-server") as pool:
            asked = []
            for rows in groups.values():
                if len(rows) == 1 or self._honours_n is False:
                    asked += [([row], pool.submit(single, row, copy)) for copy, row in enumerate(rows)]
                    with self._lock:
                        self._n_ignored += len(rows) - 1
                else:
                    asked.append((rows, pool.submit(self._ask, list(conversations[rows[0]]), len(rows), stop,
                                                    options)))
            missing = []
            for rows, future in asked:
                got = future.result()
                for row, reply in zip(rows, got):
                    replies[row] = reply
                if len(rows) > 1:
                    with self._lock:
                        self._honours_n = len(got) >= len(rows) if self._honours_n is None else self._honours_n
                missing += [(row, copy) for copy, row in enumerate(rows) if copy >= len(got)]
            if missing:
                with self._lock:
                    self._honours_n = False
                    self._n_ignored += len(missing)
                for (row, _), future in [(m, pool.submit(single, *m)) for m in missing]:
                    replies[row] = future.result()[0]
        return replies  # type: ignore[return-value]  (every row is answered above)

    def batch(self, inputs: list[LanguageModelInput], config: RunnableConfig | list[RunnableConfig] | None = None, *,
              return_exceptions: bool = False, **kwargs: Any) -> list[AIMessage | Exception]:
        """Answer all inputs with :meth:`generate_messages`; ``config`` callbacks are not invoked."""
        return batch_through(self.generate_messages, self._convert_input, inputs, return_exceptions, **kwargs)
