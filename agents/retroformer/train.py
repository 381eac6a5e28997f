"""``workbench train retroformer``: the retrospective model trained to write reflections that make a frozen actor
succeed on its next trial (Yao et al., ICLR 2024, "Retroformer", Sec. 4: rated reflections, a reward model, policy
gradient).

Stages, each finished once and recorded in ``<out>/stages.json`` (a resumed run skips finished ones):

1. ``collect``: the frozen actor (:func:`.actor.make_actor`) plays trial 1 of the training cases; for
   each failed trial the base retrospective model samples ``samples`` reflections, and each is rated by replaying
   the case with it in the actor's memory: rating ``r = G(2) - G(1)`` (:func:`workbench.trials.reflection_reward`).
   The rated reflections go to ``collect/ratings.jsonl`` (prompt, reflection, rating, returns).
2. ``sft``: LoRA SFT (the workbench's ``sft`` method) on the positively rated reflections, merged into
   ``sft/merged``.
3. ``reward``: a reward model (the workbench's ``reward`` method, TRL's ``RewardTrainer``) on pairs of
   reflections of the same failed trial, the better rated one chosen.
4. ``ppo``: the workbench's PPO (:class:`workbench.training.ppo.PPO`) on a fresh LoRA adapter over
   the SFT model: each iteration samples reflections on ``ppo_cases`` failed training trials and rates each by
   replay (``--ppo_reward returns``) or by the reward model (``model``); one reflection is one PPO episode, its
   rating the reward at its last token. Checkpointed every iteration; a resumed run continues exactly.

The final model (``<out>/model``, a model folder: the last stage's adapter merged) is the reflector of
``workbench evaluate --reflection retroformer:<out>``. Held-out cases (``--heldout``) are never trained on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Sequence

from agents.retroformer.config import RetroformerConfig
from workbench.config import resolve_out
from workbench.episodes import Case, Episode
from workbench.errors import WorkbenchError
from workbench.runs import Run
from workbench.training.stages import Stages, final_model, fitting, stage_lines, trained_and_merged, write_jsonl

RESUMABLE = ("resume", "progress", "ppo_iterations", "fallback_warning")


def run_retroformer(config: RetroformerConfig) -> tuple[Run, str]:
    """Run every stage not yet finished in ``config.out``; return the run and its summary."""
    from agents.retroformer.actor import make_actor
    from agents.simulation import build_simulation
    from workbench.llm.embedded import GEMMA
    from workbench.splits import split_cases
    from workbench.training.trainers import model_source

    if config.ppo_iterations and config.ppo_reward == "model" and not config.reward_model:
        raise WorkbenchError("--ppo_reward model needs the reward model stage (drop --no_reward_model)")
    if config.model != f"embedded:{GEMMA}":
        model_source(config.model)
    config.out = resolve_out(config.out, config.resume, "retroformer")
    sim = build_simulation(config)
    actor = make_actor(sim, config)
    cases = split_cases(sim.cls.cases(config.data), "train", config.heldout)
    random.Random(f"{config.seed}:cases").shuffle(cases)
    cases = cases[: config.cases]
    if not cases:
        raise WorkbenchError(f"no training cases in {config.data or sim.cls.default_source()}")
    with Run.open(config.out, sim.settings, resume=config.resume,
                  resumable_changes=RESUMABLE) as run:
        stages = Stages(run.path / "stages.json")
        replay = Replay(sim.env, actor, cases, config.seed, config.batch_size, run)
        if "collect" not in stages:
            stages.mark("collect", collect(run, config, replay))
        rows = [json.loads(line) for line in (run.path / "collect" / "ratings.jsonl").read_text().splitlines()]
        model = config.model
        if config.sft and "sft" not in stages:
            stages.mark("sft", sft_stage(run, config, rows))
        model = stages["sft"].get("model", model) if "sft" in stages else model
        if config.reward_model and "reward" not in stages:
            stages.mark("reward", reward_stage(run, config, rows))
        if config.ppo_iterations and stages.done.get("ppo", {}).get("iterations", 0) < config.ppo_iterations:
            from agents.retroformer.ppo import ppo_stage

            failed = [e for e in replay.first_trials() if not e.success]  # stored by collect: read back
            reward = stages["reward"].get("model") if "reward" in stages else None
            if config.ppo_reward == "model" and reward is None:
                raise WorkbenchError("--ppo_reward model: the reward stage trained no model (no two reflections of a "
                                     "trial were rated apart); use --ppo_reward returns")
            stages.mark("ppo", ppo_stage(run, config, replay, failed, model, reward))
        final = Path(stages["ppo"]["model"]) if "ppo" in stages else final_model(run.path, model)
        text = summary(config, stages, final)
        run.write_summary(text)
    return run, text


class Replay:
    """The frozen actor's trials on the training cases: trial 1 without memory, and trial 2 replayed with given
    reflections in memory (same episode seed, so the same persona; the trial's own random stream)."""

    def __init__(self, env: Any, actor: Any, cases: Sequence[Case], seed: int, batch_size: int, run: Run | None = None):
        self.env, self.actor, self.cases, self.seed, self.batch_size = env, actor, list(cases), seed, batch_size
        self.run = run

    def first_trials(self) -> list[Episode]:
        """Trial 1 of every case, stored in the run (and read back from it once stored, so never played twice)."""
        from workbench.trials import run_trials

        memories = run_trials(self.env, {"actor": self.actor}, {"actor": None}, self.cases, trials=1, memory_size=0,
                              seed=self.seed, batch_size=self.batch_size, run=self.run, progress=False)["actor"]
        return [m.episodes[0] for m in memories]

    def second_trials(self, indices: Sequence[int], reflections: Sequence[str]) -> list[Episode]:
        """Trial 2 of case ``indices[j]`` with ``reflections[j]`` as the actor's memory."""
        from workbench.rollout import episode_seed, rollout_many
        from workbench.trials import trial_seed

        if not indices:
            return []

        def begin(key: Any, j: int, state: Any) -> None:
            state.memory = [reflections[j]]
            state.rng = random.Random(trial_seed(state.seed, 2))

        return rollout_many(self.env, {0: self.actor}, [self.cases[i] for i in indices], n=len(indices),
                            seeds=[episode_seed(self.seed, i) for i in indices], on_begin=begin,
                            batch_size=self.batch_size, progress=False)[0]


def reflector_for(model: Any, env: Any, config: RetroformerConfig, temperature: float) -> Any:
    from agents.retroformer.reflector import LLMReflector

    return LLMReflector(model, env, temperature=temperature, max_tokens=config.reflection_tokens)


def rate(replay: Replay, failed: Sequence[Episode], reflections: Sequence[Any], prompts: Sequence[str]
         ) -> tuple[list[dict[str, Any]], list[Episode]]:
    """Rows of rated reflections (reflection ``j`` on ``failed[j]``, rated by replaying its case with it) and the
    replayed trials."""
    from workbench.trials import reflection_reward

    after = replay.second_trials([e.provenance["index"] for e in failed], [r.text for r in reflections])
    return [{"index": e.provenance["index"], "prompt": p, "reflection": r.text,
             "rating": round(reflection_reward([e.total_reward, a.total_reward], 0), 6), "return_before": e.total_reward,
             "return_after": a.total_reward, "success_after": a.success, "fallback": bool(r.info.get("fallback"))}
            for e, r, p, a in zip(failed, reflections, prompts, after, strict=True)], after


def prompt_texts(reflector: Any, failed: Sequence[Episode]) -> list[str]:
    """The prompts as a base model reads them (the transcript :class:`LocalChatModel` renders)."""
    from workbench.llm.local import format_transcript

    return [format_transcript(m)[0] for m in reflector.prompts(failed, [[] for _ in failed])]


def collect(run: Run, config: RetroformerConfig, replay: Replay) -> dict[str, Any]:
    """Stage 1 (module docstring): the rated reflections of the base model."""
    from workbench.llm.resolve import load_models

    from agents.retroformer.reflector import transcript_models

    first = replay.first_trials()
    failed = [e for e in first if not e.success]
    record: dict[str, Any] = {"cases": len(first), "first trial SR": sum(e.success for e in first) / len(first),
                              "failed": len(failed)}
    if not failed:
        raise WorkbenchError("the actor solved every training case at its first trial: nothing to reflect on")
    run.cut_back(metrics=lambda r: r.get("event") != "collect")  # an interrupted collect's row once
    model = transcript_models(load_models({"reflector": config.model}, config.seed))["reflector"]
    reflector = reflector_for(model, replay.env.__class__, config, config.collect_temperature)
    repeated = [e for e in failed for _ in range(config.samples)]
    reflections = reflector.reflect(repeated, [[] for _ in repeated])
    rows, _ = rate(replay, repeated, reflections, prompt_texts(reflector, repeated))
    write_jsonl(run.path / "collect" / "ratings.jsonl", rows)
    ratings = [r["rating"] for r in rows]
    record |= {"reflections": len(rows), "positive": sum(r > 0 for r in ratings) / len(rows),
               "mean rating": sum(ratings) / len(rows),
               "SR after reflection": sum(r["success_after"] for r in rows) / len(rows),
               "reflection fallbacks": sum(r["fallback"] for r in rows) / len(rows)}
    run.log_metrics({"event": "collect", **record})
    return record


def sft_stage(run: Run, config: RetroformerConfig, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stage 2: LoRA SFT on the positively rated reflections (not fallbacks), merged."""
    from workbench.training.config import SFTTrainConfig

    positive = [{"prompt": r["prompt"], "completion": f" {r['reflection']}\n"} for r in rows
                if r["rating"] > 0 and not r["fallback"]]
    kept, too_long = fitting(config.model, config.max_length, positive)
    record: dict[str, Any] = {"rows": len(kept), "left_out_too_long": too_long}
    if not kept:
        return record | {"note": "no positively rated reflection: SFT skipped"}
    folder = run.path.resolve() / "sft"
    data = write_jsonl(folder / "data.jsonl", kept)
    train = SFTTrainConfig(model=config.model, data=str(data), out=str(folder / "run"),
                           resume=(folder / "run").is_dir(), format="transcript", epochs=config.epochs, lr=config.lr,
                           batch_size=config.train_batch_size, max_length=config.max_length, seed=config.seed,
                           lora=True, lora_r=config.lora_r, lora_alpha=config.lora_alpha)
    return record | trained_and_merged(train, config.model, folder)


def preference_pairs(rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Pairs of reflections on the same failed trial with different ratings (fallbacks left out): the better rated one
    chosen."""
    by_trial: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if not row["fallback"]:  # a stand-in for an empty reflection is no reflection to learn from
            by_trial.setdefault(row["index"], []).append(row)
    pairs = []
    for group in by_trial.values():
        for a in group:
            for b in group:
                if a["rating"] > b["rating"] and a["reflection"] != b["reflection"]:
                    pairs.append({"prompt": a["prompt"], "chosen": f" {a['reflection']}",
                                  "rejected": f" {b['reflection']}"})
    return pairs


def reward_stage(run: Run, config: RetroformerConfig, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stage 3: the reward model on the rated pairs (TRL's RewardTrainer through ``workbench train reward``)."""
    from workbench.training.config import RewardTrainConfig
    from workbench.training.trainers import train

    pairs, too_long = fitting(config.model, config.max_length, preference_pairs(rows), "chosen")
    record: dict[str, Any] = {"pairs": len(pairs), "left_out_too_long": too_long}
    if not pairs:
        return record | {"note": "no two reflections of a trial were rated differently: no reward model"}
    folder = run.path.resolve() / "reward"
    data = write_jsonl(folder / "pairs.jsonl", pairs)
    trained, result = train(RewardTrainConfig(
        model=config.model, data=str(data), out=str(folder / "run"), resume=(folder / "run").is_dir(),
        format="transcript", epochs=config.reward_epochs, lr=config.reward_lr, batch_size=config.train_batch_size,
        max_length=config.max_length, seed=config.seed, lora=True, lora_r=config.lora_r,
        lora_alpha=config.lora_alpha))
    return record | {"model": str(trained.path / "model"),
                     **{k: v for k, v in result.items() if k in ("steps", "loss first", "loss last")}}


def summary(config: RetroformerConfig, stages: Stages, model: Path) -> str:
    actor = f"--policy {config.policy} --follow {config.follow}" + (
        f" --agent_model {config.agent_model}" if config.agent_model else "")
    lines = [f"# Retroformer on {config.env}", "", f"The trained reflector: `{model}` (evaluate it with the actor it was "
             f"trained for: `workbench evaluate --env {config.env} {actor} --reflection none reflexion "
             f"retroformer:{Path(config.out)} --trials 4`).", ""]
    return "\n".join(lines + stage_lines(stages, ("collect", "sft", "reward", "ppo")))
