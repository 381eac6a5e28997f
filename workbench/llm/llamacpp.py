"""``LlamaCppChatModel``: a LangChain chat model over a GGUF file run by llama.cpp, many conversations at once.

For the roles that do not train (user simulators, critics, a frozen agent), on a CPU. One call decodes every
conversation together, the way llama.cpp's own batched example and server do (llama-cpp-python's low-level API;
its ``Llama`` class decodes one sequence at a time):

1. each distinct prompt is tokenized once and prefilled once, on the first row that has it; every row that
   repeats it (a critic's N sampled verdicts) gets a copy of its KV cells. Each row has its own KV stream, so
   a step's attention reads only the row's own tokens (a cache unified across rows would read all of them);
2. then one ``llama_decode`` per step feeds one token of every live row, and each row samples from its own
   sampler chain (its temperature, top-k, top-p and seed; temperature 0 is greedy), so greedy and sampled rows
   share a call;
3. a row ends at an end-of-generation token, its ``max_tokens`` or a stop string.

Prompts are rendered as ``LocalChatModel`` renders them: the GGUF's chat template when it has one, else the
"Role: text" transcript with its role markers as stop strings (the embedded Gemma is a base model).
"""

from __future__ import annotations

import ctypes
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field, model_validator

from workbench.errors import WorkbenchError
from workbench.llm.base import BatchedChatModel
from workbench.llm.local import format_transcript, message_role, per_row, trim_at_stop
from workbench.progress import Sink, current_sink


