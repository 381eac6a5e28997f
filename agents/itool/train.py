"""``workbench train itool``: iterative reinforced fine-tuning for tool use (Zeng et al. 2025, arXiv 2501.09766).

Stages, each finished once and recorded in ``<out>/stages.json`` (a resumed run skips the finished ones and
continues an interrupted one):

1. ``warmup-easy``, ``warmup-medium``, ``warmup-hard`` (Sec. 3.1, the curriculum): LoRA SFT through the workbench's
   ``sft`` method on the expert's replies (:mod:`.data`) to the training cases of that difficulty, each level
   starting from the previous level's merged model;
2. ``iteration-<i>`` (Sec. 3.2-3.3): the policy's perplexity of the expert's replies ranks the iteration's items and
   the hardest ``deficiency_share`` (:mod:`.deficiency`) is searched by step-wise MCTS (:mod:`.mcts`; node value
   :func:`.rewards.fast_reward`, leaves the environment's ``reply_check``, the AST or execution check, through
   :func:`.rewards.leaf_value`); the sibling
   pairs are stored as a TRL preference dataset (``<stage>/pairs.jsonl``) and trained on with ``simpo`` (beta 2.5,
   gamma 0.5) or ``dpo`` on LoRA.

After each stage the LoRA adapter is merged into its base (``<stage>/merged``, a model folder): the next stage
trains a fresh adapter on it, and any stage's model is an ``--agent_model`` for ``workbench evaluate``. The
environment is reached through the registry; the training cases are the ``train`` split of each case source
(:func:`workbench.splits.split_cases`), so the split ``workbench evaluate`` scores is never trained on.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any, Callable, Sequence

from agents.itool.config import ITOOLConfig, MCTSConfig
from agents.itool.data import CURRICULUM, Step, expert_steps
from workbench.config import resolve_out
from workbench.env import DialogueEnv
from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.runs import Run, atomic_write
from workbench.training.stages import Stages, trained_and_merged, write_jsonl

HOOKS = ("expert_reply", "difficulty", "reply_check")
SIMPO_BETA = 2.5
"""iTool's SimPO beta (the paper's setting; gamma is ``--simpo_gamma``, 0.5)."""


def run_itool(config: ITOOLConfig) -> tuple[Run, str]:
    """Run every stage not yet finished in ``config.out``; return the run and its summary."""
    from workbench.llm.embedded import GEMMA
    from workbench.registry import env_class, make_env
    from workbench.training.trainers import model_source

    cls = env_class(config.env)
    missing = [hook for hook in HOOKS if not callable(getattr(cls, hook, None))]
    if missing:
        raise WorkbenchError(f"the {config.env} environment has no {missing[0]}(): iTool needs a tool-use environment")
    if config.model != f"embedded:{GEMMA}":
        model_source(config.model)
    pools = training_pools(cls, config.cases, config.seed)
    config.out = resolve_out(config.out, config.resume, "itool")
    env = make_env(config.env)
    with Run.open(config.out, dataclasses.asdict(config), resume=config.resume,
                  resumable_changes=("resume", "iterations", "progress")) as run:
        stages = Stages(run.path / "stages.json")
        model = config.model
        plan = [(f"warmup-{level}", level, config.warmup_cases, warmup) for level in CURRICULUM if config.warmup]
        plan += [(f"iteration-{i}", None, config.iteration_cases, iteration) for i in range(1, config.iterations + 1)]
        for name, level, n, stage in plan:
            if name not in stages:
                cases = pick(pools, level, n, random.Random(f"{config.seed}:{name}"))
                stages.mark(name, stage(run, config, env, name, cases, model))
                run.log_metrics({"event": "stage", "stage": name, **stages[name]})
            model = stages[name].get("model", model)
        plot(run, stages)
        text = summary(config, stages, model)
        run.write_summary(text)
    return run, text


def training_pools(cls: type[DialogueEnv], sources: Sequence[str], seed: int) -> list[list[Case]]:
    """The training split of each case source, shuffled by ``seed``."""
    from workbench.splits import split_cases

    if not sources:
        raise WorkbenchError("--cases needs at least one case source")
    pools = []
    for source in sources:
        cases = split_cases(cls.cases(source), "train")
        if not cases:
            raise WorkbenchError(f"--cases {source}: no training cases")
        random.Random(f"{seed}:{source}").shuffle(cases)
        pools.append(cases)
    return pools


def pick(pools: Sequence[Sequence[Case]], level: str | None, n: int, rng: random.Random) -> list[Case]:
    """Up to ``n`` cases of difficulty ``level`` (None: any), taken in turn from each pool (each pool's order
    rotated by ``rng``, so every stage sees a different slice)."""
    from workbench.registry import env_class

    queues = []
    for pool in pools:
        chosen = [c for c in pool if level is None or env_class(c.env).difficulty(c) == level]
        start = rng.randrange(len(chosen)) if chosen else 0
        queues.append(chosen[start:] + chosen[:start])
    picked: list[Case] = []
    for row in range(max(map(len, queues), default=0)):
        picked.extend(q[row] for q in queues if row < len(q))
    return picked[:n]


def within(tokenizer: Any, rows: Sequence[dict[str, str]], text: Callable[[dict[str, str]], str],
           max_length: int) -> tuple[list[dict[str, str]], int]:
    """The rows whose ``text(row)`` fits in ``max_length`` tokens, and how many did not."""
    kept = [r for r in rows if len(tokenizer(text(r))["input_ids"]) <= max_length]
    return kept, len(rows) - len(kept)


def warmup(run: Run, config: ITOOLConfig, env: DialogueEnv, name: str, cases: Sequence[Case],
           model: str) -> dict[str, Any]:
    """LoRA SFT of ``model`` on the expert's turns of ``cases``, merged into a new model folder."""
    from workbench.training.config import SFTTrainConfig
    from workbench.training.trainers import load_tokenizer, model_source

    rows = [step.row for step in expert_steps(env, cases, config.seed)]
    if not rows:
        return {"cases": 0, "rows": 0, "note": "no training case of this difficulty: stage skipped"}
    kept, too_long = within(load_tokenizer(model_source(model)), rows, lambda r: r["prompt"] + r["completion"],
                            config.max_length)
    record: dict[str, Any] = {"cases": len(cases), "rows": len(kept), "left_out_too_long": too_long, "base": model}
    if not kept:
        return record | {"note": f"no row fits in --max_length {config.max_length}: stage skipped"}
    folder = run.path / name
    data = write_jsonl(folder / "data.jsonl", [{k: r[k] for k in ("prompt", "completion")} for r in kept])
    sft = SFTTrainConfig(model=model, data=str(data), out=str(folder / "sft"), resume=(folder / "sft").is_dir(),
                         format="transcript", epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                         grad_accum=config.grad_accum, max_length=config.max_length, seed=config.seed, lora=True,
                         lora_r=config.lora_r, lora_alpha=config.lora_alpha)
    return record | trained_and_merged(sft, model, folder)


