"""Weighted behaviour cloning of the strategy planner: the training step shared by BC, filtered BC and AWR.

Each step draws a batch of examples with probability proportional to their weight (``weights``) and
minimises the cross-entropy of their strategies; sampling by weight is AWR's weighted log-likelihood
(Peng et al. 2019, Eq. 7) with the weights' normalisation folded into the sampling. A fixed number of
steps makes methods comparable at the same budget whatever their data size.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from agents.offline_rl.weights import WeightedExample
from agents.ppdpp.planner import StrategyPlanner
from workbench.errors import WorkbenchError
from workbench.runs import atomic_write


def feature_cache(folder: Path, planner: StrategyPlanner, encoder: str) -> Path:
    """Where the frozen encoder's features of a dataset are kept: one file per encoder, length and pooling."""
    key = hashlib.sha256(f"{encoder}|{planner.max_length}|{planner.pooling}".encode()).hexdigest()[:12]
    return folder / "features" / f"{key}.pt"


def precompute_features(planner: StrategyPlanner, histories: Sequence[str], cache: Path, *, batch_size: int = 64,
                        progress: bool = True) -> None:
    """Fill a frozen planner's feature memo for ``histories``, reading and updating ``cache`` (so other
    seeds and methods on the same data encode nothing again)."""
    if planner.features is None:
        raise WorkbenchError("features are only cached for a frozen encoder")
    if cache.is_file():
        planner.features.update(torch.load(cache, weights_only=True))
    new = [h for h in dict.fromkeys(histories) if h not in planner.features]
    for start in tqdm(range(0, len(new), batch_size), desc="encoding histories", unit="batch",
                      disable=not progress or not new):
        planner.encode(new[start:start + batch_size])
    if new:
        buffer = io.BytesIO()
        torch.save(planner.features, buffer)
        atomic_write(cache, buffer.getvalue())


def train_weighted(planner: StrategyPlanner, examples: Sequence[WeightedExample], *, steps: int, batch_size: int,
                   lr: float, seed: int, save_to: str | Path, save_every: int = 100,
                   log: Callable[[dict], None] = lambda record: None, progress: bool = True) -> None:
    """Train ``planner`` in place for ``steps`` batches drawn by weight; save it every ``save_every`` steps
    and at the end."""
    weights = [e.weight for e in examples]
    if not examples or sum(weights) <= 0:
        raise WorkbenchError("every training example has weight 0: nothing to imitate")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    params = [p for p in planner.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    planner.train()
    for step in tqdm(range(1, steps + 1), desc="offline RL", unit="step", disable=not progress):
        batch = rng.choices(examples, weights=weights, k=batch_size)
        logits = planner([e.history for e in batch])
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([e.label for e in batch], device=logits.device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        log({"event": "offline_rl", "step": step, "loss": loss.item()})
        if step % save_every == 0 or step == steps:
            planner.save(save_to)