def _llama() -> Any:
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError:
        raise WorkbenchError("llama.cpp models need llama-cpp-python: pip install -e '.[llamacpp]'") from None
    _logger.set_verbose(os.environ.get("WORKBENCH_VERBOSE") == "1")  # llama.cpp's load log only with --verbose
    return llama_cpp


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaCppEngine:
    """A loaded GGUF model and one llama.cpp context for up to ``max_rows`` sequences over ``n_ctx`` KV cells
    (``row_ctx`` each: 2,048 by default, which a ReAct transcript with observations and reflections needs)."""

    def __init__(self, path: str | Path, *, row_ctx: int = 2048, max_rows: int = 64, n_batch: int = 2048,
                 threads: int | None = None, lora: str | Path | None = None):
        L = self.L = _llama()
        L.llama_backend_init()
        self.model = L.llama_model_load_from_file(str(path).encode(), L.llama_model_default_params())
        if not self.model:
            raise WorkbenchError(f"llama.cpp could not load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        params = L.llama_context_default_params()
        threads = threads or len(os.sched_getaffinity(0))
        params.n_ctx, params.n_batch, params.n_ubatch = row_ctx * max_rows, n_batch, min(n_batch, 512)
        params.n_seq_max, params.kv_unified = max_rows, False  # one KV stream per row: attention sees its own row
        params.swa_full = True  # keep every position of sliding-window layers, so a cached prefix stays reusable
        params.flash_attn_type = 1  # on: a row decodes alike alone and in a batch (off, results shift with the batch)
        params.n_threads = params.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, params)
        if not self.ctx:
            raise WorkbenchError(f"llama.cpp could not make a context of {row_ctx} tokens for each of {max_rows} rows")
        if lora is not None:  # a LoRA GGUF over this model (workbench.llm.gguf_lora), applied at scale 1
            self.lora = L.llama_adapter_lora_init(self.model, str(lora).encode())
            scale = ctypes.c_float(1.0)
            if not self.lora or L.llama_set_adapters_lora(self.ctx, ctypes.pointer(self.lora), 1, ctypes.pointer(scale)):
                raise WorkbenchError(f"llama.cpp could not apply the LoRA adapter {lora} to {path}")
        self.row_ctx, self.max_rows, self.n_batch = L.llama_n_ctx_seq(self.ctx), max_rows, n_batch
        self.batch = L.llama_batch_init(max(n_batch, max_rows), 0, 1)
        self.template = L.llama_model_chat_template(self.model, None)
        self.cached: list[tuple[int, ...]] = [()] * max_rows
        """The prompt whose KV each stream holds from the last call (the next turn's prompt usually extends it)."""
        self.last_used, self.clock = [-1] * max_rows, 0

    def _streams(self, unique: dict[tuple[int, ...], list[int]], rows: int) -> tuple[list[int], list[int]]:
        """Each row's KV stream, and how many leading tokens of its prompt the stream already holds. A distinct
        prompt (longest first) continues the stream it extends most, one whose cached prompt it shares at least
        half of; else it takes the least recently used stream, so that another role's cache survives. The rows
        that repeat it take the next least recently used streams (they copy its cells)."""
        free, seq, kept = set(range(self.max_rows)), [0] * rows, [0] * rows
        self.clock += 1
        for tokens in sorted(unique, key=len, reverse=True):
            shared = {s: common_prefix(self.cached[s], tokens) for s in free}
            extends = [s for s in free if shared[s] > 1 and 2 * shared[s] >= len(self.cached[s])]
            best = max(extends, key=shared.__getitem__) if extends else min(free, key=self.last_used.__getitem__)
            free.remove(best)
            first = unique[tokens][0]
            seq[first], kept[first] = best, min(shared[best], len(tokens) - 1)
        for owners in unique.values():
            for r in owners[1:]:
                seq[r] = min(free, key=self.last_used.__getitem__)
                free.remove(seq[r])
        for s in seq:
            self.last_used[s] = self.clock
        return seq, kept

    def tokenize(self, text: str, special: bool, parse_special: bool = False) -> list[int]:
        """``text``'s tokens (with the model's BOS when ``special``; control tokens written in the text, such as
        a chat template's turn markers, read as such with ``parse_special``)."""
        data = text.encode("utf-8")
        buffer = (self.L.llama_token * (len(data) + 8))()
        n = self.L.llama_tokenize(self.vocab, data, len(data), buffer, len(buffer), special, parse_special)
        if n < 0:
            raise WorkbenchError(f"llama.cpp could not tokenize a prompt of {len(data)} bytes")
        return list(buffer[:n])

    def chat_tokens(self, turns: Sequence[tuple[str, str]]) -> list[int]:
        """The tokens of ``(role, content)`` turns rendered by the GGUF's chat template, ready for the assistant's
        reply (llama.cpp's ``llama_chat_apply_template``, which knows the common templates by their text)."""
        L = self.L
        encoded = [(role.encode(), content.encode("utf-8")) for role, content in turns]
        messages = (L.llama_chat_message * len(turns))(*(L.llama_chat_message(r, c) for r, c in encoded))
        size = 2 * sum(len(c) + len(r) for r, c in encoded) + 256
        for _ in range(2):
            buffer = ctypes.create_string_buffer(size)
            n = L.llama_chat_apply_template(self.template, messages, len(turns), True, buffer, size)
            if n < 0:
                raise WorkbenchError("llama.cpp does not know this GGUF's chat template; pass use_chat_template=False")
            if n <= size:
                break
            size = n + 1
        text = buffer.raw[:n].decode("utf-8", errors="replace")
        bos = self.piece(L.llama_vocab_bos(self.vocab))
        return self.tokenize(text, special=not (bos and text.encode().startswith(bos)), parse_special=True)

    def piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        n = self.L.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, False)
        return buffer.raw[:max(n, 0)]

    def _put(self, token: int, pos: int, seqs: Sequence[int], logits: bool) -> int:
        b, i = self.batch, self.batch.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, len(seqs), logits
        for j, s in enumerate(seqs):
            b.seq_id[i][j] = s
        b.n_tokens = i + 1
        return i

    def _decode(self) -> None:
        code = self.L.llama_decode(self.ctx, self.batch)
        if code != 0:
            raise WorkbenchError(f"llama.cpp decode failed (code {code}): a row longer than its context of "
                                 f"{self.row_ctx} tokens")

    def _sampler(self, temperature: float, top_k: int, top_p: float, seed: int) -> Any:
        L = self.L
        chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        if temperature <= 0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
            return chain
        for sampler in (L.llama_sampler_init_temp(temperature), L.llama_sampler_init_top_k(top_k),
                        L.llama_sampler_init_top_p(top_p, 1), L.llama_sampler_init_dist(seed)):
            L.llama_sampler_chain_add(chain, sampler)
        return chain

    def generate(self, prompts: Sequence[list[int]], *, temperatures: Sequence[float], max_tokens: Sequence[int],
                 top_k: int, top_p: float, seeds: Sequence[int], stops: Sequence[str],
                 sinks: Sequence[Sink | None]) -> list[tuple[str, int, str]]:
        """Each row's (text, new tokens, finish reason "stop" or "length"); rows with the same prompt share its
        prefill. The rows must fit the context (see :meth:`fits`)."""
        L, rows = self.L, len(prompts)
        memory = L.llama_get_memory(self.ctx)
        unique: dict[tuple[int, ...], list[int]] = {}
        for r, tokens in enumerate(prompts):
            unique.setdefault(tuple(tokens), []).append(r)
        seq, kept = self._streams(unique, rows)
        for tokens, owners in unique.items():  # drop what a stream holds beyond the shared prefix
            first = owners[0]
            if not L.llama_memory_seq_rm(memory, seq[first], kept[first], -1):
                L.llama_memory_seq_rm(memory, seq[first], -1, -1)
                kept[first] = 0
            self.cached[seq[first]] = tokens
        self.batch.n_tokens = 0
        for tokens, owners in unique.items():  # the rest of each prompt but its last token, on its stream
            for pos in range(kept[owners[0]], len(tokens) - 1):
                if self.batch.n_tokens == self.n_batch:
                    self._decode()
                    self.batch.n_tokens = 0
                self._put(tokens[pos], pos, [seq[owners[0]]], False)
        if self.batch.n_tokens:
            self._decode()
        self.batch.n_tokens = 0
        index, position = [0] * rows, [0] * rows
        for tokens, owners in unique.items():  # the last tokens: each distinct prompt's logits
            i = self._put(tokens[-1], len(tokens) - 1, [seq[owners[0]]], True)
            for r in owners:
                index[r], position[r] = i, len(tokens)
        self._decode()
        for tokens, owners in unique.items():  # the rows that repeat a prompt get a copy of its stream
            for r in owners[1:]:
                L.llama_memory_seq_rm(memory, seq[r], -1, -1)
                L.llama_memory_seq_cp(memory, seq[owners[0]], seq[r], -1, -1)
                self.cached[seq[r]] = tokens
        samplers = [self._sampler(t, top_k, top_p, s) for t, s in zip(temperatures, seeds)]
        out: list[bytearray] = [bytearray() for _ in range(rows)]
        count, finish = [0] * rows, ["length"] * rows
        live = list(range(rows))
        try:
            while live:
                self.batch.n_tokens = 0
                for r in list(live):
                    token = L.llama_sampler_sample(samplers[r], self.ctx, index[r])
                    ended = L.llama_vocab_is_eog(self.vocab, token)
                    if not ended:
                        out[r] += self.piece(token)
                        count[r] += 1
                        text = out[r].decode("utf-8", errors="ignore")
                        ended = any(stop in text for stop in stops)
                    if ended or count[r] >= max_tokens[r]:
                        finish[r] = "stop" if ended else "length"
                        live.remove(r)
                        if sinks[r] is not None:
                            sinks[r].generated(1, 1)
                        continue
                    if sinks[r] is not None:
                        sinks[r].generated(0, 1)
                    index[r] = self._put(token, position[r], [seq[r]], True)
                    position[r] += 1
                if live:
                    self._decode()
        finally:
            for sampler in samplers:
                L.llama_sampler_free(sampler)
        return [(trim_at_stop(bytes(o).decode("utf-8", errors="ignore"), stops), n, f)
                for o, n, f in zip(out, count, finish)]

    def fits(self, prompts: Sequence[list[int]], max_tokens: Sequence[int]) -> bool:
        """Whether these rows fit one call: the rows in the context's sequences, each row's prompt and new
        tokens in its own KV stream."""
        return len(prompts) <= self.max_rows and all(len(p) + n <= self.row_ctx for p, n in zip(prompts, max_tokens))


