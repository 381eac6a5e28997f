"""``workbench critique``: score critics on the ground-truth critique benchmark (MultiCritique's critique evaluation
on scripted episodes, :mod:`workbench.critique.labels`).

Per environment, the template agent plays the held-out cases against the traced scripted simulator; every dialogue
with a harmful agent turn is an item (its worst turns and their criteria). Each critic critiques every item and is
scored by location and flaw accuracy of its most severe ACU, beside a reference row: the best constant critic
(always the items' most common worst turn and criterion). Critics: ``single`` (one critic agent of the first
``--critic_models``, no persona), ``merged`` (the panel of ``--critic_models`` x ``--personas`` merged by the LLM
meta-critic, untrained), ``critic:<folder>`` (a ``workbench train critic`` run) or any model spec (zero-shot). Single
and trained critics decode greedily; the panel samples (``--critique_temperature``), as its agents must differ.
Items and each critic's critiques are stored in the run (``items/``, ``critiques/``), so ``--resume`` scores only
what is missing (a resumed run may name more critics); the table goes to ``summary.md`` and
``plots/critique_benchmark.png``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from agents.multicritique.config import BenchmarkConfig
from workbench.config import resolve_out
from workbench.errors import WorkbenchError
from workbench.runs import Run
from workbench.training.stages import write_jsonl

NAMED = ("single", "merged")
RESUMABLE = ("resume", "progress", "critics")
CONSTANT = "constant (reference)"


def check_critics(critics: Sequence[str]) -> None:
    """Refuse a critic that is neither ``single``/``merged`` nor a loadable spec, before anything runs."""
    from workbench.llm.resolve import check_spec

    if not critics:
        raise WorkbenchError("--critics names no critic")
    for critic in critics:
        if critic not in NAMED:
            check_spec(critic)


def slug(critic: str) -> str:
    return re.sub(r"[^\w.-]+", "_", critic).strip("_")[:80]


def run_benchmark(config: BenchmarkConfig) -> tuple[Run, str]:
    from agents.multicritique.train import critique_env_names

    names = critique_env_names(config)
    check_critics(config.critics)
    config.out = resolve_out(config.out, config.resume, "critique")
    with Run.open(config.out, dict(vars(config)), resume=config.resume, resumable_changes=RESUMABLE) as run:
        items = {name: benchmark_items(run, config, name) for name in names}
        rows: dict[str, dict[str, Any]] = {CONSTANT: {}}
        for name in names:
            rows[CONSTANT] |= constant_baseline(name, items[name])
        for critic in config.critics:
            rows[critic] = {}
            for name in names:
                scores = score(run, config, critic, name, items[name])
                rows[critic] |= {f"{name} location": scores["location accuracy"],
                                 f"{name} flaw": scores["flaw accuracy"], f"{name} no ACU": scores["no ACU"]}
        text = report(run, names, items, rows)
        run.write_summary(text)
    return run, text


def constant_baseline(name: str, items: Sequence[Any]) -> dict[str, float]:
    """The reference row: a critic that always names the items' most common worst turn and criterion (read off the
    items themselves, so the best any constant critic can do)."""
    from collections import Counter

    turn = Counter(t for i in items for t in i.worst).most_common(1)
    criterion = Counter(c for i in items for c in set(i.worst.values())).most_common(1)
    n = max(len(items), 1)
    return {f"{name} location": sum(turn[0][0] in i.worst for i in items) / n if turn else 0.0,
            f"{name} flaw": sum(criterion[0][0] in i.worst.values() for i in items) / n if criterion else 0.0,
            f"{name} no ACU": 0.0}


def benchmark_items(run: Run, config: BenchmarkConfig, name: str) -> list[Any]:
    """The environment's labelled held-out dialogues, played once and stored in ``items/<env>.jsonl``."""
    from agents.multicritique.data import selfplay
    from workbench.critique.labels import label
    from workbench.episodes import load_episodes, save_episodes
    from workbench.registry import env_class
    from workbench.splits import split_cases

    cls = env_class(name)
    path = run.path / "items" / f"{name}.jsonl"
    if path.is_file():
        episodes = load_episodes(path)
    else:
        cases = split_cases(cls.cases(), "heldout", config.heldout)[: config.cases]
        if not cases:
            raise WorkbenchError(f"{name}: no held-out cases")
        episodes, _ = selfplay(cls, cases, config.policy, n=len(cases), seed=config.seed,
                               batch_size=config.batch_size, progress=config.progress)
        save_episodes(episodes, path)
    return [i for i in (label(e, cls.agent_role) for e in episodes) if i is not None]


