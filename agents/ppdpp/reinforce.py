"""Self-play reinforcement learning of the planner from the critic's rewards (PPDPP, Deng et al.,
ICLR 2024, Sec. 3.3).

REINFORCE (Williams, 1992): for each agent turn t of an episode, with the history s_t, the planned
strategy a_t and the critic's reward r_t after the user's reply,
    L = - sum_t G_t log pi(a_t | s_t),   G_t = sum_k gamma^k r_{t+k}   (Eq. 4-5, gamma = 0.999),
with G normalised within each episode as in the paper's code (``normalise="episode"``), across the
whole batch of lockstep episodes (``"batch"``, a mean baseline), across the batch per turn index
(``"turn"``: a time-dependent baseline b_t, still unbiased; with gamma near 1 and a cost per turn,
later turns always have larger returns, which the other two read as "later actions are better"),
against a learned state-value baseline V(s_t) on the planner's features (``"value"``: REINFORCE
with baseline, Sutton & Barto 2018, Sec. 13.4; V is fitted to G_t by squared error and the
advantages G_t - V(s_t) are standardised across the batch), or not at all (``"none"``).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from agents.ppdpp.planner import StrategyPlanner
from agents.ppdpp.returns import discounted_returns
from workbench.env import Agent, DialogueEnv
from workbench.episodes import Case, Episode, format_history
from workbench.errors import WorkbenchError
from workbench.evaluate import fallback_rates
from workbench.progress import Progress
from workbench.rollout import rollout
from workbench.runs import Run, atomic_dir, settled_dir

Normalise = Literal["episode", "batch", "turn", "value", "none"]
NORMALISE = ("episode", "batch", "turn", "value", "none")
UPDATES = ("episode", "batch")


def check_rl_options(normalise: str, update: str) -> None:
    """One-line errors for an unknown ``normalise`` or ``update`` (checked before any work starts)."""
    for name, value, allowed in (("normalise", normalise, NORMALISE), ("update", update, UPDATES)):
        if value not in allowed:
            raise WorkbenchError(f"unknown {name} {value!r} (use {', '.join(allowed)})")


def planned_turns(episode: Episode, agent_role: str) -> list[tuple[str, str, float]]:
    """``(history, strategy, reward)`` for every planned agent turn that the critic scored (the
    environment's fixed opening carries no reward and is skipped)."""
    rows = []
    for i, turn in enumerate(episode.turns):
        if turn.role == agent_role and turn.strategy and turn.reward is not None:
            rows.append((format_history((t.role, t.text) for t in episode.turns[:i]), turn.strategy, turn.reward))
    return rows


def reinforce_loss(planner: StrategyPlanner, episodes: Sequence[Episode], agent_role: str, *,
                   gamma: float = 0.999, normalise: Normalise = "episode",
                   entropy_coef: float = 0.0, value: nn.Module | None = None) -> torch.Tensor | None:
    """The REINFORCE loss over ``episodes`` (mean over their planned turns), minus ``entropy_coef``
    times the mean policy entropy (an exploration bonus against early collapse onto one strategy,
    Williams & Peng 1991; 0 in the paper), plus the value baseline's squared error when
    ``normalise="value"`` (``value`` maps the planner's features to V(s)); None when no turn was planned."""
    check_rl_options(normalise, "batch")
    if (normalise == "value") != (value is not None):
        raise WorkbenchError("normalise='value' needs a value head, and only it takes one")
    index = {name: i for i, name in enumerate(planner.strategies)}
    texts, actions, returns = [], [], []
    for episode in episodes:
        rows = planned_turns(episode, agent_role)
        if not rows:
            continue
        texts += [h for h, _, _ in rows]
        actions += [index[s] for _, s, _ in rows]
        returns.append(discounted_returns([r for _, _, r in rows], gamma, normalise=normalise == "episode"))
    if not texts:
        return None
    g = torch.cat(returns).to(planner.device)
    if normalise == "batch" and len(g) > 1:
        g = (g - g.mean()) / (g.std(unbiased=False) + 1e-8)
    if normalise == "turn":
        g = _standardise_per_turn(returns).to(planner.device)
    features = planner.standardise(planner.encode(texts))
    log_probs = planner.head(features).log_softmax(dim=-1)
    value_loss = torch.zeros((), device=g.device)
    if value is not None:
        v = value(features).squeeze(-1)
        value_loss = 0.5 * torch.nn.functional.mse_loss(v, g)
        g = g - v.detach()
        if len(g) > 1:
            g = (g - g.mean()) / (g.std(unbiased=False) + 1e-8)
    chosen = log_probs.gather(1, torch.tensor(actions, device=g.device)[:, None]).squeeze(1)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1).mean()
    return -(g * chosen).mean() - entropy_coef * entropy + value_loss