class LlamaCppChatModel(BatchedChatModel):
    """A ``BaseChatModel`` over a GGUF file run by llama.cpp (module docstring), with ``LocalChatModel``'s
    per-call options (``temperature`` and ``max_tokens`` also one per conversation) and seeding; no adapters
    (they train on transformers)."""

    engine: Any = Field(exclude=True, repr=False)
    OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {"temperature", "top_p", "top_k", "max_tokens", "seed", "max_batch_size", "use_chat_template",
         "user_label", "assistant_label"})
    PER_ROW: ClassVar[tuple[str, ...]] = ("temperature", "max_tokens")

    @model_validator(mode="after")
    def _check_template(self) -> LlamaCppChatModel:
        if self.use_chat_template and not self.engine.template:
            raise WorkbenchError(f"model {self.model_name} has no chat template but use_chat_template=True")
        return self

    @classmethod
    def from_gguf(cls, path: str | Path, *, row_ctx: int = 2048, max_rows: int = 64, threads: int | None = None,
                  lora: str | Path | None = None, **fields: Any) -> LlamaCppChatModel:
        fields.setdefault("model_name", str(path))
        return cls(engine=LlamaCppEngine(path, row_ctx=row_ctx, max_rows=max_rows, threads=threads, lora=lora),
                   **fields)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def adapters(self) -> list[str]:
        """None: adapters live on the transformers model that trains them."""
        return []

    def _prompt(self, messages: Sequence[BaseMessage], options: dict[str, Any]) -> tuple[list[int], list[str]]:
        chat = bool(self.engine.template) if options["use_chat_template"] is None else options["use_chat_template"]
        if chat:
            return self.engine.chat_tokens([(message_role(m), m.text) for m in messages]), []
        prompt, markers = format_transcript(messages, options["user_label"], options["assistant_label"])
        return self.engine.tokenize(prompt, True), markers

    def generate_messages(self, conversations: Sequence[Sequence[BaseMessage]], stop: list[str] | None = None, *,
                          sinks: Sequence[Sink | None] | None = None, **overrides: Any) -> list[AIMessage]:
        """Answer every conversation in one llama.cpp decode loop (chunks of rows when they do not fit)."""
        unknown = sorted(set(overrides) - self.OPTIONS)
        if unknown:
            raise WorkbenchError(f"unknown option(s) {', '.join(unknown)} for LlamaCppChatModel "
                                 f"(known: {', '.join(sorted(self.OPTIONS))}, stop)")
        options = {name: getattr(self, name) for name in self.OPTIONS} | overrides
        sinks = per_row(current_sink() if sinks is None else sinks, len(conversations), "sinks")
        for name in self.PER_ROW:
            options[name] = per_row(options[name], len(conversations), name)
        with self._lock:
            prompts, stops = [], list(stop or [])
            for messages in conversations:
                tokens, markers = self._prompt(messages, options)
                prompts.append(tokens)
                stops += markers
            stops = list(dict.fromkeys(stops))
            rng = random.Random(f"{options['seed']}:{self._calls}") if options["seed"] is not None else random.Random()
            self._calls += 1
            seeds = [rng.getrandbits(31) for _ in prompts]
            results: list[tuple[str, int, str]] = []
            start = 0
            while start < len(prompts):
                end = min(len(prompts), start + (options["max_batch_size"] or len(prompts)))
                while end > start + 1 and not self.engine.fits(prompts[start:end], options["max_tokens"][start:end]):
                    end = start + (end - start) // 2
                results += self.engine.generate(
                    prompts[start:end], temperatures=options["temperature"][start:end],
                    max_tokens=options["max_tokens"][start:end], top_k=options["top_k"], top_p=options["top_p"],
                    seeds=seeds[start:end], stops=stops, sinks=sinks[start:end])
                start = end
        messages = []
        for (text, n, finish), prompt in zip(results, prompts):
            self._generated_tokens += n
            messages.append(AIMessage(
                content=text.strip(),
                usage_metadata={"input_tokens": len(prompt), "output_tokens": n, "total_tokens": len(prompt) + n},
                response_metadata={"model_name": self.model_name, "finish_reason": finish}))
        return messages
