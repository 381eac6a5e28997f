"""Multi-turn dialogues as token ids with a loss mask on the agent's turns only.

A dialogue is rendered either with the tokenizer's chat template or, for base models, as the
"Label: text" transcript that ``LocalChatModel`` prompts them with. Each message's characters
are found by rendering growing prefixes of the conversation, and a token carries loss when its
first character lies in an assistant message's span: its content and the end-of-turn marker
(the template's end token, or the transcript's newline), never the role header, which is part of
the generation prompt. This is what TRL's ``assistant_only_loss`` does with ``{% generation %}``
markers, for any template and for plain transcripts.
"""

from __future__ import annotations

from typing import Any, Sequence

from transformers import PreTrainedTokenizerBase

from workbench.errors import WorkbenchError

Message = dict[str, str]


def role_labels(user: str, agent: str) -> dict[str, str]:
    """Transcript labels for a dialogue between ``user`` and ``agent`` (the environment's role names)."""
    return {"user": user, "assistant": agent, "system": "System"}


def transcript_reply(content: str) -> str:
    """A message's text after its "Label:" in the transcript; for the agent, what carries loss."""
    return f" {content.strip()}\n"


def transcript_segments(messages: Sequence[Message], labels: dict[str, str]) -> list[tuple[str, bool]]:
    """``(text, carries_loss)`` pieces of the transcript: leading system messages as a header and a
    blank line, then one "Label: content" line per message; the assistant's " content\\n" carries loss."""
    start = 0
    while start < len(messages) and messages[start]["role"] == "system":
        start += 1
    pieces: list[tuple[str, bool]] = []
    if start:
        pieces.append(("\n".join(m["content"].strip() for m in messages[:start]) + "\n\n", False))
    for m in messages[start:]:
        label = labels.get(m["role"], m["role"].title())
        pieces.append((f"{label}:", False))
        pieces.append((transcript_reply(m["content"]), m["role"] == "assistant"))
    return pieces


def transcript_prompt(messages: Sequence[Message], labels: dict[str, str]) -> str:
    """The transcript of ``messages`` ending with the assistant's label: the text a base model
    continues with the agent's next turn."""
    return "".join(text for text, _ in transcript_segments(messages, labels)) + f"{labels['assistant']}:"


def chat_segments(messages: Sequence[Message], tokenizer: PreTrainedTokenizerBase) -> list[tuple[str, bool]]:
    """``(text, carries_loss)`` pieces of the chat-template rendering; an assistant message's piece
    runs from the end of its generation prompt to the end of its own rendering."""
    def render(upto: int, generation_prompt: bool) -> str:
        if upto == 0 and not generation_prompt:
            return ""
        return tokenizer.apply_chat_template(list(messages[:upto]), tokenize=False,
                                             add_generation_prompt=generation_prompt)

    pieces: list[tuple[str, bool]] = []
    done = ""
    for i, m in enumerate(messages):
        full = render(i + 1, False)
        start = render(i, True) if m["role"] == "assistant" else done
        if not full.startswith(start) or not start.startswith(done):
            raise WorkbenchError("the chat template does not render conversations prefix by prefix; "
                                 "train with --format transcript")
        if start != done:
            pieces.append((start[len(done):], False))
        pieces.append((full[len(start):], m["role"] == "assistant"))
        done = full
    return pieces


def tokenize_dialogue(messages: Sequence[Message], tokenizer: PreTrainedTokenizerBase, *, chat: bool,
                      labels: dict[str, str] | None = None,
                      trainable: Sequence[bool] | None = None) -> dict[str, Any]:
    """``{"input_ids", "assistant_masks"}`` for one conversation (TRL's tokenized SFT format), with
    ``assistant_masks[t] = 1`` exactly for the agent's tokens; ``trainable`` (one flag per assistant
    message) leaves out assistant messages the policy did not say (an environment's fixed opening)."""
    if not messages:
        raise WorkbenchError("a dialogue with no messages cannot be trained on")
    for m in messages:
        if set(m) < {"role", "content"}:
            raise WorkbenchError(f"message {m!r} lacks 'role' or 'content'")
    pieces = chat_segments(messages, tokenizer) if chat else transcript_segments(messages, labels or LABELS)
    if trainable is not None:  # each message ends with exactly one loss-carrying piece when it is the assistant's
        flags = iter(trainable)
        pieces = [(piece, loss and next(flags)) for piece, loss in pieces]
    text, spans, at = "", [], 0
    for piece, loss in pieces:
        if loss:
            spans.append((at, at + len(piece)))
        text += piece
        at += len(piece)
    encoded = tokenizer(text, add_special_tokens=not chat, return_offsets_mapping=True)
    masks = [int(end > start and any(a <= start < b for a, b in spans)) for start, end in encoded["offset_mapping"]]
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": masks}


LABELS = role_labels("User", "Assistant")
"""Transcript labels when the dialogue's own role names are not known."""
