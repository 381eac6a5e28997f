"""Tiny random causal LMs for tests: built offline in about a second, never downloaded."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from workbench.llm.local import LocalChatModel

PAD, BOS, EOS = "<pad>", "<s>", "</s>"

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = """\
User: Hello, how are you today?
Assistant: I am fine, thank you. How can I help you?
Buyer: Would you take eighty dollars for the bike?
Seller: Hi, it's a hundred dollars and it is in great condition.
Buyer: That is a bit too much for me. What about ninety?
Seller: I can do ninety five, but that is my final offer.
Persuader: Would you like to donate some of your earnings to Save the Children?
Persuadee: I am not sure. What does the charity do with the money?
Supporter: It sounds like you have been feeling very stressed about work lately.
Seeker: Yes, my boss keeps giving me more tasks and I cannot sleep.
Teacher: The phrase means "good morning" in French. Can you repeat it?
Student: Bonjour! Did I say that right?
Robot: I will put the mug in the sink and then wash the plate.
Commander: Please make a cup of coffee and slice the bread on the counter.
The quick brown fox jumps over the lazy dog, and the cat sleeps in the sun.
People often agree on a price after a few rounds of offers and counter offers.
A good assistant listens carefully, answers politely and never uses emojis.
"""


def tiny_tokenizer(chat_template: bool = False, corpus: Sequence[str] = (),
                   vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained in-process on a small built-in corpus plus ``corpus``
    (e.g. an environment's template utterances, so that they are a few tokens each)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_CORPUS.splitlines(), *corpus], trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE if chat_template else None,
    )


def tiny_llama(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer, 48-wide random Llama whose weights depend only on ``seed``."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return LlamaForCausalLM(config).eval()


def tiny_causal_lm(dir: Path | None = None, chat_template: bool = False, corpus: Sequence[str] = (),
                   vocab_size: int = 512) -> Path:
    """Save a tiny random Llama and its tokenizer (see ``tiny_tokenizer``) to ``dir`` (a new temp dir
    if None); return the folder."""
    path = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix="workbench-tiny-"))
    tokenizer = tiny_tokenizer(chat_template, corpus, vocab_size)
    tiny_llama(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_chat_model(chat_template: bool = False, **fields: Any) -> LocalChatModel:
    """A ``LocalChatModel`` over an in-memory tiny random Llama; ``fields`` set its options."""
    tokenizer = tiny_tokenizer(chat_template)
    return LocalChatModel(model=tiny_llama(tokenizer), tokenizer=tokenizer, model_name="tiny-llama", **fields)


def tiny_encoder(dir: Path | None = None, seed: int = 0) -> Path:
    """Save a tiny random BERT encoder with the embedded MiniLM tokenizer to ``dir`` (a new temp dir
    if None), for fast planner tests; return the folder."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from workbench.llm.embedded import minilm_path

    path = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix="workbench-tiny-encoder-"))
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