def iteration(run: Run, config: ITOOLConfig, env: DialogueEnv, name: str, cases: Sequence[Case],
              model: str) -> dict[str, Any]:
    """One iTool round on ``model``: the deficiency set, MCTS pairs (kept in ``<stage>/pairs.jsonl``, reused on
    resume), then the preference step merged into a new model folder (none without pairs)."""
    from workbench.training.trainers import load_tokenizer, model_source

    folder = run.path / name
    pairs_file, search_file = folder / "pairs.jsonl", folder / "search.json"
    if not (pairs_file.is_file() and search_file.is_file()):
        pairs, stats = search(config, env, expert_steps(env, cases, config.seed), model)
        atomic_write(search_file, json.dumps(stats))
        write_jsonl(pairs_file, pairs)
    stats = json.loads(search_file.read_text())
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    record: dict[str, Any] = {"cases": len(cases), **stats, "base": model}
    kept, too_long = within(load_tokenizer(model_source(model)), pairs,
                            lambda p: p["prompt"] + max(p["chosen"], p["rejected"], key=len), config.max_length)
    record |= {"pairs_trained": len(kept), "pairs_left_out_too_long": too_long}
    if not kept:
        why = f"no pair fits in --max_length {config.max_length}" if pairs else "MCTS found no preference pair"
        return record | {"note": f"{why}: the model is unchanged"}
    data = write_jsonl(folder / "train_pairs.jsonl", kept)
    return record | trained_and_merged(preference_config(config, model, data, folder / config.loss), model, folder)


def preference_config(config: ITOOLConfig, model: str, data: Path, out: Path) -> Any:
    """The ``simpo`` or ``dpo`` method's config for one iteration's pairs (LoRA, transcript format)."""
    from workbench.training.config import DPOTrainConfig, SimPOTrainConfig

    common = dict(model=model, data=str(data), out=str(out), resume=out.is_dir(), format="transcript",
                  epochs=config.pref_epochs, lr=config.pref_lr, batch_size=config.batch_size,
                  grad_accum=config.grad_accum, max_length=config.max_length, seed=config.seed, lora=True,
                  lora_r=config.lora_r, lora_alpha=config.lora_alpha)
    if config.loss == "simpo":
        return SimPOTrainConfig(**common, beta=config.beta or SIMPO_BETA, trl=[f"simpo_gamma={config.simpo_gamma}"])
    return DPOTrainConfig(**common, beta=config.beta)


