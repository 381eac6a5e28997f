"""``workbench train user-classifier`` and ``workbench train user-sft``: trained Commander user agents for the
TEACh household games (Padmakumar et al., AAAI 2022; Philipov et al. 2024, arXiv 2410.23535).

Both split the games file by game id (:func:`split_games` of the household kit), train on the
(context, human decision) pairs of the training games and score the trained agent on the validation games
with the kit's ``evaluate`` next to the paper's rule baseline, writing one run
directory: ``config.yaml``, ``metrics.jsonl``, ``plots/``, ``summary.md`` and the agent
(``<out>/agent`` for the classifier, ``<out>/sft/model`` for the LoRA adapter, the run folder of the TRL
SFT wrapper being ``<out>/sft``). A trained agent is then named ``classifier:<folder>`` or
``sft:<folder>`` wherever user agents are (:func:`agents.user_agents.register_user_agents`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from agents.user_agents import household_kit
from agents.user_agents.config import GamesOptions, UserClassifierConfig, UserSFTConfig
from workbench.config import resolve_out
from workbench.errors import WorkbenchError
from workbench.runs import Run, atomic_write


def game_split(config: GamesOptions) -> tuple[list[Game], list[Game]]:
    """The (train, validation) games of ``config.data``; refuses an empty training split."""
    kit = household_kit()
    train, valid = kit.split_games(kit.load_games(config.data), config.valid_fraction, config.split_seed)
    if not train:
        raise WorkbenchError(f"--valid_fraction {config.valid_fraction} leaves no training games")
    return train, valid


def steps(games: Sequence[Game]) -> list[tuple[Context, Decision]]:
    return [pair for game in games for pair in household_kit().contexts(game)]


def evaluation(run: Run, agents: Sequence[tuple[str, Any]], games: Sequence[Game]) -> str:
    """Score each (name, agent) on ``games``; log the scores, draw the confusion matrices, return the table."""
    kit = household_kit()
    confusion_png, evaluate, table = kit.confusion_png, kit.evaluate, kit.table

    rows = [(name, evaluate(agent, games)) for name, agent in agents]
    for name, result in rows:
        run.log_metrics({"event": "evaluate", "agent": name, "games": result["games"], "steps": result["steps"],
                         "speak_precision": result["speak"]["precision"], "speak_recall": result["speak"]["recall"],
                         "speak_f1": result["speak"]["f1"], "acts_weighted_f1": result["acts"]["weighted_f1"],
                         "acts_macro_f1": result["acts"]["macro_f1"],
                         **({"acts_given_speech_weighted_f1": result["acts_given_speech"]["weighted_f1"]}
                            if result["acts_given_speech"] else {}),
                         "fallbacks": result["fallbacks"]})
    confusion_png(rows, run.plot_path("confusion.png"))
    return table(rows)


def run_user_classifier(config: UserClassifierConfig) -> tuple[Run, str]:
    """Train the classifier Commander (``<out>/agent``) and evaluate it on the validation games."""
    from agents.user_agents.classifier import ClassifierUserAgent, train_classifier
    RuleAfterDriverSpeaks = household_kit().RuleAfterDriverSpeaks
    from workbench.evaluate import format_table, plot_lines
    from workbench.llm.embedded import encoder_path

    encoder_path(config.encoder)
    config.out = resolve_out(config.out, False, "user-classifier")
    train_games, valid_games = game_split(config)
    train, valid = steps(train_games), steps(valid_games)
    with Run.open(config.out, dataclasses.asdict(config)) as run:
        run.log_metrics({"event": "data", "train_games": len(train_games), "valid_games": len(valid_games),
                         "train_steps": len(train), "train_speak": sum(d.speak for _, d in train),
                         "valid_steps": len(valid), "valid_speak": sum(d.speak for _, d in valid)})
        agent = ClassifierUserAgent.from_encoder(config.encoder, max_length=config.max_length,
                                                 max_lines=config.max_lines)
        best = train_classifier(agent, train, valid, epochs=config.epochs, lr=config.lr,
                                batch_size=config.batch_size, act_weight=config.act_weight,
                                finetune_encoder=config.finetune_encoder, encoder_lr=config.encoder_lr,
                                seed=config.seed, log=run.log_metrics, progress=config.progress)
        agent.save(run.path / "agent")
        run.log_metrics({"event": "classifier_done", "best": best})
        records = [r for r in run.metrics() if r.get("event") == "classifier"]
        epochs = [r["epoch"] for r in records]
        panels = [{"title": "Loss", "xlabel": "epoch", "ylabel": "BCE (speak weighted) + BCE (acts)",
                   "lines": {"train": (epochs, [r["train_loss"] for r in records]),
                             **({"validation": (epochs, [r["val_loss"] for r in records])} if valid else {})}}]
        plot_lines(panels, run.plot_path("classifier.png"), "user classifier")
        summary = [f"# User classifier on {len(train_games)} training games (kept epoch {best['epoch']})",
                   format_table({k: v for k, v in best.items() if k != "epoch"})]
        if valid_games:
            summary.append(f"## Evaluation on the {len(valid_games)} validation games (percent)\n\n"
                           + evaluation(run, [("classifier", agent), ("rule", RuleAfterDriverSpeaks())],
                                        valid_games))
        text = "\n\n".join(summary)
        run.write_summary(f"{text}\n\nagent: {run.path / 'agent'} (user agent spec "
                          f"`classifier:{run.path / 'agent'}`)\n")
    return run, text


def run_user_sft(config: UserSFTConfig) -> tuple[Run, str]:
    """LoRA SFT of ``config.model`` on balanced training steps (``<out>/sft/model``), then evaluate the agent on
    the first ``eval_games`` validation games."""
    from agents.user_agents.lora import LoRAUserAgent, balanced_pairs, sft_row, write_meta
    RuleAfterDriverSpeaks = household_kit().RuleAfterDriverSpeaks
    from workbench.llm.embedded import GEMMA
    from workbench.training.config import SFTTrainConfig
    from workbench.training.trainers import load_tokenizer, model_source, train

    source = model_source(config.model)
    base = config.model if config.model == f"embedded:{GEMMA}" else source
    config.out = resolve_out(config.out, False, "user-sft")
    train_games, valid_games = game_split(config)
    chosen = balanced_pairs(steps(train_games), config.max_examples, config.seed)
    tokenizer = load_tokenizer(source)
    rows = [sft_row(c, d, config.max_lines) for c, d in chosen]
    fits = [len(tokenizer(r["prompt"] + r["completion"])["input_ids"]) < config.max_length for r in rows]
    if not any(fits):
        raise WorkbenchError(f"no training example fits in --max_length {config.max_length} tokens; raise it or "
                             "lower --max_lines")
    with Run.open(config.out, dataclasses.asdict(config)) as run:
        data = atomic_write(run.path / "data" / "train.jsonl",
                            "".join(json.dumps(r) + "\n" for r, fit in zip(rows, fits) if fit))
        run.log_metrics({"event": "data", "train_games": len(train_games), "valid_games": len(valid_games),
                         "examples": sum(fits), "speak_examples": sum(d.speak for (_, d), f in zip(chosen, fits) if f),
                         "left_out_too_long": fits.count(False)})
        sft = SFTTrainConfig(model=config.model, data=str(data), out=str(run.path / "sft"), format="transcript",
                             epochs=config.epochs, max_steps=config.max_steps, lr=config.lr,
                             batch_size=config.batch_size, grad_accum=config.grad_accum,
                             max_length=config.max_length, seed=config.seed, lora=True, lora_r=config.lora_r,
                             lora_alpha=config.lora_alpha,
                             trl=[f"gradient_checkpointing={str(config.gradient_checkpointing).lower()}"])
        trained, trained_summary = train(sft)
        folder = write_meta(trained.path / "model", base, config.max_lines).parent
        run.log_metrics({"event": "sft_done", **trained_summary})
        summary = [f"# LoRA SFT user agent on {sum(fits)} steps of {len(train_games)} training games"
                   + (f" ({fits.count(False)} longer than --max_length left out)" if not all(fits) else ""),
                   "\n".join(f"- {k}: {v}" for k, v in trained_summary.items())]
        games = valid_games[:config.eval_games]
        if games:
            agent = LoRAUserAgent.load(folder, max_new_tokens=config.max_new_tokens,
                                       batch_size=config.eval_batch_size)
            summary.append(f"## Evaluation on {len(games)} of the {len(valid_games)} validation games (percent)\n\n"
                           + evaluation(run, [("sft", agent), ("rule", RuleAfterDriverSpeaks())], games))
        text = "\n\n".join(summary)
        run.write_summary(f"{text}\n\nagent: {folder} (user agent spec `sft:{folder}`)\n")
    return run, text