def _standardise_per_turn(returns: list[torch.Tensor]) -> torch.Tensor:
    """Each turn index's returns standardised across the episodes that reached it (only centred
    where its spread is zero; a turn only one episode reached gets 0)."""
    out = [g.clone() for g in returns]
    for t in range(max(len(g) for g in returns)):
        column = torch.stack([g[t] for g in returns if len(g) > t])
        mean, std = column.mean(), column.std(unbiased=False)
        for g, o in zip(returns, out):
            if len(g) > t:
                o[t] = (g[t] - mean) / std if std > 1e-8 else g[t] - mean
    return torch.cat(out)


def train_rl(planner: StrategyPlanner, env: DialogueEnv, agent: Agent, cases: Sequence[Case], *, episodes: int,
             batch_size: int = 16, lr: float = 1e-5, head_lr: float | None = None, gamma: float = 0.999,
             normalise: Normalise = "episode", entropy_coef: float = 0.0,
             update: Literal["episode", "batch"] = "episode", max_grad_norm: float = 1.0,
             freeze_encoder: bool = False, standardise_features: bool = False, seed: int = 0, run: Run,
             checkpoint: str | Path, save_every: int = 1, provenance: dict[str, Any] | None = None,
             progress: bool = True) -> list[dict[str, Any]]:
    """Self-play REINFORCE: play ``batch_size`` episodes in lockstep with ``agent`` (whose policy is
    ``planner``, sampling), then update once per episode (``update="episode"``, PPDPP) or once per
    batch; repeat until ``episodes`` episodes. ``freeze_encoder`` trains only the head (and value
    head) on the frozen encoder's features, which the update then takes from the rollout instead of
    encoding again: no encoder backward pass and a single forward pass per turn.
    ``standardise_features`` folds each batch's features into the planner's running feature
    standardisation before the update (:mod:`agents.ppdpp.standardise`). Episodes and
    per-update metrics (with the batch's fallback rates, ``workbench.evaluate.fallback_rates``) go to
    ``run``; the planner and optimizer are checkpointed every ``save_every`` updates and a rerun resumes
    there. The bar counts updates in fractions (self-play's share of the model calls planned, then the
    learning steps done, in proportion to the time each took in the last update), so that it moves, and
    gives an ETA, within an update."""
    check_rl_options(normalise, update)
    if episodes < 1 or batch_size < 1 or save_every < 1:
        raise WorkbenchError("episodes, batch_size and save_every must be at least 1")
    updates = -(-episodes // batch_size)
    value = nn.Linear(planner.head.in_features, 1).to(planner.device) if normalise == "value" else None
    if freeze_encoder:
        planner.freeze_encoder()
    optimizer = planner_optimizer(planner, lr, head_lr, value)
    start = _restore(checkpoint, planner, optimizer, value)
    # exactly once: the episodes and records of updates past the checkpoint (or of all, before the first
    # checkpoint) are played and logged again below
    run.cut_back(episodes=lambda e: e.provenance.get("update", -1) < start,
                 metrics=lambda r: r.get("event") != "rl" or r["update"] <= start)
    rng, pool = random.Random(seed), list(cases)
    schedule = [rng.choice(pool) for _ in range(updates * batch_size)]  # the cases, drawn once
    planner.eval()  # no dropout: the update's log-probabilities are those the rollout sampled from
    records = []
    scores, split = "", 0.5  # split: the share of an update's time spent playing, measured on each update
    with tqdm(total=updates, initial=start, desc=f"PPDPP RL ({env.name})", unit="update", disable=not progress,
              smoothing=0, miniters=0,
              bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]") as bar:

        def show(n: float, note: str) -> None:
            bar.set_postfix_str(", ".join(part for part in (scores, note) if part), refresh=False)
            bar.update(max(0.0, n - bar.n))

        for u in range(start, updates):

            def playing(reading: Progress, u: int = u) -> None:
                show(u + split * reading.done / max(reading.total, 1), reading.note)

            began = time.monotonic()
            batch = rollout(env, agent, schedule, n=(u + 1) * batch_size, skip=range(u * batch_size), seed=seed,
                            batch_size=batch_size, run=run, provenance={**(provenance or {}), "update": u},
                            progress=False, on_progress=playing if progress else None)
            played = time.monotonic()
            if standardise_features:
                _observe_features(planner, batch, env.agent_role)
            losses = []
            groups = [[e] for e in batch] if update == "episode" else [batch]
            for g, group in enumerate(groups, 1):
                loss = reinforce_loss(planner, group, env.agent_role, gamma=gamma, normalise=normalise,
                                      entropy_coef=entropy_coef, value=value)
                if loss is not None:
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]],
                                                   max_grad_norm)
                    optimizer.step()
                    losses.append(loss.item())
                show(u + split + (1 - split) * g / len(groups), "learning")
            planner.forget_features()
            record = {"event": "rl", "update": u + 1, "episodes": (u + 1) * batch_size, **env.metrics(batch),
                      "return": sum(e.total_reward for e in batch) / len(batch),
                      "loss": sum(losses) / len(losses) if losses else None, **fallback_rates(batch)}
            run.log_metrics(record)
            records.append(record)
            if (u + 1) % save_every == 0 or u + 1 == updates:
                _save(checkpoint, planner, optimizer, value, u + 1)
            split = (played - began) / max(time.monotonic() - began, 1e-9)
            scores = f"SR={record['SR']:.2f}, ret={record['return']:.2f}"
            show(u + 1, "")
    return records