def search(config: ITOOLConfig, env: Any, steps: Sequence[Step], model: str) -> tuple[list[dict[str, str]],
                                                                                    dict[str, Any]]:
    """Rank ``steps`` by perplexity, search the deficiency set by MCTS; the pairs and the search's numbers."""
    import torch
    from transformers import AutoModelForCausalLM

    from agents.itool.deficiency import completion_perplexity, deficiency_set
    from agents.itool.mcts import MCTS, preference_pairs
    from agents.itool.rewards import fast_reward, leaf_value
    from workbench.progress import Meter
    from workbench.training.trainers import load_tokenizer, model_source

    source = model_source(model)
    tokenizer, policy = load_tokenizer(source), AutoModelForCausalLM.from_pretrained(source).eval()
    rows = [s.row for s in steps]
    perplexity = completion_perplexity(policy, tokenizer, rows, config.ppl_batch_size)
    chosen = deficiency_set(list(range(len(steps))), perplexity, config.deficiency_share)
    leaves = {"judged": 0, "passed": 0}
    mcts_options = {f.name: getattr(config, f.name) for f in dataclasses.fields(MCTSConfig)}
    pairs: list[dict[str, str]] = []
    expansions = 0
    with Meter(len(chosen), desc=f"iTool MCTS ({len(chosen)} items)", unit="item", show=config.progress) as meter, \
            torch.no_grad():
        for i in chosen:
            step = steps[i]

            def leaf(text: str, step: Step = step) -> float:
                passed = env.reply_check(step.state, text.strip())
                leaves["judged"] += 1
                leaves["passed"] += passed
                return leaf_value(passed, fast_reward(text, step.row["completion"]))

            mcts = MCTS(policy, tokenizer, lambda text, s=step: fast_reward(text, s.row["completion"]), leaf,
                        MCTSConfig(**mcts_options))
            tree = mcts.search(step.row["prompt"])
            expansions += sum(bool(node.children) for node in tree.nodes())
            pairs.extend(preference_pairs(tree, config.min_gap))
            meter.advance()
    mean = lambda values: round(sum(values) / len(values), 4) if values else None  # noqa: E731
    stats = {"items": len(steps), "searched": len(chosen), "perplexity_mean": mean(perplexity),
             "perplexity_searched": mean([perplexity[i] for i in chosen]), "expansions": expansions,
             "leaves": leaves["judged"],
             "leaf_pass_rate": round(leaves["passed"] / leaves["judged"], 4) if leaves["judged"] else None,
             "pairs": len(pairs)}
    return pairs, stats


def plot(run: Run, stages: Stages) -> Path | None:
    """``plots/itool.png``: per iteration, the perplexity of the expert's replies (all items, the searched
    deficiency set), and the pairs and the leaves' pass rate."""
    from workbench.evaluate import plot_lines

    rounds = sorted((int(name.split("-")[1]), record) for name, record in stages.done.items()
                    if name.startswith("iteration-"))
    if not rounds:
        return None
    xs = [i for i, _ in rounds]
    column = lambda key: [record.get(key) or 0.0 for _, record in rounds]  # noqa: E731
    panels = [{"title": "Perplexity of the expert's replies (before the round)", "xlabel": "iteration",
               "ylabel": "perplexity", "lines": {"all items": (xs, column("perplexity_mean")),
                                                 "deficiency set": (xs, column("perplexity_searched"))}},
              {"title": "MCTS", "xlabel": "iteration", "ylabel": "count / rate",
               "lines": {"pairs": (xs, column("pairs")), "leaf pass rate": (xs, column("leaf_pass_rate"))}}]
    return plot_lines(panels, run.plot_path("itool.png"), "iTool iterations")


def summary(config: ITOOLConfig, stages: Stages, model: str) -> str:
    keys = ("cases", "rows", "left_out_too_long", "searched", "perplexity_searched", "leaf_pass_rate", "pairs",
            "pairs_trained", "steps", "loss first", "loss last")
    lines = [f"# iTool on {config.env} ({', '.join(config.cases)}; preference loss {config.loss})", "",
             "| stage | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, record in stages.done.items():
        lines.append(f"| {name} | " + " | ".join("" if record.get(k) is None else str(record[k]) for k in keys)
                     + " |")
    notes = [f"- {name}: {record['note']}" for name, record in stages.done.items() if "note" in record]
    return "\n".join(lines + ([""] + notes if notes else []) + [
        "", f"model: {model} (score it with `workbench evaluate --env {config.env} --planners none "
            f"--agent_model {model}`)", ""])
