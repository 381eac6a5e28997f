"""Fakes for the C3PO tests: a rule-following chat model and a keyword sentence encoder."""

from __future__ import annotations

import re
from typing import Any

import torch
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

PREFIX = "As a cyclist,"


class ScriptedWriter(BaseChatModel):
    """Answers each C3PO prompt by its kind: categories, requests, revisions (every other one ignores the
    feedback, to exercise the repair path), judge verdicts, and "Sure, I can help." to anything else."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-writer"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        system, last = messages[0].text, messages[-1].text
        if "must NOT" in system:
            text = "buying a car"
        elif "feedback applies" in system:
            text = "1. buying a bike"
        elif last.startswith("Topic: "):
            text = f"Please help me with {last[7:]} today, thanks"
        elif last.startswith("Situation: "):
            text = f"I need advice about {last[11:]} right now"
        elif last.startswith("Conversation:"):
            reply = last.split("\nReply: ", 1)[1].split("\nFeedback:", 1)[0]
            text = f"{PREFIX} {reply}" if self.calls % 2 else f"Well, {reply}"
        elif last.startswith("Feedback:"):
            text = "yes" if PREFIX.lower() in last.split("Reply B:", 1)[1].lower() else "no"
        else:
            text = "Sure, I can help."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


class KeywordEncoder:
    """Unit vectors over (bike, car, anything else): "bike" texts are near each other and far from the rest."""

    def encode(self, texts: list[str]) -> torch.Tensor:
        rows = [[len(re.findall(r"\bbikes?\b", t.lower())), len(re.findall(r"\bcars?\b", t.lower())), 0.05]
                for t in texts]
        return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float), dim=-1)
