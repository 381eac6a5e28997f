"""``workbench train critic``: MultiCritique's critic (Lan et al. 2024, "Training Language Models to Critique With
Multi-agent Feedback"), trained on scripted self-play.

Stages, each finished once and recorded in ``<out>/stages.json`` (a resumed run skips finished ones):

1. ``collect``: per environment, traced self-play of the template agent on training cases (:mod:`.data`); the panel
   of critic agents critiques every view (finished dialogues, and a share cut in flight); the meta-critic rates each
   ACU and the rated ACUs are merged (:func:`workbench.critique.merge.merge_critiques`, Sec. 3.2): the SFT target.
   Written to ``collect/critiques.jsonl`` (prompt, the panel's texts, the merged critique).
2. ``sft``: LoRA SFT (the workbench's ``sft``) on prompt -> merged critique, merged into ``sft/merged``; a merged
   critique with no ACU of a dialogue that had a harmful turn is left out (counted: it would teach seeing no flaw).
3. ``marv``: for each finished dialogue, every candidate critique (the panel's and the merged one) revises the turn
   its most severe ACU names, ``revisions`` times; each revision is replayed and scored by the ground truth; pairs
   whose chosen critique's revisions score higher on average are kept (Sec. 3.3): ``marv/pairs.jsonl`` (every
   candidate with its revisions' returns in ``marv/groups.jsonl``).
4. ``dpo``: DPO (TRL, LoRA over the SFT model) on the MARV pairs, merged into ``dpo/merged``.

The critic (``<out>/model`` and ``<out>/critic.json``) is ``--critic_model critic:<out>`` of any simulation command
and a critic of ``workbench critique``. Held-out cases (``--heldout``) are never critiqued here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Sequence

from agents.multicritique.config import CriticConfig
from workbench.config import resolve_out
from workbench.errors import WorkbenchError
from workbench.runs import Run, atomic_write
from workbench.training.stages import Stages, final_model, fitting, stage_lines, trained_and_merged, write_jsonl

RESUMABLE = ("resume", "progress")


def critique_env_names(config: Any) -> list[str]:
    """The environments of ``--envs`` (default ``--env``), each checked to have critique criteria."""
    from workbench.registry import env_class

    names = list(dict.fromkeys(config.envs or [config.env]))
    for name in names:
        if not env_class(name).criteria:
            raise WorkbenchError(f"environment {name!r} has no critique criteria (known with criteria: "
                                 f"{', '.join(critique_envs())})")
    return names


def critique_envs() -> list[str]:
    from workbench.registry import env_class, env_names

    return [n for n in env_names() if env_class(n).criteria]


def run_critic(config: CriticConfig) -> tuple[Run, str]:
    """Run every stage not yet finished in ``config.out``; return the run and its summary."""
    from workbench.llm.resolve import check_spec
    from workbench.llm.embedded import GEMMA
    from workbench.training.trainers import model_source

    names = critique_env_names(config)
    for spec in [*config.critic_models, config.reviser, *([config.meta_model] if config.meta_model else [])]:
        check_spec(spec)
    if config.model != f"embedded:{GEMMA}":
        model_source(config.model)
    config.out = resolve_out(config.out, config.resume, "critic")
    with Run.open(config.out, dict(vars(config)), resume=config.resume, resumable_changes=RESUMABLE) as run:
        stages = Stages(run.path / "stages.json")
        if "collect" not in stages:
            stages.mark("collect", collect(run, config, names))
        rows = [json.loads(line) for line in (run.path / "collect" / "critiques.jsonl").read_text().splitlines()]
        model = config.model
        if "sft" not in stages:
            stages.mark("sft", sft_stage(run, config, rows))
        model = stages["sft"].get("model", model)
        if config.marv and "marv" not in stages:
            stages.mark("marv", marv_stage(run, config, rows))
        if config.marv and "dpo" not in stages:
            stages.mark("dpo", dpo_stage(run, config, model))
        if config.marv:
            model = stages["dpo"].get("model", model)
        final = finish(run, config, model, names, stages)
        text = summary(config, stages, final)
        run.write_summary(text)
    return run, text


def load(specs: Sequence[str], seed: int) -> list[Any]:
    from workbench.llm.resolve import frozen_role_spec, load_models

    loaded = load_models({str(i): frozen_role_spec(s) for i, s in enumerate(specs)}, seed)
    return [loaded[str(i)] for i in range(len(specs))]


def collect(run: Run, config: CriticConfig, names: Sequence[str]) -> dict[str, Any]:
    """Stage 1 (module docstring)."""
    from agents.multicritique.data import merged, prompt_text, selfplay, views
    from agents.multicritique.panel import CriticPanel, GroundTruthMeta, LLMMetaCritic
    from workbench.critique.acu import format_critique
    from workbench.episodes import save_episodes
    from workbench.registry import env_class
    from workbench.splits import split_cases

    models = load(config.critic_models, config.seed)
    panel = CriticPanel(models, config.personas, acus=config.acus, temperature=config.critique_temperature,
                        max_tokens=config.critique_tokens)
    llm_meta = None
    if config.meta_critic == "llm":
        llm_meta = LLMMetaCritic(load([config.meta_model or config.critic_models[0]], config.seed)[0])
    rows, played, record = [], [], {"envs": {}}
    for name in names:
        cls = env_class(name)
        cases = split_cases(cls.cases(), "train", config.heldout)
        random.Random(f"{config.seed}:{name}").shuffle(cases)
        episodes, seeds = selfplay(cls, cases, config.policy, n=config.dialogues, seed=config.seed,
                                   batch_size=config.batch_size, progress=config.progress)
        shown = views(cls, episodes, seeds, config.prefixes, random.Random(f"{config.seed}:views:{name}"))
        meta = llm_meta or GroundTruthMeta(cls)
        critiques, targets = merged(cls, shown, panel, meta, config.acus, config.progress)
        for view, cs, target in zip(shown, critiques, targets, strict=True):
            rows.append({"env": name, "sft": not incomplete(meta, view, target), "episode": view.episode.id,
                         "seed": view.seed, "finished": view.finished,
                         "turns": len(view.turns), "prompt": prompt_text(cls, view.turns),
                         "completion": f" {format_critique(target)}\n\n",
                         "panel": [c.info["text"] for c in cs], "merged": format_critique(target)})
        panel_all = [c for cs in critiques for c in cs]
        truth = [r for rs in GroundTruthMeta(cls).rate(cls, [v.turns for v in shown], critiques) for c in rs for r in c]
        record["envs"][name] = {
            "dialogues": len(episodes), "views": len(shown), "critiques": len(panel_all),
            "panel failed": sum(c.failed for c in panel_all) / len(panel_all),
            "panel ACUs dropped": sum(c.info["dropped"] for c in panel_all),
            "panel ACUs partial": sum(c.info["partial"] for c in panel_all),
            "panel ACUs correct (ground truth)": sum(r.correct for r in truth) / max(len(truth), 1),
            "merged with ACUs": sum(bool(t.acus) for t in targets) / len(targets),
            "left out: harmful, no correct ACU": sum(incomplete(meta, v, t) for v, t in zip(shown, targets))}
        played += episodes
    if llm_meta is not None:
        record["meta unparsable"] = llm_meta.unparsable / max(llm_meta.asked, 1)
    save_episodes(played, run.path / "collect" / "episodes.jsonl")
    write_jsonl(run.path / "collect" / "critiques.jsonl", rows)
    run.log_metrics({"event": "collect", **record})
    return record


def incomplete(meta: Any, view: Any, target: Any) -> bool:
    """Whether a merged critique misses what the ground truth knows: the dialogue has a harmful agent turn, yet no ACU
    of the panel was rated correct (such a target would teach the critic to see no flaw; it is left out, counted)."""
    from agents.multicritique.panel import GroundTruthMeta

    return isinstance(meta, GroundTruthMeta) and not target.acus and any(meta.harms(view.turns))


def lora(config: CriticConfig) -> dict[str, Any]:
    return dict(format="transcript", batch_size=config.train_batch_size, max_length=config.max_length,
                seed=config.seed, lora=True, lora_r=config.lora_r, lora_alpha=config.lora_alpha)


def sft_stage(run: Run, config: CriticConfig, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stage 2: LoRA SFT on the merged critiques (those :func:`incomplete` finds are left out)."""
    from workbench.training.config import SFTTrainConfig

    targets = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows if r["sft"]]
    kept, too_long = fitting(config.model, config.max_length, targets)
    record: dict[str, Any] = {"rows": len(kept), "left_out_incomplete": len(rows) - len(targets),
                              "left_out_too_long": too_long}
    if not kept:
        raise WorkbenchError(f"no merged critique fits --max_length {config.max_length}")
    folder = run.path.resolve() / "sft"
    data = write_jsonl(folder / "data.jsonl", kept)
    train = SFTTrainConfig(model=config.model, data=str(data), out=str(folder / "run"),
                           resume=(folder / "run").is_dir(), epochs=config.epochs, lr=config.lr, **lora(config))
    return record | trained_and_merged(train, config.model, folder)