def critiques_of(config: BenchmarkConfig, critic: str, name: str, items: Sequence[Any]) -> list[Any]:
    """The critic's critique of each item (module docstring)."""
    from agents.multicritique.panel import CriticPanel, LLMMetaCritic
    from agents.multicritique.train import load
    from workbench.critique.merge import merge_critiques
    from workbench.registry import env_class

    cls = env_class(name)
    dialogues = [i.episode.turns for i in items]
    if critic == "merged":
        models = load(config.critic_models, config.seed)
        panel = CriticPanel(models, config.personas, acus=config.acus, temperature=config.critique_temperature,
                            max_tokens=config.critique_tokens)
        critiques = panel.critique(cls, dialogues, config.progress)
        meta = LLMMetaCritic(load([config.meta_model or config.critic_models[0]], config.seed)[0])
        ratings = meta.rate(cls, dialogues, critiques)
        merged = [merge_critiques(cs, rs, max_acus=config.acus) for cs, rs in zip(critiques, ratings, strict=True)]
        for m, cs in zip(merged, critiques, strict=True):
            m.info |= {"text": "\n".join(c.info["text"] for c in cs), "meta unparsable": meta.unparsable,
                       "meta asked": meta.asked, "panel failed": sum(c.failed for c in cs)}
        return merged
    spec = config.critic_models[0] if critic == "single" else critic
    panel = CriticPanel(load([spec], config.seed), 1, acus=config.acus, temperature=0.0,
                        max_tokens=config.critique_tokens)
    return [cs[0] for cs in panel.critique(cls, dialogues, config.progress)]


def score(run: Run, config: BenchmarkConfig, critic: str, name: str, items: Sequence[Any]) -> dict[str, Any]:
    """The critic's accuracy on the items, its critiques stored once in ``critiques/<critic>-<env>.jsonl``."""
    from workbench.critique.acu import Critique, parse_critique
    from workbench.critique.labels import accuracy
    from workbench.critique.prompts import agent_turn_numbers
    from workbench.registry import env_class

    path = run.path / "critiques" / f"{slug(critic)}-{name}.jsonl"
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        cls = env_class(name)
        names, role = [c.name for c in cls.criteria], cls.agent_role
        critiques: list[Critique] = []
        for item, row in zip(items, rows, strict=True):
            critique = parse_critique(row["critique"], names, len(agent_turn_numbers(item.episode.turns, role)))
            critique.info |= row["info"]
            critiques.append(critique)
    else:
        from workbench.critique.acu import format_critique

        critiques = critiques_of(config, critic, name, items)
        write_jsonl(path, [{"episode": i.episode.id, "critique": format_critique(c), "text": c.info.get("text", ""),
                            "info": {k: v for k, v in c.info.items() if k != "text"}}
                           for i, c in zip(items, critiques, strict=True)])
    result = accuracy(items, critiques)
    run.log_metrics({"event": "critic", "critic": critic, "env": name, **result})
    return result


def report(run: Run, names: Sequence[str], items: dict[str, list[Any]], rows: dict[str, dict[str, Any]]) -> str:
    from workbench.evaluate import format_rows, plot_bars

    panels = [{"title": name, "ylabel": "accuracy", "groups": ["location", "flaw"],
               "bars": {critic: ([r[f"{name} location"], r[f"{name} flaw"]], None) for critic, r in rows.items()}}
              for name in names]
    plot = plot_bars(panels, run.plot_path("critique_benchmark.png"), "Ground-truth critique benchmark")
    counts = ", ".join(f"{name} {len(items[name])}" for name in names)
    return "\n".join(["# Critique benchmark", "", f"Items (held-out dialogues with a harmful agent turn): {counts}.",
                      "",
                      format_rows(rows, "critic"), "",
                      "- location: the most severe ACU points at a worst turn; flaw: its criterion is a worst turn's; "
                      "no ACU: critiques with no usable ACU (scored 0; a fallback)",
                      f"- {CONSTANT}: always the items' most common worst turn and criterion (the best constant critic)",
                      f"- plot: {plot}"])
