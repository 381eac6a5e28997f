"""DPO on the strategy planner from preference labels over dialogues (Rafailov et al. 2023, Eq. 7, with the
planner as the policy over strategies):

    L = -log sigmoid(beta * [(log pi(a_w|s) - log pi_ref(a_w|s)) - (log pi(a_l|s) - log pi_ref(a_l|s))])

A pair is two dialogues played from the same state ``s`` (the history before the agent's first move) whose
first strategies differ; the one a rater preferred gives ``a_w``. ``workbench hindsight simulate`` stores
such pairs with three raters (immediate, partial hindsight, oracle hindsight; Liang et al. 2025), so the same
planner can be trained on each and the effect of the feedback measured in the environment.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from agents.ppdpp.planner import StrategyPlanner
from workbench.episodes import Episode, format_history
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class StrategyPair:
    history: str
    chosen: int
    rejected: int


def strategy_pairs(rows: Sequence[dict], episodes: Sequence[Episode], agent_role: str,
                   strategies: Sequence[str]) -> list[StrategyPair]:
    """The pairs of preference rows (``chosen_id`` / ``rejected_id``: episode ids) as (state, chosen strategy,
    rejected strategy) at the first agent turn."""
    by_id, index = {e.id: e for e in episodes}, {name: i for i, name in enumerate(strategies)}
    pairs = []
    for row in rows:
        if row.get("chosen_id") not in by_id or row.get("rejected_id") not in by_id:
            raise WorkbenchError(f"preference row of pair {row.get('pair')!r} names episodes not in the run")
        first = []
        for e in (by_id[row["chosen_id"]], by_id[row["rejected_id"]]):
            i = next(i for i, t in enumerate(e.turns) if t.role == agent_role)
            first.append((format_history((t.role, t.text) for t in e.turns[:i]), e.turns[i].strategy))
        (history, chosen), (_, rejected) = first
        if chosen in index and rejected in index and chosen != rejected:
            pairs.append(StrategyPair(history, index[chosen], index[rejected]))
    return pairs


def train_planner_dpo(planner: StrategyPlanner, pairs: Sequence[StrategyPair], *, beta: float, steps: int,
                      batch_size: int, lr: float, seed: int, log: Callable[[dict], None] = lambda r: None,
                      progress: bool = True) -> None:
    """Minimise the DPO loss (module docstring) against a frozen copy of the starting planner."""
    if not pairs:
        raise WorkbenchError("no preference pairs with two different strategies to learn from")
    reference = copy.deepcopy(planner).eval()
    rng = random.Random(seed)
    torch.manual_seed(seed)
    params = [p for p in planner.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    planner.train()
    for step in tqdm(range(1, steps + 1), desc="planner DPO", unit="step", disable=not progress):
        batch = rng.choices(pairs, k=batch_size)
        histories = [p.history for p in batch]
        chosen = torch.tensor([p.chosen for p in batch])
        rejected = torch.tensor([p.rejected for p in batch])
        logp = F.log_softmax(planner(histories), dim=-1)
        with torch.no_grad():
            ref = F.log_softmax(reference(histories), dim=-1)
        rows = torch.arange(len(batch))
        margin = (logp[rows, chosen] - ref[rows, chosen]) - (logp[rows, rejected] - ref[rows, rejected])
        loss = -F.logsigmoid(beta * margin).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        log({"event": "planner_dpo", "step": step, "loss": loss.item(),
             "accuracy": (margin > 0).float().mean().item()})
