"""RLHG training stages (Gao et al., ICLR 2024, arXiv 2401.16444) over a vectorised game passed in as a factory.

Stages (``config.stage``):

``self``
    PPO on the task reward: the self-centred agent.
``value``
    Stage I, human primitive value estimation: the self-centred agent (``--init``: a ``self`` run) plays frozen
    along the human; V_phi(s) (one head per human goal) is fitted by MSE to the human's discounted goal returns
    (bootstrapped with V_phi at the rollout's end, lambda ``human_lambda``).
``gain``
    Stage II, human enhancement: from the ``value`` run's agent and V_phi (frozen), the agent is trained by
    dual-clip PPO (clip 0.2, dual clip 3, :func:`workbench.training.ppo.ppo_loss`) with an entropy bonus on
    A = whiten(A_task) + alpha * (A_H - mean A_H) in human-agent rollouts (probability ``beta`` per match and
    update) and whiten(A_task) in agent-only ones (the human's input gated to zero); the gain network Delta(s) learns
    the positive gains (:mod:`.losses`). Gains are in units of each goal's return std measured in Stage I and summed
    over the goals the match's human pursues (``env.human_goal_weights()``).
``shaping``
    Baseline: PPO on task reward + alpha * the human-goal reward (in the same units and goal weights; ``--init``: a
    value run, for the units).

Every update collects ``rollout_steps`` x ``num_envs`` steps (:class:`.rollout.Collector`), logs one JSON line to
``metrics.jsonl`` and every ``save_every`` updates checkpoints everything (networks, optimizer, sampling generator,
the environment's state and observation) to ``checkpoints/last.pt``, so ``--resume`` continues bit for bit.
The final networks go to ``model.pt``.
"""

from __future__ import annotations

import io
import pickle
import time
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from agents.rlhg.config import STAGES, RLHGConfig
from agents.rlhg.losses import batched_gae, gain_loss, human_advantage, total_advantage
from agents.rlhg.networks import GainNet, HumanValueNet, PolicyNet
from agents.rlhg.rollout import Collector, Rollout, human_mask_of, summarise_matches
from agents.rlhg.team import NetTeam, evaluate_team
from workbench.errors import WorkbenchError
from workbench.runs import Run, atomic_write
from workbench.training.ppo import ppo_loss, whiten

MODEL = "model.pt"
CHECKPOINT = "checkpoints/last.pt"
RESUMABLE = ("resume", "progress", "updates", "eval_matches")
SMOOTH = 10
MIN_GOAL_STD = 0.01
"""Updates averaged in each point of the training plot."""


def run_rlhg(config: RLHGConfig, make_env: Callable[..., Any] | None = None) -> tuple[Run, str]:
    """Train ``config.stage`` into ``config.out``; ``make_env(num_envs, persona=..., seed=...)`` defaults to the
    game ``config.game``. Returns the run and its summary (Markdown)."""
    from dataclasses import asdict

    from workbench.config import resolve_out

    if config.stage not in STAGES:
        raise WorkbenchError(f"unknown stage {config.stage!r} (use {', '.join(STAGES)})")
    from workbench.registry import game_class

    make_env = make_env or game_class(config.game)
    probe = build_env(make_env, config.persona, 1, 0)  # bad options fail here, before the run folder is made
    goals = getattr(probe, "goals", None)
    if goals is not None and len(goals) != len(config.goal_scales):
        raise WorkbenchError(f"--goal_scales has {len(config.goal_scales)} factors but {config.game} has "
                             f"{len(goals)} human goals ({', '.join(goals)})")
    init = load_init(config)
    config.out = resolve_out(config.out, config.resume, "rlhg")
    with Run.open(config.out, asdict(config), resume=config.resume, resumable_changes=RESUMABLE) as run:
        result = train(config, make_env, run, init=init)
        plot_training(run, config)
        text = f"# RLHG stage {config.stage} on {config.game} ({config.persona})\n\n" + "\n".join(
            f"- {k}: {v}" for k, v in result.items())
        run.write_summary(text + "\n")
    return run, text


