"""A toy task every trainer can learn in seconds on a CPU with a tiny model.

Emotional support with the scripted patient, 4 turns: the therapist says either A (a reflection
of feelings, which the patient rewards) or B (a question, which annoys it), chosen by a coin. The
tiny model's tokenizer knows both sentences, so a few SFT steps make it say them; preference
methods should come to prefer A, and RL should raise the episode return by saying A more often.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workbench.episodes import Turn
from workbench.llm.tiny import tiny_causal_lm
from workbench.registry import make_env
from workbench.rollout import rollout
from workbench.runs import Run
from workbench.splits import split_cases
from workbench.training.episodic import EpisodePlayer

ENV = "emotional_support"
A = "It sounds like you're feeling overwhelmed."
B = "What happened next?"
TURNS = 4


class Coin:
    """Says A or B at random (each dialogue's own random stream)."""

    def act(self, states):
        return [Turn(s.agent_role, s.rng.choice([A, B])) for s in states]


def toy_env():
    return make_env(ENV, max_turns=TURNS)


def toy_cases(n: int = 16):
    return split_cases(toy_env().cases(), "train")[:n]


def coin_episodes(path: Path, n: int = 128) -> Path:
    """``n`` coin-flip episodes over 16 training cases, as a run directory."""
    env = toy_env()
    rollout(env, Coin(), toy_cases(), n=n, run=Run.open(path, {}), progress=False)
    return path


def tiny_policy(path: Path) -> Path:
    return tiny_causal_lm(path, corpus=[A, B] * 20)


def load(path: Path):
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


@torch.no_grad()
def completion_logprob(model, tokenizer, prompt: str, completion: str) -> float:
    """Summed log-probability of ``completion`` after ``prompt`` (transcript text)."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + completion)["input_ids"]
    logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    logps = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:]).unsqueeze(-1)).squeeze(-1)
    return logps[len(prompt_ids) - 1:].sum().item()


def preference_margin(path: Path, rows: Sequence[dict]) -> float:
    """Mean log p(chosen) - log p(rejected) over transcript preference rows."""
    model, tokenizer = load(path)
    return statistics.mean(completion_logprob(model, tokenizer, r["prompt"], r["chosen"])
                           - completion_logprob(model, tokenizer, r["prompt"], r["rejected"]) for r in rows)


def mean_return(path: Path, episodes: int = 64, seed: int = 123) -> float:
    """The policy's mean episode return on the toy cases (sampled at temperature 1, fixed seeds)."""
    model, tokenizer = load(path)
    player = EpisodePlayer(toy_env(), tokenizer, chat=False, max_new_tokens=12, temperature=1.0)
    torch.manual_seed(seed)
    cases = toy_cases()
    return statistics.mean(p.ret for p in player.play(model, [cases[i % len(cases)] for i in range(episodes)], seed))
