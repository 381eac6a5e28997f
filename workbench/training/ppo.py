"""PPO over whole episodes against a simulator, with the PPO-max stabilisers.

TRL no longer ships PPO, so this is the workbench's own. The policy plays batches of episodes
(``EpisodePlayer``); each episode is one token sequence in which only the policy's tokens are
actions. Per Zheng et al. 2023 ("Secrets of RLHF in Large Language Models Part I: PPO", PPO-max):

- the critic's reward of each agent turn is normalised with running statistics and clipped to
  ``[-reward_clip, reward_clip]``, and placed on the turn's last token;
- every action token pays a KL penalty ``kl_coef * (log pi - log pi_ref)`` against a frozen
  reference (the adapter-disabled model under LoRA, else a frozen copy);
- advantages are GAE (Schulman et al. 2016) over the action tokens in order, the user's tokens
  skipped, then whitened over the batch;
- the policy loss is PPO's clipped surrogate (Schulman et al. 2017, Eq. 7), optionally with
  dual clip (Ye et al. 2020: for A < 0 the loss is capped at ``-c * A``); the value loss is
  clipped around the old values; gradients are clipped to norm 1.

A linear value head reads the policy's last hidden state. Every ``--save_steps`` iterations the
policy, value head, optimizer and reward statistics are checkpointed; ``--resume`` continues.
Under ``accelerate launch`` (DDP) each process plays its share of the batch's episodes and the
gradients are averaged; sharded setups (ZeRO-3, FSDP) are for the TRL trainers only.
"""

from __future__ import annotations

import copy
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from workbench.errors import WorkbenchError
from workbench.moments import merge_moments
from workbench.rollout import episode_seed
from workbench.runs import Run, atomic_dir
from workbench.training.config import TrainConfig
from workbench.training.episodic import PlayedEpisode, padded


@dataclass
class RunningMoments:
    """Running mean and standard deviation of the turn rewards (:func:`workbench.moments.merge_moments`)."""

    count: float = 0.0
    mean: float = 0.0
    var: float = 0.0

    def update(self, values: Sequence[float]) -> None:
        if not values:
            return
        count, mean, var = merge_moments(self.count, torch.tensor(self.mean, dtype=torch.float64),
                                         torch.tensor(self.var, dtype=torch.float64),
                                         torch.tensor(values, dtype=torch.float64))
        self.count, self.mean, self.var = count, mean.item(), var.item()

    @property
    def std(self) -> float:
        return math.sqrt(self.var) if self.count > 1 else 1.0


@dataclass
class Batch:
    ids: torch.Tensor
    attention: torch.Tensor
    actions: torch.Tensor
    """[B, T-1]: 1 where token t+1 is the policy's own."""
    scores: torch.Tensor
    """[B, T-1]: normalised turn rewards at each turn's last action token."""


def make_batch(played: Sequence[PlayedEpisode], pad_id: int, moments: RunningMoments, clip: float) -> Batch:
    ids, attention = padded(played, pad_id)
    actions = torch.zeros((len(played), ids.shape[1] - 1))
    scores = torch.zeros_like(actions)
    for b, p in enumerate(played):
        start = len(p.prompt_ids) - 1  # logits at position t predict token t + 1
        actions[b, start: start + len(p.completion_ids)] = torch.tensor(p.agent_mask, dtype=torch.float)
        for end, reward in zip(p.turn_ends, p.turn_rewards):
            normalised = (reward - moments.mean) / max(moments.std, 1e-6)
            scores[b, start + end] = max(-clip, min(clip, normalised))
    return Batch(ids, attention, actions, scores)