def build_env(make_env: Callable[..., Any], persona: str, num_envs: int, seed: int) -> Any:
    """``num_envs`` matches with the human ``persona``: one name, or comma-separated names dealt round the slots
    (``slayer-high,slayer-low``: half the matches each)."""
    names = [p.strip() for p in persona.split(",") if p.strip()]
    if not names:
        raise WorkbenchError("--persona is empty")
    try:
        return make_env(num_envs, persona=names[0] if len(names) == 1 else
                        [names[i % len(names)] for i in range(num_envs)], seed=seed)
    except ValueError as error:
        raise WorkbenchError(f"--persona: {error}") from None


def goal_weights_of(env: Any, goals: int) -> torch.Tensor:
    """(B, goals) weights of the goals each match's human pursues (``env.human_goal_weights()``; equal weights for a
    game without personas)."""
    own = getattr(env, "human_goal_weights", None)
    if callable(own):
        return torch.as_tensor(own(), dtype=torch.float32)
    return torch.full((env.num_envs, goals), 1.0 / goals)


def load_init(config: RLHGConfig) -> dict[str, Any] | None:
    """The networks of the ``--init`` run the stage starts from (None when it starts afresh), checked: value needs
    a self-centred agent; gain and shaping need a value run (V_phi and the goal units it measured)."""
    needs = {"value": "a self (or any policy) run", "gain": "a value run", "shaping": "a value run"}
    if not config.init:
        if config.stage in needs:
            raise WorkbenchError(f"stage {config.stage} needs --init: {needs[config.stage]}")
        return None
    folder = Path(config.init)
    file = folder / MODEL if folder.is_dir() else folder
    if not file.is_file():
        raise WorkbenchError(f"--init {folder}: no {MODEL} (run the previous stage first)")
    try:
        saved = torch.load(file, weights_only=False)
    except Exception as error:  # a damaged or foreign file
        raise WorkbenchError(f"--init {file}: not a model file ({type(error).__name__}: {error})") from None
    if not isinstance(saved, dict) or "policy" not in saved:
        raise WorkbenchError(f"--init {file}: not an RLHG model (no policy)")
    if config.stage in ("gain", "shaping") and saved.get("goal_std") is None:
        raise WorkbenchError(f"--init {folder}: stage {config.stage} starts from a value run (it has V_phi and the "
                             f"human-goal units), not a {saved.get('stage')} run")
    return saved


def plot_training(run: Run, config: RLHGConfig) -> Path | None:
    """``plots/training.png``: per update, the win rate and each human goal (kills, gold, towers, deaths) of the
    matches finished in human-agent mode (a moving average over ``SMOOTH`` updates), and in the value stage V_phi's
    loss."""
    from workbench.evaluate import plot_lines

    rows = [r for r in run.metrics() if "update" in r]
    if not rows:
        return None

    def line(key: str) -> tuple[list[int], list[float]]:
        """The metric per update, averaged over the last ``SMOOTH`` updates that have it (a few matches end in each)."""
        kept = [r for r in rows if r.get(key) is not None]
        values = [r[key] for r in kept]
        return [r["update"] for r in kept], [sum(values[max(0, i - SMOOTH + 1):i + 1]) / len(
            values[max(0, i - SMOOTH + 1):i + 1]) for i in range(len(values))]

    panels = [{"title": title, "xlabel": "update", "ylabel": label, "lines": {label: line(key)}}
              for title, label, key in (("Win rate", "win rate of finished matches", "win_rate"),
                                        ("Human kills", "kills per match", "human_kills"),
                                        ("Human gold", "gold per match", "human_gold"),
                                        ("Human towers", "towers per match", "human_towers"),
                                        ("Human deaths", "deaths per match", "human_deaths"))]
    if config.stage == "value":
        panels.append({"title": "Human value", "xlabel": "update", "ylabel": "MSE",
                       "lines": {"V_phi": line("human_value_loss")}})
    return plot_lines(panels, run.plot_path("training.png"), f"RLHG stage {config.stage} ({config.persona})")