def _observe_features(planner: StrategyPlanner, episodes: Sequence[Episode], agent_role: str) -> None:
    histories = [h for episode in episodes for h, _, _ in planned_turns(episode, agent_role)]
    if histories:
        with torch.no_grad():
            planner.standardise.observe(planner.encode(histories), planner.head)


def planner_optimizer(planner: StrategyPlanner, lr: float, head_lr: float | None = None,
                      value: nn.Module | None = None) -> torch.optim.AdamW:
    """AdamW with the encoder at ``lr`` and the linear heads (policy, and value if any) at ``head_lr``
    (default ``lr``)."""
    heads = list(planner.head.parameters()) + (list(value.parameters()) if value is not None else [])
    return torch.optim.AdamW([{"params": list(planner.encoder.parameters()), "lr": lr},
                              {"params": heads, "lr": head_lr or lr}])


def _save(path: str | Path, planner: StrategyPlanner, optimizer: torch.optim.Optimizer, value: nn.Module | None,
          update: int) -> None:
    with atomic_dir(path) as tmp:
        planner.save(tmp / "planner")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if value is not None:
            torch.save(value.state_dict(), tmp / "value.pt")
        (tmp / "state.json").write_text(json.dumps({"update": update}))


def _restore(path: str | Path, planner: StrategyPlanner, optimizer: torch.optim.Optimizer,
             value: nn.Module | None) -> int:
    """Load a checkpoint written by :func:`_save`; return the updates done (0 without a checkpoint)."""
    folder = settled_dir(path)
    if folder is None:
        return 0
    planner.load_state_dict(StrategyPlanner.load(folder / "planner").state_dict())
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    if value is not None:
        value.load_state_dict(torch.load(folder / "value.pt", weights_only=True))
    return int(json.loads((folder / "state.json").read_text())["update"])
