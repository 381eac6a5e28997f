"""Retroformer's policy-gradient stage (Yao et al., ICLR 2024, Sec. 4): the workbench's PPO
(:class:`workbench.training.ppo.PPO`, a fresh LoRA adapter whose disabled state, the SFT model, is the KL reference)
on reflections. One reflection is one PPO episode: the reflection prompt is its prompt, the reflection its only
action span, and its rating the reward at the last token: the return difference of the replayed next trial
(``returns``) or the reward model's score (``model``; the replay is then still played, for the success it reports).
A reflection that stands in for an empty output (a fallback) or does not fit ``--max_length`` is left out of the
step and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from agents.retroformer.config import RetroformerConfig
from workbench.episodes import Episode
from workbench.runs import Run
from workbench.training.stages import merge


class RewardScorer:
    """A reward model from the ``reward`` stage (a LoRA adapter over a one-label sequence classifier)."""

    def __init__(self, folder: str | Path, batch_size: int = 8):
        from peft import AutoPeftModelForSequenceClassification

        from workbench.training.trainers import load_tokenizer

        self.tokenizer = load_tokenizer(str(folder))
        self.model = AutoPeftModelForSequenceClassification.from_pretrained(str(folder), num_labels=1).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        import torch

        scores: list[float] = []
        texts = [p + c for p, c in zip(prompts, completions, strict=True)]
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[i: i + self.batch_size], return_tensors="pt", padding=True)
                scores += self.model(**batch).logits[:, 0].float().tolist()
        return scores


def ppo_stage(run: Run, config: RetroformerConfig, replay: Any, failed: Sequence[Episode], model: str,
              reward_model: str | None) -> dict[str, Any]:
    """PPO iterations ``1..config.ppo_iterations`` (continuing from the stage's checkpoint); the adapter merged into
    ``<out>/model``. ``failed``: the failed first trials of the training cases, taken in turn."""
    import torch

    from agents.retroformer.train import prompt_texts, rate, reflector_for
    from workbench.evaluate import plot_lines
    from workbench.llm.local import LocalChatModel
    from workbench.training.config import PPOTrainConfig
    from workbench.training.episodic import PlayedEpisode
    from workbench.training.ppo import PPO
    from workbench.training.trainers import load_model, lora_config

    train = PPOTrainConfig(model=model, lora=True, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                           lr=config.ppo_lr, batch_size=config.train_batch_size, ppo_epochs=config.ppo_epochs,
                           kl_coef=config.kl_coef, seed=config.seed, max_length=config.max_length)
    policy, tokenizer = load_model(train)
    torch.manual_seed(config.seed)  # the adapter's initial weights
    ppo = PPO(train, policy, lora_config(train))
    folder = run.path.resolve() / "ppo"
    checkpoint = folder / "checkpoint"
    if checkpoint.is_dir():
        ppo.load(checkpoint)
    run.cut_back(metrics=lambda r: r.get("event") != "ppo" or r["iteration"] <= ppo.iteration)  # exactly once
    scorer = RewardScorer(reward_model) if config.ppo_reward == "model" and reward_model else None
    while ppo.iteration < config.ppo_iterations:
        start = ppo.iteration * config.ppo_cases
        chosen = [failed[(start + j) % len(failed)] for j in range(config.ppo_cases)]
        repeated = [e for e in chosen for _ in range(config.ppo_samples)]
        chat = LocalChatModel(model=ppo.policy, tokenizer=tokenizer, use_chat_template=False, top_k=0, top_p=1.0,
                              temperature=config.collect_temperature, max_tokens=config.reflection_tokens,
                              seed=config.seed * 1009 + ppo.iteration)
        reflector = reflector_for(chat, replay.env.__class__, config, config.collect_temperature)
        reflections = reflector.reflect(repeated, [[] for _ in repeated])
        prompts = prompt_texts(reflector, repeated)
        rows, after = rate(replay, repeated, reflections, prompts)
        completions = [f" {r.text}\n" for r in reflections]
        rewards = scorer.score(prompts, completions) if scorer else [r["rating"] for r in rows]
        played, too_long = [], 0
        for prompt, completion, reward, episode, row in zip(prompts, completions, rewards, after, rows, strict=True):
            if row["fallback"]:
                continue
            prompt_ids, ids = tokenizer(prompt)["input_ids"], tokenizer(completion, add_special_tokens=False)["input_ids"]
            if len(prompt_ids) + len(ids) > config.max_length:
                too_long += 1
                continue
            played.append(PlayedEpisode(episode, prompt_ids, ids, [1] * len(ids), [len(ids) - 1], [float(reward)]))
        if played:
            record = {k: v for k, v in ppo.step(played, tokenizer.pad_token_id).items()
                      if k not in ("step", "return", "success")}
        else:  # nothing to learn from: the iteration counts, with no step
            ppo.iteration, record = ppo.iteration + 1, {"kl": 0.0, "policy_loss": 0.0}
        run.log_metrics({"event": "ppo", "iteration": ppo.iteration,
                         "rating": sum(r["rating"] for r in rows) / len(rows),
                         "success after": sum(r["success_after"] for r in rows) / len(rows),
                         "reflection fallbacks": sum(r["fallback"] for r in rows) / len(rows),
                         "left out too long": too_long, "trained on": len(played), **record,
                         "reward": sum(rewards) / len(rewards)})
        ppo.save(checkpoint, tokenizer, optimizer=True)
    adapter = folder / "adapter"
    ppo.save(adapter, tokenizer, optimizer=False)
    merged = merge(model, adapter, run.path.resolve() / "model")
    history = [r for r in run.metrics() if r.get("event") == "ppo"]
    xs = [r["iteration"] for r in history]
    plot_lines([{"title": "Reflections' next trials", "xlabel": "PPO iteration", "ylabel": "mean",
                 "lines": {"rating G(k+1) - G(k)": (xs, [r["rating"] for r in history]),
                           "success after reflection": (xs, [r["success after"] for r in history])}},
                {"title": "PPO", "xlabel": "PPO iteration", "ylabel": "value",
                 "lines": {"kl": (xs, [r["kl"] for r in history]),
                           "policy loss": (xs, [r["policy_loss"] for r in history])}}],
               run.plot_path("ppo.png"), f"Retroformer PPO on {config.env} ({config.ppo_reward})")
    last = history[-1] if history else {}
    return {"iterations": ppo.iteration, "model": str(merged), "reward": config.ppo_reward,
            "rating first": history[0]["rating"] if history else None, "rating last": last.get("rating"),
            "success after first": history[0]["success after"] if history else None,
            "success after last": last.get("success after")}