class Trainer:
    """The networks, optimizer, collector and update counter of one stage."""

    def __init__(self, config: RLHGConfig, make_env: Callable[..., Any], human_mask: Any = None,
                 init: dict[str, Any] | None = None):
        self.config = config
        stage = config.stage
        self.env = build_env(make_env, config.persona, config.num_envs, config.seed)
        mask = human_mask if human_mask is not None else human_mask_of(self.env)
        self.weights = goal_weights_of(self.env, len(config.goal_scales))
        self.collector = Collector(self.env, config.seed, mask, config.task_reward_scale, list(config.goal_scales))
        obs_dim = int(self.collector.obs.shape[-1])
        goals = len(config.goal_scales)
        torch.manual_seed(config.seed)
        self.policy = PolicyNet(obs_dim, hidden=config.hidden)
        self.human_value = HumanValueNet(obs_dim, goals, config.hidden) if stage in ("value", "gain") else None
        self.gain = GainNet(obs_dim, goals, config.hidden) if stage == "gain" else None
        self.goal_moments = torch.zeros(3, goals)  # value stage: count, sum, sum of squares of the returns
        self.goal_std: torch.Tensor | None = None  # gain and shaping: the value run's per-goal return std
        if init is not None:
            self._load_init(init)
        if stage == "value":
            self.policy.requires_grad_(False)
            params = list(self.human_value.parameters())
        else:
            if self.human_value is not None:
                self.human_value.requires_grad_(False)  # Stage II keeps the primitive value fixed
            params = list(self.policy.parameters()) + (list(self.gain.parameters()) if self.gain else [])
        self.params = params
        self.optimizer = torch.optim.Adam(params, lr=config.lr, eps=1e-5)
        self.update = 0
        self.env_steps = 0

    def _load_init(self, saved: dict[str, Any]) -> None:
        self.policy.load_state_dict(saved["policy"])
        if self.config.stage in ("gain", "shaping"):
            self.goal_std = saved.get("goal_std")
        if self.config.stage == "gain":
            self.human_value.load_state_dict(saved["human_value"])

    # -- state -------------------------------------------------------------------------------
    def networks(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(),
                "human_value": self.human_value.state_dict() if self.human_value is not None else None,
                "gain": self.gain.state_dict() if self.gain is not None else None, "stage": self.config.stage,
                "goal_std": self.measured_goal_std() if self.config.stage == "value" else self.goal_std}

    def measured_goal_std(self) -> torch.Tensor:
        """Per-goal standard deviation of the human returns seen in the value stage: the goal units of Stage II (at
        least ``MIN_GOAL_STD``, so that a goal the human hardly ever reached does not blow up)."""
        n, total, squares = self.goal_moments
        mean = total / n.clamp(min=1)
        return (squares / n.clamp(min=1) - mean ** 2).clamp(min=0).sqrt().clamp(min=MIN_GOAL_STD)

    def save_checkpoint(self, path: Path) -> None:
        state = {**self.networks(), "goal_moments": self.goal_moments, "optimizer": self.optimizer.state_dict(),
                 "update": self.update, "env_steps": self.env_steps, "generator": self.collector.generator.get_state(),
                 "env": pickle.dumps(self.env), "obs": self.collector.obs}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write(path, buffer.getvalue())

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, weights_only=False)
        self.policy.load_state_dict(state["policy"])
        if self.human_value is not None:
            self.human_value.load_state_dict(state["human_value"])
        if self.gain is not None:
            self.gain.load_state_dict(state["gain"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.goal_moments = state["goal_moments"]
        self.update, self.env_steps = state["update"], state["env_steps"]
        self.collector.generator.set_state(state["generator"])
        self.env = self.collector.env = pickle.loads(state["env"])
        self.collector.obs = state["obs"]

    # -- one update ----------------------------------------------------------------------------
    def human_mode(self) -> torch.Tensor:
        B = self.config.num_envs
        if self.config.stage != "gain":
            return torch.ones(B)
        return (torch.rand(B, generator=self.collector.generator) < self.config.beta).float()

    def step(self) -> dict[str, Any]:
        config = self.config
        start = time.perf_counter()
        mode = self.human_mode()
        ro = self.collector.collect(self.policy, config.rollout_steps, mode)
        self.env_steps += ro.rewards.numel()
        stats = self._fit_human_value(ro) if config.stage == "value" else self._ppo(ro)
        self.update += 1
        with_human = [m for m in ro.finished if m["human_mode"]]
        alone = {} if config.stage != "gain" else {
            "agent_only_win_rate": summarise_matches([m for m in ro.finished if not m["human_mode"]])["win_rate"]}
        return {"update": self.update, "env_steps": self.env_steps, "seconds": round(time.perf_counter() - start, 3),
                "human_mode": mode.mean().item(), **summarise_matches(with_human), **alone,
                "task_reward": ro.rewards.sum(1).mean().item(), **stats}

    def _minibatches(self, n: int):
        size = max(1, n // self.config.minibatches)
        for _ in range(self.config.ppo_epochs):
            order = torch.randperm(n, generator=self.collector.generator)
            for first in range(0, n, size):
                yield order[first:first + size]

    def _optimise(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()

    def _human_gain(self, ro: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        """G = R_H - V_phi(s) per goal (GAE with ``human_lambda``; 1 gives exactly that) and the targets R_H."""
        with torch.no_grad():
            values = self.human_value(ro.full_obs)
            last = self.human_value(ro.last_full_obs)
        return batched_gae(ro.human_rewards, values, self.config.human_gamma, self.config.human_lambda,
                           dones=ro.dones, last_values=last)

    def _fit_human_value(self, ro: Rollout) -> dict[str, float]:
        _, targets = self._human_gain(ro)
        obs, targets = ro.full_obs.flatten(0, 1), targets.flatten(0, 1)
        self.goal_moments += torch.stack([torch.full_like(targets[0], targets.shape[0]), targets.sum(0),
                                          (targets ** 2).sum(0)])
        losses = []
        for idx in self._minibatches(obs.shape[0]):
            loss = 0.5 * ((self.human_value(obs[idx]) - targets[idx]) ** 2).mean()
            self._optimise(loss)
            losses.append(loss.item())
        with torch.no_grad():
            residual = (targets - self.human_value(obs)).var(0) / targets.var(0).clamp(min=1e-8)
        return {"human_value_loss": sum(losses) / len(losses),
                **{f"explained_var_{g}": 1 - residual[g].item() for g in range(residual.shape[0])}}

    def _ppo(self, ro: Rollout) -> dict[str, float]:
        config = self.config
        rewards = ro.rewards
        weights = self.weights[:, None, :]  # (B, 1, goals): the goals each match's human pursues
        if config.stage == "shaping":
            rewards = rewards + config.alpha * (weights * ro.human_rewards / self.goal_std).sum(-1)
        with torch.no_grad():
            _, last_value = self.policy(ro.last_obs)
        adv_task, returns = batched_gae(rewards, ro.values, config.gamma, config.lam, dones=ro.dones,
                                        last_values=last_value)
        extra: dict[str, float] = {}
        gain = None
        mode = ro.human_mode[:, None].expand_as(adv_task)
        if config.stage == "gain":
            gain, _ = self._human_gain(ro)
            gain = gain / self.goal_std  # in units of each goal's return std under the self-centred agent
            with torch.no_grad():
                delta = self.gain(ro.full_obs)
            adv_human = human_advantage(gain, delta, weights)
            human = mode > 0
            # A_H - mean: a constant baseline (no change to the expected gradient); uncentred, A_H is negative on
            # average (Delta is the mean *positive* gain), which pushes every sampled action down and the entropy up
            centre = adv_human[human].mean() if human.any() else torch.tensor(0.0)
            advantages = total_advantage(whiten(adv_task, torch.ones_like(adv_task)), adv_human - centre, mode,
                                         config.alpha)
            if human.any():
                extra = {"human_gain": (gain * weights).sum(-1)[human].mean().item(),
                         "human_advantage": centre.item(), "human_advantage_std": adv_human[human].std().item(),
                         "delta": (delta * weights).sum(-1)[human].mean().item(),
                         "gain_positive": share_positive(gain[human], (weights > 0).expand_as(gain)[human])}
        else:
            advantages = whiten(adv_task, torch.ones_like(adv_task))
        flat = {"obs": ro.obs.flatten(0, 1), "full": ro.full_obs.flatten(0, 1), "act": ro.actions.flatten(0, 1),
                "logp": ro.logps.flatten(0, 1), "v": ro.values.flatten(0, 1), "adv": advantages.flatten(0, 1),
                "ret": returns.flatten(0, 1), "mode": mode.flatten(0, 1)}
        if gain is not None:
            flat["gain"] = gain.flatten(0, 1)
            flat["weights"] = weights.expand_as(gain).flatten(0, 1)
        stats: dict[str, list[float]] = {}
        for idx in self._minibatches(flat["obs"].shape[0]):
            logp, entropy, value = self.policy.log_prob_entropy(flat["obs"][idx], flat["act"][idx])
            mask = torch.ones_like(logp)
            loss, info = ppo_loss(logp, value, flat["logp"][idx], flat["v"][idx], flat["adv"][idx], flat["ret"][idx],
                                  mask, config)
            loss = loss - config.ent_coef * entropy.mean()
            info["entropy"] = entropy.mean().item()
            if gain is not None:
                g_loss = gain_loss(flat["gain"][idx], self.gain(flat["full"][idx]), flat["mode"][idx],
                                   flat["weights"][idx])
                loss = loss + g_loss
                info["gain_loss"] = g_loss.item()
            self._optimise(loss)
            for k, v in info.items():
                stats.setdefault(k, []).append(v)
        return {**{k: sum(v) / len(v) for k, v in stats.items()}, **extra}


def share_positive(gain: torch.Tensor, pursued: torch.Tensor) -> float:
    """The share of the pursued goals' gains that are positive (what Delta learns from)."""
    return ((gain > 0) & pursued).sum().item() / max(1, pursued.sum().item())


def train(config: RLHGConfig, make_env: Callable[..., Any], run: Run, human_mask: Any = None,
          init: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``config.updates`` updates of ``config.stage`` from the networks ``init`` (:func:`load_init`) into ``run``
    (resuming from its checkpoint with ``config.resume``); write ``model.pt``; return a short summary."""
    trainer = Trainer(config, make_env, human_mask, init)
    checkpoint = run.path / CHECKPOINT
    if config.resume and checkpoint.is_file():
        trainer.load_checkpoint(checkpoint)
    if config.resume:  # the updates past the checkpoint are redone: keep their rows once
        run.cut_back(metrics=lambda r: r.get("update", 0) <= trainer.update)
    with tqdm(total=config.updates, initial=trainer.update, desc=f"rlhg {config.stage}", unit="update",
              disable=not config.progress) as bar:
        while trainer.update < config.updates:
            record = trainer.step()
            run.log_metrics(record)
            bar.set_postfix(win=record["win_rate"], steps=record["env_steps"])
            bar.update(1)
            if trainer.update % config.save_every == 0 or trainer.update == config.updates:
                trainer.save_checkpoint(checkpoint)
    buffer = io.BytesIO()
    torch.save(trainer.networks(), buffer)
    atomic_write(run.path / MODEL, buffer.getvalue())
    records = [r for r in run.metrics() if "update" in r]
    wins = [r["win_rate"] for r in records if r.get("win_rate") is not None]
    result: dict[str, Any] = {"stage": config.stage, "updates": trainer.update, "env_steps": trainer.env_steps,
                              "win_rate_last_finished": wins[-1] if wins else None}
    if config.eval_matches:
        env = build_env(make_env, config.persona, config.eval_matches, config.seed + 1)
        result["eval"] = evaluate_team(NetTeam(trainer.policy, seed=config.seed + 1), env, config.seed + 1)
    return result