def forward(model: Any, head: torch.nn.Module | None, ids: torch.Tensor, attention: torch.Tensor,
            actions: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-position log-probability of the next token and value of the state, each [B, T-1]. The log-probabilities
    are computed only over the span of positions where some row has an action (0 elsewhere, where nothing reads
    them): the LM head runs on that span alone (``logits_to_keep``), which with a 262k-token vocabulary is most of a
    pass's time and memory when the actions are a short completion after a long prompt. Without a value ``head``
    only the log-probabilities are returned (the reference pass)."""
    held = actions.any(0).nonzero().flatten()
    lo, hi = (int(held[0]), int(held[-1]) + 1) if len(held) else (0, 0)
    keep = torch.arange(lo, hi, device=ids.device) if hi > lo else 1
    out = model(input_ids=ids, attention_mask=attention, output_hidden_states=head is not None, logits_to_keep=keep)
    logps = torch.zeros(actions.shape, dtype=torch.float, device=ids.device)
    if hi > lo:
        logps[:, lo:hi] = torch.log_softmax(out.logits.float(), dim=-1).gather(
            -1, ids[:, lo + 1: hi + 1].unsqueeze(-1)).squeeze(-1)
    if head is None:
        return (logps,)
    return logps, head(out.hidden_states[-1][:, :-1].float()).squeeze(-1)


def gae(rewards: torch.Tensor, values: torch.Tensor, actions: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and returns over each row's action positions only (others are skipped)."""
    advantages = torch.zeros_like(rewards)
    for b in range(rewards.shape[0]):
        positions = actions[b].nonzero().flatten().tolist()
        next_value, running = 0.0, 0.0
        for t in reversed(positions):
            delta = rewards[b, t] + gamma * next_value - values[b, t]
            running = delta + gamma * lam * running
            advantages[b, t] = running
            next_value = values[b, t]
    return advantages, advantages + values


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


def ppo_loss(logps: torch.Tensor, values: torch.Tensor, old_logps: torch.Tensor, old_values: torch.Tensor,
             advantages: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, config: TrainConfig
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate (optionally dual-clipped) plus the clipped value loss, over action tokens."""
    ratio = torch.exp(logps - old_logps)
    surrogate = torch.max(-advantages * ratio,
                          -advantages * ratio.clamp(1 - config.clip_range, 1 + config.clip_range))
    if config.dual_clip is not None:
        surrogate = torch.where(advantages < 0, torch.min(surrogate, -config.dual_clip * advantages), surrogate)
    clipped_values = old_values + (values - old_values).clamp(-config.value_clip, config.value_clip)
    value_loss = 0.5 * torch.max((values - returns) ** 2, (clipped_values - returns) ** 2)
    policy_loss, value_loss = masked_mean(surrogate, mask), masked_mean(value_loss, mask)
    clipped = masked_mean(((ratio - 1).abs() > config.clip_range).float(), mask)
    return policy_loss + config.vf_coef * value_loss, {
        "policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "clip_fraction": clipped.item()}


class PPO:
    """The policy, its value head, the reference, the optimizer and the reward statistics."""

    def __init__(self, config: TrainConfig, model: Any, lora: Any):
        from accelerate import Accelerator

        self.config = config
        self.accelerator = Accelerator()
        if lora is not None:
            from peft import get_peft_model

            model = get_peft_model(model, lora)
            self.reference = None
        else:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        self.device = self.accelerator.device
        if self.reference is not None:
            self.reference.to(self.device)
        head = torch.nn.Linear(model.config.get_text_config().hidden_size, 1)
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
        params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
        optimizer = torch.optim.AdamW(params, lr=config.lr if config.lr is not None else 1e-5)
        self.model, self.head, self.optimizer = self.accelerator.prepare(model, head, optimizer)
        self.moments = RunningMoments()
        self.iteration = 0

    @property
    def policy(self) -> Any:
        """The policy without its distributed wrapper (for generation and saving)."""
        return self.accelerator.unwrap_model(self.model)

    def reference_logps(self, batch: Batch) -> torch.Tensor:
        model = self.reference or self.model
        scope = self.policy.disable_adapter() if self.reference is None else nullcontext()
        with torch.no_grad(), scope:
            return self.in_chunks(lambda ids, attention, actions: forward(model, None, ids, attention, actions),
                                  batch)[0]

    def in_chunks(self, fn: Any, batch: Batch) -> tuple[torch.Tensor, ...]:
        """``fn(ids, attention, actions)`` over ``batch_size`` rows at a time, its tensors concatenated: the no-grad
        passes over a whole batch never hold more vocabulary-wide logits than a training minibatch does (a 262k-token
        vocabulary makes them gigabytes per row)."""
        size = self.config.batch_size
        parts = [fn(batch.ids[i: i + size], batch.attention[i: i + size], batch.actions[i: i + size])
                 for i in range(0, len(batch.ids), size)]
        return tuple(torch.cat(tensors) for tensors in zip(*parts))

    def step(self, played: Sequence[PlayedEpisode], pad_id: int) -> dict[str, float]:
        """One PPO iteration on a batch of played episodes."""
        config = self.config
        self.moments.update([r for p in played for r in p.turn_rewards])
        batch = make_batch(played, pad_id, self.moments, config.reward_clip)
        batch = Batch(*(t.to(self.device) for t in (batch.ids, batch.attention, batch.actions, batch.scores)))
        self.model.eval()
        with torch.no_grad():
            old_logps, old_values = self.in_chunks(
                lambda ids, attention, actions: forward(self.model, self.head, ids, attention, actions), batch)
        ref_logps = self.reference_logps(batch)
        kl = (old_logps - ref_logps) * batch.actions
        rewards = batch.scores - config.kl_coef * kl
        advantages, returns = gae(rewards, old_values * batch.actions, batch.actions, config.gamma, config.lam)
        advantages = whiten(advantages, batch.actions)
        self.model.train()
        stats: dict[str, list[float]] = {}
        order = list(range(len(played)))
        for _ in range(config.ppo_epochs):
            random.Random(config.seed + self.iteration).shuffle(order)
            for start in range(0, len(order), config.batch_size):
                rows = torch.tensor(order[start: start + config.batch_size], device=self.device)
                logps, values = forward(self.model, self.head, batch.ids[rows], batch.attention[rows],
                                        batch.actions[rows])
                loss, info = ppo_loss(logps, values, old_logps[rows], old_values[rows], advantages[rows],
                                      returns[rows], batch.actions[rows], config)
                self.optimizer.zero_grad()
                self.accelerator.backward(loss)
                self.accelerator.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], 1.0)
                self.optimizer.step()
                for k, v in info.items():
                    stats.setdefault(k, []).append(v)
        self.iteration += 1
        outcomes = self.accelerator.gather(torch.tensor([[p.ret, float(p.episode.success)] for p in played],
                                                        device=self.device))
        return {"step": self.iteration, "return": outcomes[:, 0].mean().item(), "success": outcomes[:, 1].mean().item(),
                "tokens": int(self.accelerator.gather(batch.attention.sum().reshape(1)).sum().item()),
                "kl": (kl.sum() / batch.actions.sum().clamp(min=1)).item(),
                **{k: sum(v) / len(v) for k, v in stats.items()}}

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, path: Path, tokenizer: Any, *, optimizer: bool) -> None:
        """Write the policy (the main process; every process waits for it)."""
        if self.accelerator.is_main_process:
            self._save(path, tokenizer, optimizer)
        self.accelerator.wait_for_everyone()

    def _save(self, path: Path, tokenizer: Any, optimizer: bool) -> None:
        with atomic_dir(path) as tmp:
            self.policy.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            torch.save(self.accelerator.unwrap_model(self.head).state_dict(), tmp / "value_head.pt")
            if optimizer:
                torch.save({"optimizer": self.optimizer.state_dict(), "iteration": self.iteration,
                            "moments": vars(self.moments)}, tmp / "trainer_state.pt")

    def load(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``; its weights must be exactly the policy's (the adapter's
        under LoRA), else a WorkbenchError names the keys that differ."""
        from safetensors.torch import load_file

        weights = sorted(path.glob("*.safetensors"))
        if not weights:
            raise WorkbenchError(f"{path}: checkpoint has no weights")
        state = {}
        for file in weights:
            state.update(load_file(str(file), device=str(self.device)))
        if hasattr(self.policy, "peft_config"):
            from peft import get_peft_model_state_dict, set_peft_model_state_dict

            check_weight_keys(path, state, get_peft_model_state_dict(self.policy))
            set_peft_model_state_dict(self.policy, state)
        else:
            check_weight_keys(path, state, self.policy.state_dict())
            self.policy.load_state_dict(state, strict=False)  # tied weights are saved once (checked above)
        self.accelerator.unwrap_model(self.head).load_state_dict(torch.load(path / "value_head.pt",
                                                                            map_location=self.device))
        saved = torch.load(path / "trainer_state.pt", map_location=self.device, weights_only=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.iteration = saved["iteration"]
        moments = saved["moments"]
        if "m2" in moments:  # written before the moments kept the variance: m2 is count * variance
            moments = {"count": moments["count"], "mean": moments["mean"],
                       "var": moments["m2"] / moments["count"] if moments["count"] else 0.0}
        self.moments = RunningMoments(**moments)


def check_weight_keys(path: Path, saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Refuse saved weights whose keys are not ``expected``'s: a saved key the model lacks, or a model weight
    missing from the file (one tied to a saved weight, such as an LM head tied to the embeddings, is not)."""
    loaded = {expected[k].data_ptr() for k in saved if k in expected}
    missing = sorted(k for k, t in expected.items() if k not in saved and t.data_ptr() not in loaded)
    unexpected = sorted(set(saved) - set(expected))
    problems = [f"{label} {', '.join(keys[:5])}" + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
                for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
    if problems:
        raise WorkbenchError(f"{path}: checkpoint does not fit the policy: {'; '.join(problems)}")


def tensorboard_writer(config: TrainConfig, run: Run) -> Any:
    """A TensorBoard ``SummaryWriter`` in ``<out>/checkpoints/runs/<time>_<host>``, where TRL's trainers write theirs,
    when ``--report_to`` names tensorboard (else None)."""
    from workbench.training.config import trackers

    if "tensorboard" not in trackers(config.report_to):
        return None
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations.integration_utils import default_logdir

    return SummaryWriter(log_dir=str(run.path / "checkpoints" / default_logdir()))


def train_ppo(config: TrainConfig, run: Run) -> dict[str, Any]:
    """``workbench train ppo``: iterations of (play ``batch_size`` cases x ``num_generations``
    episodes, one PPO update); ``--max_steps`` iterations, or ``epochs`` passes over the cases."""
    from workbench.training.trainers import chat_mode, load_model, lora_config
    from workbench.training.online import build_env, player

    model, tokenizer = load_model(config)
    chat = chat_mode(config, tokenizer)
    env, cases = build_env(config)
    play = player(config, env, tokenizer, chat)
    torch.manual_seed(config.seed)  # the adapter's initial weights
    ppo = PPO(config, model, lora_config(config))
    checkpoint = run.path / "checkpoints" / "last"
    if config.resume and checkpoint.is_dir():
        ppo.load(checkpoint)
    if config.resume and ppo.accelerator.is_main_process:  # exactly once: the iterations past the checkpoint rerun
        run.cut_back(metrics=lambda r: "step" not in r or r["step"] <= ppo.iteration)
    iterations = config.max_steps if config.max_steps > 0 else math.ceil(config.epochs * len(cases) / config.batch_size)
    order = cases * math.ceil((iterations * config.batch_size) / len(cases) + 1)
    writer = tensorboard_writer(config, run) if ppo.accelerator.is_main_process else None
    with writer or nullcontext(), tqdm(total=iterations, initial=ppo.iteration, desc=f"ppo on {env.name}", unit="it",
                                       disable=not ppo.accelerator.is_main_process) as bar:
        while ppo.iteration < iterations:
            i, share = ppo.iteration, ppo.accelerator.process_index
            chosen = order[i * config.batch_size: (i + 1) * config.batch_size][share:: ppo.accelerator.num_processes]
            played = play.play(ppo.policy, [c for c in chosen for _ in range(config.num_generations)],
                               seed=episode_seed(config.seed, i * 1009 + share))
            record = ppo.step(played, tokenizer.pad_token_id)
            if ppo.accelerator.is_main_process:
                run.log_metrics(record)
            if writer is not None:
                for key, value in record.items():
                    if key != "step" and isinstance(value, (int, float)):
                        writer.add_scalar(f"train/{key}", value, record["step"])
            bar.set_postfix(ret=f"{record['return']:.3f}", kl=f"{record['kl']:.3f}")
            bar.update(1)
            if config.save_steps and ppo.iteration % config.save_steps == 0:
                ppo.save(checkpoint, tokenizer, optimizer=True)
    ppo.save(run.path / "model", tokenizer, optimizer=False)
    records = [r for r in run.metrics() if "return" in r]
    return {"method": "ppo", "env": env.name, "iterations": ppo.iteration,
            "return first": round(records[0]["return"], 4) if records else None,
            "return last": round(records[-1]["return"], 4) if records else None}