def marv_stage(run: Run, config: CriticConfig, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stage 3: MARV pairs (module docstring)."""
    from agents.multicritique.data import View, revision_returns
    from workbench.critique.acu import parse_critique
    from workbench.critique.marv import Validated, marv_pairs
    from workbench.critique.prompts import agent_turn_numbers
    from workbench.episodes import load_episodes
    from workbench.registry import env_class

    reviser = load([config.reviser], config.seed)[0]
    groups, record = [], {"envs": {}}
    episodes = {e.id: e for e in load_episodes(run.path / "collect" / "episodes.jsonl")}
    for name in dict.fromkeys(r["env"] for r in rows):
        cls = env_class(name)
        mine = [r for r in rows if r["env"] == name and r["finished"]]
        shown = [View(episodes[r["episode"]], list(episodes[r["episode"]].turns), True, r["seed"]) for r in mine]
        names = [c.name for c in cls.criteria]
        texts = [list(dict.fromkeys([r["merged"], *r["panel"]])) for r in mine]
        candidates = [[parse_critique(t, names, len(agent_turn_numbers(v.turns, cls.agent_role))) for t in ts]
                      for v, ts in zip(shown, texts)]
        scores, empty = revision_returns(cls, reviser, shown, candidates, config.revisions, config.batch_size,
                                         config.progress)
        mine_groups = [Validated(r["prompt"], [f" {t.strip()}\n\n" for t in ts], s)
                       for r, ts, s in zip(mine, texts, scores, strict=True)]
        groups += mine_groups
        validated = [x for s in scores for x in s if x]
        record["envs"][name] = {"dialogues": len(mine), "candidates": sum(len(t) for t in texts),
                                "validated": len(validated), "empty revisions (original turn kept)": empty,
                                "mean revision return": _mean([sum(x) / len(x) for x in validated]),
                                "merged mean revision return": _mean([sum(s[0]) / len(s[0]) for s in scores if s[0]])}
    pairs, too_long = fitting(config.model, config.max_length,
                              marv_pairs(groups, margin=config.marv_margin, max_pairs=config.max_pairs), "chosen")
    write_jsonl(run.path / "marv" / "groups.jsonl", [vars(g) for g in groups])
    write_jsonl(run.path / "marv" / "pairs.jsonl", pairs)
    record |= {"pairs": len(pairs), "left_out_too_long": too_long}
    run.log_metrics({"event": "marv", **record})
    return record


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def dpo_stage(run: Run, config: CriticConfig, model: str) -> dict[str, Any]:
    """Stage 4: DPO on the MARV pairs over the SFT model."""
    from workbench.training.config import DPOTrainConfig

    path = run.path.resolve() / "marv" / "pairs.jsonl"
    if not path.read_text().strip():
        return {"note": "MARV kept no pair: DPO skipped"}
    folder = run.path.resolve() / "dpo"
    train = DPOTrainConfig(model=model, data=str(path), out=str(folder / "run"), resume=(folder / "run").is_dir(),
                           epochs=config.dpo_epochs, lr=config.dpo_lr, beta=config.beta, **lora(config))
    return trained_and_merged(train, model, folder)


def finish(run: Run, config: CriticConfig, model: str, names: Sequence[str], stages: Stages) -> Path:
    """``<out>/model`` (the last stage's merged model) and the critics ``critic:`` reads: ``<out>`` itself and each
    trained stage's folder (``critic:<out>/sft`` is the SFT critic), each with ``critic.json`` and, for a critic of
    the embedded Gemma, its LoRA GGUF (:mod:`workbench.llm.gguf_lora`: it runs on llama.cpp)."""
    target = final_model(run.path, model)
    last = None
    for name in ("sft", "dpo"):
        if "model" in stages.done.get(name, {}):
            last = manifest(run.path / name, "merged", config, names, [name])
    top = {"model": "model", "lora": f"{last.parent.name}/{last.name}" if last else None}
    atomic_write(run.path / "critic.json", json.dumps({"format": "acu", "envs": list(names),
                                                       "stages": list(stages.done), **top}, indent=1))
    return target


def manifest(folder: Path, model: str, config: CriticConfig, names: Sequence[str], stages: Sequence[str]
             ) -> Path | None:
    """``folder/critic.json`` for the model folder ``folder/model``, with its LoRA GGUF ``folder/model.lora.gguf``
    when it was tuned from the embedded Gemma (written once); the GGUF's path, or None."""
    from workbench.llm.embedded import GEMMA, gemma_path
    from workbench.llm.gguf_lora import export_lora

    lora = folder / "model.lora.gguf"
    if config.model == f"embedded:{GEMMA}" and not lora.is_file():
        export_lora(folder / model, gemma_path(), lora)
    written = lora if lora.is_file() else None
    atomic_write(folder / "critic.json", json.dumps({"format": "acu", "envs": list(names), "stages": list(stages),
                                                     "model": model, "lora": written.name if written else None},
                                                    indent=1))
    return written


def summary(config: CriticConfig, stages: Stages, model: Path) -> str:
    names = critique_env_names(config)
    lines = [f"# MultiCritique critic on {', '.join(names)}", "",
             f"The trained critic: `{model}` (`--critic_model critic:{config.out}`; benchmark it with `workbench "
             f"critique --envs {' '.join(names)} --critics single merged critic:{config.out}`).", ""]
    return "\n".join(lines + stage_lines(stages, ("collect", "sft", "marv", "dpo")))
