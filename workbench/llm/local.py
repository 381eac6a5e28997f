"""``LocalChatModel``: a LangChain chat model over a local transformers causal LM.

It formats a conversation with the tokenizer's chat template, or as a plain
role-prefixed transcript for base models; runs one left-padded ``generate`` over a
whole ``batch``; stops at role markers; and switches PEFT LoRA adapters by name, per call or,
through a router, per conversation (PEFT's mixed-adapter batches).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import torch
from langchain_core.messages import AIMessage, BaseMessage, ChatMessage
from peft import PeftConfig, PeftModel, get_peft_model
from pydantic import Field, PrivateAttr, model_validator
from transformers import (AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList, StoppingCriteria,
                          StoppingCriteriaList)

from workbench.errors import WorkbenchError
from workbench.llm.base import BatchedChatModel
from workbench.progress import Sink, current_sink

_CHAT_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_BASE = "__base__"
"""PEFT's name for "no adapter" in a mixed-adapter batch."""

Router = Callable[[Sequence[Sequence[BaseMessage]]], list[str | None]]
"""Picks an adapter (None: the base model) for each conversation of a call."""


def message_label(message: BaseMessage, user_label: str = "User", assistant_label: str = "Assistant") -> str:
    """The transcript label of a message: its ``name``, else a label for its role."""
    if message.name:
        return message.name
    if isinstance(message, ChatMessage):
        return message.role
    return {"ai": assistant_label, "human": user_label}.get(message.type, message.type.title())


def message_role(message: BaseMessage) -> str:
    """The chat-template role of ``message``: user, assistant, system or a ``ChatMessage``'s own."""
    return message.role if isinstance(message, ChatMessage) else _CHAT_ROLES.get(message.type, message.type)


def format_transcript(
    messages: Sequence[BaseMessage], user_label: str = "User", assistant_label: str = "Assistant"
) -> tuple[str, list[str]]:
    """Render messages as a role-prefixed transcript for a base model.

    Leading system messages form a header followed by a blank line; every other
    message is one ``Label: content`` line (a later system message is a bare line);
    the prompt ends with ``<generation label>:``, the ``name`` of the last named
    AIMessage or else ``assistant_label``. Returns the prompt and the stop markers
    ``"\\n<Label>:"`` for every label in the conversation and the generation label.
    """
    start = 0
    while start < len(messages) and messages[start].type == "system":
        start += 1
    header = "\n".join(m.text.strip() for m in messages[:start])
    lines, labels = [], []
    for message in messages[start:]:
        if message.type == "system":
            lines.append(message.text.strip())
            continue
        label = message_label(message, user_label, assistant_label)
        labels.append(label)
        lines.append(f"{label}: {message.text.strip()}")
    named = [m.name for m in messages if m.type == "ai" and m.name]
    speaker = named[-1] if named else assistant_label
    lines.append(f"{speaker}:")
    prompt = "\n".join(lines)
    if header:
        prompt = f"{header}\n\n{prompt}"
    return prompt, [f"\n{label}:" for label in dict.fromkeys([*labels, speaker])]


