"""Supervised fine-tuning of the planner on human strategy labels (PPDPP, Deng et al., ICLR 2024, Sec. 3.2).

Cross-entropy on (history, next strategy) examples with AdamW and a linear warm-up/decay schedule;
after every epoch the planner is scored on the validation examples with macro precision, recall
and F1 (the paper's supervised metrics), and the best-F1 planner is saved.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Sequence

import torch
from sklearn.metrics import precision_recall_fscore_support
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from agents.ppdpp.data import PlannerExample
from agents.ppdpp.planner import StrategyPlanner


@torch.no_grad()
def predict(planner: StrategyPlanner, texts: Sequence[str], batch_size: int = 64) -> list[int]:
    was_training = planner.training
    planner.eval()
    predictions = []
    for start in range(0, len(texts), batch_size):
        predictions += planner(texts[start:start + batch_size]).argmax(dim=-1).tolist()
    planner.train(was_training)
    return predictions


def macro_scores(planner: StrategyPlanner, examples: Sequence[PlannerExample],
                 batch_size: int = 64) -> dict[str, float]:
    """Macro-averaged precision, recall and F1, and accuracy, over the planner's strategy set."""
    gold = [e.label for e in examples]
    pred = predict(planner, [e.text for e in examples], batch_size)
    p, r, f1, _ = precision_recall_fscore_support(gold, pred, labels=list(range(len(planner.strategies))),
                                                  average="macro", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f1),
            "accuracy": sum(a == b for a, b in zip(gold, pred)) / len(gold)}


def train_sft(planner: StrategyPlanner, train: Sequence[PlannerExample], val: Sequence[PlannerExample], *,
              save_to: str | Path, epochs: int = 3, lr: float = 2e-5, batch_size: int = 16, warmup: float = 0.1,
              seed: int = 0, log: Callable[[dict], None] = lambda record: None,
              progress: bool = True) -> dict[str, float]:
    """Fine-tune ``planner`` in place; save the best-validation-F1 planner to ``save_to``; return its scores."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    steps = epochs * -(-len(train) // batch_size)
    optimizer = torch.optim.AdamW(planner.parameters(), lr=lr)
    schedule = get_linear_schedule_with_warmup(optimizer, int(warmup * steps), steps)
    best: dict[str, float] = {"f1": -1.0}
    with tqdm(total=steps, desc="planner SFT", unit="step", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            planner.train()
            order = list(train)
            rng.shuffle(order)
            total = 0.0
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                logits = planner([e.text for e in batch])
                loss = torch.nn.functional.cross_entropy(logits, torch.tensor([e.label for e in batch],
                                                                              device=logits.device))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(planner.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                total += loss.item() * len(batch)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            scores = macro_scores(planner, val)
            record = {"event": "sft", "epoch": epoch, "train_loss": total / len(order),
                      **{f"val_{k}": v for k, v in scores.items()}}
            if scores["f1"] > best["f1"]:
                best = {"epoch": epoch, **scores}
                planner.save(save_to)
            log({**record, "best": best["epoch"] == epoch})
    return best
