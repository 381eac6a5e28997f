"""The PPDPP planner: an encoder with a linear head over an environment's strategies.

Deng et al., ICLR 2024, Sec. 3.1: the plug-in planner reads the dialogue history and predicts
the next dialogue strategy, pi(a | s) = softmax(W h_s), where h_s encodes the history "Role: text"
lines, truncated from the left to the encoder's length. The paper takes RoBERTa's [CLS] state
(``pooling="cls"``); the default here is the mean of the token states (``"mean"``), the pooling
all-MiniLM-L6-v2 was trained with, whose [CLS] state is not a sentence representation. The head
reads h_s through a running standardisation (:mod:`.standardise`; the identity unless RL asks for
it). The planner is a separate artefact: ``save``/``load`` keep the encoder, the standardisation,
the head and the strategy names, and a planner refuses an environment whose strategy set differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

from agents.ppdpp.config import POOLING
from workbench.env import DialogueEnv, DialogueState, Strategy
from workbench.errors import WorkbenchError
from workbench.llm.embedded import load_encoder, runtime_dtype
from workbench.runs import atomic_dir

from .standardise import FeatureStandardiser

PLANNER_FILE = "planner.json"
HEAD_FILE = "head.pt"
STANDARDISE_FILE = "standardise.pt"


class StrategyPlanner(nn.Module):
    def __init__(self, encoder: nn.Module, tokenizer, strategies: Sequence[str], max_length: int = 512,
                 pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLING:
            raise WorkbenchError(f"unknown pooling {pooling!r} (use {', '.join(POOLING)})")
        self.pooling = pooling
        self.encoder, self.tokenizer = encoder, tokenizer
        tokenizer.truncation_side = "left"  # keep the end of a long dialogue
        self.strategies = tuple(strategies)
        self.max_length = min(max_length, getattr(tokenizer, "model_max_length", max_length))
        self.standardise = FeatureStandardiser(encoder.config.hidden_size)  # identity until RL observes data
        self.head = nn.Linear(encoder.config.hidden_size, len(self.strategies))
        self.bf16 = runtime_dtype() == torch.bfloat16  # bf16 autocast where the hardware has it natively
        self.features: dict[str, torch.Tensor] | None = None  # h_s by history while the encoder is frozen

    @classmethod
    def from_encoder(cls, strategies: Sequence[str], encoder: str = "embedded:minilm", max_length: int = 512,
                     pooling: str = "mean") -> "StrategyPlanner":
        """A fresh planner on ``encoder`` (``embedded:minilm`` or any transformers encoder folder)."""
        model, tokenizer = load_encoder(encoder)
        return cls(model.train(), tokenizer, strategies, max_length, pooling)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def freeze_encoder(self) -> None:
        """Stop training the encoder: from now on only the head learns, and :meth:`encode` memoises
        h_s by history (an RL update then reuses the features its rollout computed; see
        :meth:`forget_features`)."""
        self.encoder.requires_grad_(False)
        self.features = {}

    def forget_features(self) -> None:
        """Drop the memoised features (train_rl calls this after every update)."""
        if self.features is not None:
            self.features.clear()

    def encode(self, histories: Sequence[str]) -> torch.Tensor:
        """The pooled history representations h_s (float32); memoised while the encoder is frozen."""
        if self.features is None:
            return self._encode(histories)
        new = list(dict.fromkeys(h for h in histories if h not in self.features))
        if new:
            with torch.no_grad():
                self.features.update(zip(new, self._encode(new)))
        return torch.stack([self.features[h] for h in histories])

    def _encode(self, histories: Sequence[str]) -> torch.Tensor:
        """Run the encoder under bfloat16 autocast where ``bf16`` (about 2.5x faster for MiniLM
        training on an AVX512-BF16 CPU) and pool its last states."""
        batch = self.tokenizer(list(histories), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            states = self.encoder(**batch).last_hidden_state.float()
        if self.pooling == "cls":
            return states[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, histories: Sequence[str]) -> torch.Tensor:
        """Logits over the strategies, one row per dialogue history."""
        return self.head(self.standardise(self.encode(histories)))

    def check(self, env: type[DialogueEnv]) -> None:
        """Refuse an environment whose strategy set is not this planner's."""
        names = tuple(s.name for s in env.strategies)
        if names != self.strategies:
            raise WorkbenchError(f"this planner was trained on strategies {list(self.strategies)}; "
                                 f"environment {env.name!r} has {list(names)}")

    def save(self, path: str | Path) -> Path:
        """Write the planner folder atomically (encoder, tokenizer, head, strategy names)."""
        with atomic_dir(path) as tmp:
            self.encoder.save_pretrained(tmp / "encoder")
            self.tokenizer.save_pretrained(tmp / "encoder")
            torch.save(self.head.state_dict(), tmp / HEAD_FILE)
            torch.save(self.standardise.state_dict(), tmp / STANDARDISE_FILE)
            (tmp / PLANNER_FILE).write_text(json.dumps({"strategies": list(self.strategies),
                                                        "max_length": self.max_length, "pooling": self.pooling},
                                                       indent=2))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "StrategyPlanner":
        path = Path(path)
        if not (path / PLANNER_FILE).is_file():
            raise WorkbenchError(f"no planner at {path} (missing {PLANNER_FILE})")
        meta = json.loads((path / PLANNER_FILE).read_text())
        planner = cls(AutoModel.from_pretrained(path / "encoder"), AutoTokenizer.from_pretrained(path / "encoder"),
                      meta["strategies"], meta["max_length"], meta.get("pooling", "cls"))
        planner.head.load_state_dict(torch.load(path / HEAD_FILE, weights_only=True))
        if (path / STANDARDISE_FILE).is_file():
            planner.standardise.load_state_dict(torch.load(path / STANDARDISE_FILE, weights_only=True))
        return planner.eval()


class PlannerPolicy:
    """A trained planner as a strategy policy: one encoder pass for all live dialogues; it samples
    from pi(a | s) with each dialogue's own ``rng`` (``greedy`` takes the most likely strategy)."""

    def __init__(self, planner: StrategyPlanner, env: type[DialogueEnv], greedy: bool = False):
        planner.check(env)
        self.planner, self.env, self.greedy = planner, env, greedy

    @torch.no_grad()
    def choose(self, states: Sequence[DialogueState]) -> list[tuple[Strategy, float]]:
        probs = self.planner([s.history() for s in states]).softmax(dim=-1).tolist()
        choices = []
        for state, p in zip(states, probs):
            index = max(range(len(p)), key=p.__getitem__) if self.greedy else state.rng.choices(range(len(p)), p)[0]
            choices.append((self.env.strategies[index], p[index]))
        return choices