def trim_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut ``text`` at the first occurrence of any stop string."""
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class TopKTopP(LogitsProcessor):
    """Top-k then nucleus (top-p) filtering (Holtzman et al., ICLR 2020) that sorts only the ``k``
    largest logits: the same result as transformers' TopK and TopP warpers in sequence, without
    TopP's sort of the full vocabulary per row (262k entries for Gemma; seconds per step for a
    batch of critic samples on a CPU)."""

    def __init__(self, top_k: int, top_p: float):
        self.top_k, self.top_p = top_k, top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        values, indices = scores.topk(min(self.top_k, scores.shape[-1]) if self.top_k > 0 else scores.shape[-1])
        probs = values.softmax(dim=-1)
        outside = probs.cumsum(dim=-1) - probs >= self.top_p  # the more likely tokens already reach p
        outside[..., 0] = False
        filtered = torch.full_like(scores, float("-inf"))
        return filtered.scatter(-1, indices, values.masked_fill(outside, float("-inf")))


class RowTemperature(LogitsProcessor):
    """Divide each row's logits by its own temperature, so conversations sampled at different temperatures
    (e.g. an agent's turn and a critic's verdicts) share one ``generate``."""

    def __init__(self, temperatures: Sequence[float]):
        self.temperatures = torch.tensor(temperatures, dtype=torch.float).unsqueeze(-1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperatures.to(device=scores.device, dtype=scores.dtype)


class ReportProgress(StoppingCriteria):
    """Tells each row's progress sink, after every decoding step, how many of its rows finished (a row is
    finished once ``generate`` pads it) and how many tokens they decoded; it never stops a row."""

    def __init__(self, sinks: Sequence[Sink | None], pad_token_id: int):
        self.groups: dict[int, tuple[Sink, list[int]]] = {}
        for row, sink in enumerate(sinks):
            if sink is not None:
                self.groups.setdefault(id(sink), (sink, []))[1].append(row)
        self.pad_token_id = pad_token_id
        self.finished = [False] * len(sinks)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self.report((input_ids[:, -1] == self.pad_token_id).tolist())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def report(self, ended: Sequence[bool]) -> None:
        """Report the rows ``ended`` now (and, as tokens, the others)."""
        for sink, rows in self.groups.values():
            new = [row for row in rows if ended[row] and not self.finished[row]]
            for row in new:
                self.finished[row] = True
            tokens = sum(not self.finished[row] for row in rows)
            if new or tokens:
                sink.generated(len(new), tokens)


def per_row(value: Any, rows: int, name: str) -> list[Any]:
    """``value`` for each of ``rows`` conversations: a scalar repeated, or a sequence of exactly ``rows``."""
    if isinstance(value, (list, tuple)):
        if len(value) != rows:
            raise WorkbenchError(f"{name} has {len(value)} values for {rows} conversations")
        return list(value)
    return [value] * rows


class LocalChatModel(BatchedChatModel):
    """A ``BaseChatModel`` over a transformers causal LM and its tokenizer.

    Sampling fields can be overridden per call with keyword arguments of the same
    name (``model.bind(temperature=1.1).batch(...)``), ``temperature`` and ``max_tokens`` also with one
    value per conversation (``generate_messages``); ``adapter=NAME`` runs one call
    with that LoRA adapter and ``adapter=None`` with adapters disabled; ``adapter=ROUTER``
    (see ``add_router``) gives each conversation of the batch the adapter its router picks. With ``seed``
    set, torch is seeded before every ``generate`` from (seed, call counter), so the
    same sequence of calls gives the same outputs (assigning ``model.seed`` restarts
    the counter). ``batch`` runs one ``generate`` over all inputs (chunks of
    ``max_batch_size`` if set).
    """

    model: Any = Field(exclude=True, repr=False)
    """A transformers causal LM; a ``peft.PeftModel`` around it once an adapter is added."""
    tokenizer: Any = Field(exclude=True, repr=False)
    OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {"temperature", "top_p", "top_k", "max_tokens", "seed", "max_batch_size", "use_chat_template"}
        | {"user_label", "assistant_label", "adapter"}
    )
    """Keyword arguments accepted per call (besides LangChain's ``stop``)."""
    PER_ROW: ClassVar[tuple[str, ...]] = ("temperature", "max_tokens")
    """Options that ``generate_messages`` also takes as one value per conversation."""

    _adapters_enabled: bool = PrivateAttr(default=True)
    _routers: dict[str, Router] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _prepare_local_model(self) -> LocalChatModel:
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.model_name:
            self.model_name = str(getattr(self.model.config, "name_or_path", ""))
        return self

    @classmethod
    def from_pretrained(
        cls, source: str | Path, *, device: str | None = None, dtype: str | torch.dtype = "auto",
        local_files_only: bool = False, **fields: Any
    ) -> LocalChatModel:
        """Load a model folder or hub id with ``AutoModelForCausalLM``/``AutoTokenizer``
        (``dtype="auto"``: the dtype its config names)."""
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        fields.setdefault("model_name", str(source))
        return cls(model=model, tokenizer=tokenizer, **fields)

    @property
    def _llm_type(self) -> str:
        return "local-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "adapter": self.active_adapter,
        }

    # ----- adapters -----

    @property
    def adapters(self) -> list[str]:
        """Names of the loaded LoRA adapters."""
        return list(self.model.peft_config) if isinstance(self.model, PeftModel) else []

    @property
    def routers(self) -> list[str]:
        """Names of the registered routers (``add_router``)."""
        return list(self._routers)

    @property
    def active_adapter(self) -> str | None:
        """The adapter used by calls without ``adapter=``; None when none or disabled."""
        return self.model.active_adapter if self.adapters and self._adapters_enabled else None

    def load_adapter(self, path: str | Path, name: str) -> None:
        """Load a saved PEFT adapter under ``name`` and make it active."""
        if not (Path(path) / "adapter_config.json").is_file():
            raise WorkbenchError(f"no PEFT adapter at {path} (adapter_config.json is missing)")
        self._check_new_adapter(name)
        with self._lock:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(path), adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
            self.set_adapter(name)

    def add_adapter(self, name: str, config: PeftConfig) -> None:
        """Add a new (untrained) adapter from a PEFT config, e.g. ``LoraConfig``, and make it active."""
        self._check_new_adapter(name)
        with self._lock:
            if isinstance(self.model, PeftModel):
                self.model.add_adapter(name, config)
            else:
                self.model = get_peft_model(self.model, config, adapter_name=name)
            self.set_adapter(name)

    def add_router(self, name: str, router: Router) -> None:
        """Register ``router`` under ``name``: a call with ``adapter=name`` runs each conversation with the
        loaded adapter the router picks for it (None: the base model), all in one batch."""
        self._check_new_adapter(name)
        self._routers[name] = router

    def remove_adapter(self, name: str) -> None:
        """Unload adapter or router ``name`` if it is loaded (PEFT then activates another adapter, if any is left)."""
        with self._lock:
            self._routers.pop(name, None)
            if name in self.adapters:
                self.model.delete_adapter(name)

    def set_adapter(self, name: str) -> None:
        """Make ``name`` the active adapter and enable adapters (a router is used per call: ``adapter=``)."""
        if name in self._routers:
            raise WorkbenchError(f"'{name}' is a router, used per call (adapter='{name}'), not a fixed adapter")
        self._check_adapter(name)
        with self._lock:
            if self.model.active_adapter != name:
                self.model.set_adapter(name)
            self._adapters_enabled = True

    def disable_adapters(self) -> None:
        """Run later calls on the base model (until ``enable_adapters`` or ``set_adapter``)."""
        self._adapters_enabled = False

    def enable_adapters(self) -> None:
        """Run later calls with the active adapter again."""
        self._adapters_enabled = True

    def _check_adapter(self, name: str) -> None:
        if name not in self.adapters and name not in self._routers:
            loaded = ", ".join(self.adapters + list(self._routers)) or "none"
            raise WorkbenchError(f"unknown adapter '{name}' for model {self.model_name} (loaded: {loaded})")

    def _check_new_adapter(self, name: str) -> None:
        if name in self.adapters or name in self._routers:
            raise WorkbenchError(f"adapter '{name}' is already loaded on model {self.model_name}")

    @contextmanager
    def _adapter_scope(self, options: dict[str, Any]) -> Iterator[None]:
        """Run with the adapter named in ``options`` (None: disabled), else the model's state."""
        name = options.get("adapter", self.active_adapter)
        if name is not None:
            self._check_adapter(name)
        if not self.adapters or name in self._routers:  # a router's batch names each row's adapter
            yield
        elif name is None:
            with self.model.disable_adapter():
                yield
        elif name == self.model.active_adapter:
            yield
        else:
            previous = self.model.active_adapter
            self.model.set_adapter(name)
            try:
                yield
            finally:
                self.model.set_adapter(previous)

    # ----- generation -----

    def _options(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - self.OPTIONS)
        if unknown:
            known = ", ".join(sorted(self.OPTIONS))
            raise WorkbenchError(f"unknown option(s) {', '.join(unknown)} for LocalChatModel (known: {known}, stop)")
        return {name: getattr(self, name) for name in self.OPTIONS - {"adapter"}} | overrides

    @property
    def chat_mode(self) -> bool:
        """Whether calls without ``use_chat_template`` render the chat template (else a transcript)."""
        return self._chat_mode(self.use_chat_template)

    def _chat_mode(self, use_chat_template: bool | None) -> bool:
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if use_chat_template and not has_template:
            raise WorkbenchError(f"model {self.model_name} has no chat template but use_chat_template=True")
        return has_template if use_chat_template is None else use_chat_template

    def _chat_prompt(self, messages: Sequence[BaseMessage]) -> str:
        turns = [{"role": message_role(m), "content": m.text} for m in messages]
        return self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [] if ids is None else [ids])
        return ids | {self.tokenizer.eos_token_id}

    def generate_messages(
        self, conversations: Sequence[Sequence[BaseMessage]], stop: list[str] | None = None, *,
        sinks: Sequence[Sink | None] | None = None, **overrides: Any
    ) -> list[AIMessage]:
        """Answer every conversation with one left-padded ``generate`` (per ``max_batch_size`` chunk);
        ``temperature`` and ``max_tokens`` may be lists, one value per conversation. Finished sequences and
        decoded tokens are reported to ``sinks`` (one per conversation; default: the current sink,
        :mod:`workbench.progress`) after every decoding step."""
        options = self._options(overrides)
        sinks = per_row(current_sink() if sinks is None else sinks, len(conversations), "sinks")
        chat = self._chat_mode(options["use_chat_template"])
        prompts, stops = [], list(stop or [])
        for messages in conversations:
            if chat:
                prompts.append(self._chat_prompt(messages))
            else:
                prompt, markers = format_transcript(messages, options["user_label"], options["assistant_label"])
                prompts.append(prompt)
                stops += markers
        stops = list(dict.fromkeys(stops))
        for name in self.PER_ROW:
            options[name] = per_row(options[name], len(prompts), name)
        size = options["max_batch_size"] or max(len(prompts), 1)
        with self._lock, self._adapter_scope(options), torch.inference_mode():
            routes = self._routes(options.get("adapter", self.active_adapter), conversations)
            training = self.model.training
            self.model.eval()
            try:
                return [
                    message
                    for i in range(0, len(prompts), size)
                    for message in self._generate_chunk(
                        prompts[i : i + size], stops, chat,
                        options | {k: options[k][i : i + size] for k in self.PER_ROW},
                        routes and routes[i : i + size], sinks[i : i + size])
                ]
            finally:
                self.model.train(training)

    def _routes(self, name: str | None, conversations: Sequence[Sequence[BaseMessage]]) -> list[str] | None:
        """Each conversation's adapter (PEFT's ``__base__`` for none) when ``name`` is a router, else None."""
        if name not in self._routers:
            return None
        routes = self._routers[name](conversations)
        unknown = sorted(set(routes) - {None} - set(self.adapters))
        if unknown:
            raise WorkbenchError(f"router '{name}' picked {', '.join(unknown)}, not among the loaded adapters "
                                 f"({', '.join(self.adapters) or 'none'})")
        return [route or _BASE for route in routes]

    def _generate_chunk(
        self, prompts: list[str], stops: list[str], chat: bool, options: dict[str, Any], routes: list[str] | None,
        sinks: list[Sink | None]
    ) -> list[AIMessage]:
        keys = list(zip(prompts, routes or [None] * len(prompts)))
        unique = list(dict.fromkeys(keys))
        encoded = self.tokenizer(
            [prompt for prompt, _ in unique], return_tensors="pt", padding=True, padding_side="left",
            add_special_tokens=not chat
        ).to(self.model.device)
        if routes:
            encoded["adapter_names"] = [route for _, route in unique]
        shared = {}
        if len(unique) < len(prompts):
            encoded, shared = self._share_prefill(encoded, [unique.index(k) for k in keys])
        if options["seed"] is not None:
            torch.manual_seed(random.Random(f"{options['seed']}:{self._calls}").getrandbits(63))
        self._calls += 1
        reporter = ReportProgress(sinks, self.tokenizer.pad_token_id) if any(sinks) else None
        output = self.model.generate(
            **encoded,
            max_new_tokens=max(options["max_tokens"]),
            **self._sampling(options),
            stop_strings=stops or None,
            tokenizer=self.tokenizer,
            pad_token_id=self.tokenizer.pad_token_id,
            **shared,
            **({"stopping_criteria": StoppingCriteriaList([reporter])} if reporter else {}),
        )
        if reporter is not None:
            reporter.report([True] * len(prompts))
        new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
        input_counts = encoded["attention_mask"].sum(dim=1).tolist()
        return [self._message(ids[:limit], n_in, stops)
                for ids, n_in, limit in zip(new_tokens, input_counts, options["max_tokens"])]

    @staticmethod
    def _sampling(options: dict[str, Any]) -> dict[str, Any]:
        """Greedy for temperature 0; otherwise sampling with the nucleus cut by ``TopKTopP``
        (transformers' own top-k/top-p are switched off), each row at its own temperature."""
        temperatures = options["temperature"]
        if all(t <= 0 for t in temperatures):
            return {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
        if any(t <= 0 for t in temperatures):
            raise WorkbenchError("one call cannot mix greedy (temperature 0) and sampled conversations")
        nucleus = TopKTopP(options["top_k"], options["top_p"])
        if len(set(temperatures)) == 1:
            return {"do_sample": True, "temperature": temperatures[0], "top_k": 0, "top_p": 1.0,
                    "logits_processor": LogitsProcessorList([nucleus])}
        return {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
                "logits_processor": LogitsProcessorList([RowTemperature(temperatures), nucleus])}

    def _share_prefill(self, encoded: Any, rows: list[int]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Run the prompt prefill once per distinct prompt and copy its KV cache to every row that
        repeats it (e.g. a critic's k samples), so ``generate`` only processes the last token."""
        select = torch.tensor(rows, device=self.model.device)
        names = encoded.pop("adapter_names", None)
        routed = {"adapter_names": [names[r] for r in rows]} if names else {}
        expanded = {key: value[select] for key, value in encoded.items()} | routed
        if encoded["input_ids"].shape[1] < 2:
            return expanded, {}
        prefix = {key: value[:, :-1] for key, value in encoded.items()} | ({"adapter_names": names} if names else {})
        positions = (prefix["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # as generate() does under left padding
        cache = self.model(**prefix, position_ids=positions, use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_select_indices(select)
        return expanded, {"past_key_values": cache}

    def _message(self, ids: list[int], input_tokens: int, stops: list[str]) -> AIMessage:
        eos = self._eos_ids()
        ends = eos | {self.tokenizer.pad_token_id}
        n = next((i for i, token in enumerate(ids) if token in ends), len(ids))
        raw = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        text = trim_at_stop(raw, stops)
        stopped = len(text) < len(raw)
        output_tokens = n + int(n < len(ids) and not stopped and ids[n] in eos)
        self._generated_tokens += output_tokens
        return AIMessage(
            content=text.strip(),
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": "stop" if stopped or n < len(ids) else "length",
            },
        )
