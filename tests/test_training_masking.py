"""Which tokens of a multi-turn dialogue carry loss, checked token by token, down to TRL's labels."""

import pytest

from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_tokenizer
from workbench.training.masking import tokenize_dialogue

DIALOGUE = [
    {"role": "system", "content": "You are a buyer."},
    {"role": "user", "content": "Hi, how much is the bike?"},
    {"role": "assistant", "content": "Would you take eighty dollars?"},
    {"role": "user", "content": "I can do ninety five."},
    {"role": "assistant", "content": "Deal, thank you."},
]
LABELS = {"user": "Seller", "assistant": "Buyer", "system": "System"}


def runs(mask):
    """The (start, end) index ranges where the mask is 1."""
    out, start = [], None
    for i, m in enumerate([*mask, 0]):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append((start, i))
            start = None
    return out


@pytest.mark.parametrize("chat", [True, False])
def test_only_the_agents_turns_carry_loss(chat):
    tok = tiny_tokenizer(chat_template=chat)
    out = tokenize_dialogue(DIALOGUE, tok, chat=chat, labels=LABELS)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    pieces = [tok.decode(ids[a:b]) for a, b in runs(mask)]
    end = "</s>\n" if chat else "\n"
    lead = "" if chat else " "
    # exactly two loss-carrying stretches: each agent reply with its end-of-turn marker, nothing else
    assert pieces == [f"{lead}Would you take eighty dollars?{end}", f"{lead}Deal, thank you.{end}"]
    # token by token: each loss token's text lies in the agent's replies, with the markers after them
    for i in (i for i, m in enumerate(mask) if m):
        assert tok.decode([ids[i]]) in pieces[0] + pieces[1], f"token {i}"
    # the loss-free rest decodes to the prompt parts, in order
    rest = tok.decode([t for t, m in zip(ids, mask) if m == 0])
    for text in ("You are a buyer.", "Hi, how much is the bike?", "I can do ninety five."):
        assert text in rest
    header = "<|assistant|>" if chat else "Buyer:"
    assert rest.count(header) == 2  # role headers belong to the prompt
    assert "eighty" not in rest and "Deal" not in rest


def test_fixed_opening_turns_are_left_out():
    tok = tiny_tokenizer()
    out = tokenize_dialogue(DIALOGUE, tok, chat=False, labels=LABELS, trainable=[False, True])
    pieces = [tok.decode(out["input_ids"][a:b]) for a, b in runs(out["assistant_masks"])]
    assert pieces == [" Deal, thank you.\n"]


def test_sft_labels_follow_the_mask(tmp_path):
    """Through TRL's SFT collator: label -100 exactly where the mask is 0."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from workbench.llm.tiny import tiny_llama

    tok = tiny_tokenizer()
    row = tokenize_dialogue(DIALOGUE, tok, chat=False, labels=LABELS)
    trainer = SFTTrainer(model=tiny_llama(tok), processing_class=tok, train_dataset=Dataset.from_list([row]),
                         args=SFTConfig(output_dir=str(tmp_path), report_to="none", max_length=None, bf16=False))
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0].tolist()
    expected = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"])]
    assert labels == expected


def test_bad_messages_are_refused():
    tok = tiny_tokenizer()
    with pytest.raises(WorkbenchError, match="no messages"):
        tokenize_dialogue([], tok, chat=False)
    with pytest.raises(WorkbenchError, match="lacks 'role' or 'content'"):
        tokenize_dialogue([{"role": "user"}], tok, chat=False)
