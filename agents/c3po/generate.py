"""C3PO's synthetic data from one feedback (Stephan et al., ICML 2024, Sec. 3.1 and Fig. 2).

1. Categories where the feedback applies (the ``--scope_hint`` texts, else the writer's proposals and
   the feedback's own condition clause) and near-scope categories (``--near_hint``, else proposals).
2. Candidate prompts: the pool (environment contexts and generic requests) plus prompts the writer
   proposes for each category; the sentence encoder assigns each its scope (``scope.assign_scopes``).
   Proposals (categories and requests) that are empty, too short or repeated are dropped and counted
   in ``stats["dropped"]``.
3. A split by dialogue into training and held-out prompts per scope.
4. Baseline replies y⁻ from the base model (greedy, adapters off) for every prompt.
5. Revised replies y⁺ for the in-scope training prompts: the writer is shown the prompt, y⁻ and the
   feedback. With a checkable rule, the first revision that passes it is kept; when none passes, the
   rule's minimal edit of y⁻ is used instead and counted as ``repaired`` (small writers rarely follow
   the instruction). Without a rule, the first revision that differs from y⁻ is kept.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from agents.c3po.checks import Check, adherence, parse_check, repair
from agents.c3po.config import FeedbackConfig
from agents.c3po.prompts import TOPICS, Prompt, env_prompts, request_prompt, write_requests
from agents.c3po.scope import SCOPES, assign_scopes, condition_of
from agents.c3po.writer import few_shot, respond_batch, write_lines
from workbench.errors import WorkbenchError
from workbench.llm.embedded import SentenceEncoder
from workbench.llm.local import format_transcript
from workbench.progress import Meter
from workbench.runs import atomic_write

log = logging.getLogger(__name__)

SPLITS = tuple(f"{part}_{scope}" for part in ("train", "eval") for scope in SCOPES)

_CATEGORY_SYSTEM = "Name one kind of situation or request where the given feedback applies, in a few words."
_NEAR_SYSTEM = ("Name one kind of situation that is similar to where the given feedback applies, but where the "
                "feedback must NOT be followed, in a few words.")
_CATEGORY_SHOTS = (("Feedback: Avoid slang when writing emails to my boss.", "emails to a manager about work"),)
_NEAR_SHOTS = (("Feedback: Avoid slang when writing emails to my boss.", "emails to close friends"),)
_REQUEST_SYSTEM = "Write one message that a person might send to a helpful assistant in the given situation."
_REQUEST_SHOTS = (("Situation: emails to a manager about work",
                   "Can you help me write an email to my manager asking to move our one-on-one to Friday?"),)
_REVISE_SYSTEM = ("Rewrite the reply so that it follows the feedback. Change only what the feedback asks for and "
                  "write the new reply on one line.")
_REVISE_SHOTS = (("Conversation:\nUser: Can you recommend a film for tonight?\nReply: Sure! Try Inception 🎬\n"
                  "Feedback: Do not use emojis.", "Sure! Try Inception."),)


@dataclass
class Example:
    """One prompt with the base model's reply y⁻ and, for in-scope training prompts, the revision y⁺."""

    prompt: Prompt
    baseline: str = ""
    revised: str = ""
    revision: str = ""
    """How ``revised`` was made: ``writer`` or ``repaired``."""

    def to_row(self) -> dict[str, Any]:
        return {"prompt": self.prompt.to_row(), "baseline": self.baseline, "revised": self.revised,
                "revision": self.revision}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Example:
        return cls(Prompt.from_row(row["prompt"]), row["baseline"], row.get("revised", ""), row.get("revision", ""))


@dataclass
class FeedbackData:
    """Everything generated for one feedback: its rules, scope categories and the six splits."""

    feedback: str
    checks: list[Check]
    categories: list[str]
    near_categories: list[str]
    splits: dict[str, list[Example]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: str | Path) -> None:
        """One JSONL file per split plus ``feedback.json``, each written atomically."""
        folder = Path(folder)
        for name in SPLITS:
            atomic_write(folder / f"{name}.jsonl",
                         "".join(json.dumps(e.to_row()) + "\n" for e in self.splits.get(name, [])))
        meta = {"feedback": self.feedback, "checks": [str(c) for c in self.checks], "categories": self.categories,
                "near_categories": self.near_categories, "stats": self.stats}
        atomic_write(folder / "feedback.json", json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> FeedbackData:
        """Read what ``save`` wrote."""
        folder = Path(folder)
        meta_file = folder / "feedback.json"
        if not meta_file.is_file():
            raise WorkbenchError(f"{folder} holds no feedback data (feedback.json is missing)")
        meta = json.loads(meta_file.read_text())
        splits = {}
        for name in SPLITS:
            file = folder / f"{name}.jsonl"
            rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()] if file.exists() else []
            splits[name] = [Example.from_row(r) for r in rows]
        return cls(meta["feedback"], [parse_check(c) for c in meta["checks"]], meta["categories"],
                   meta["near_categories"], splits, meta.get("stats", {}))


def prompt_pool(writer: Any, envs: Sequence[str], cache: Path | None) -> tuple[list[Prompt], int]:
    """The environments' contexts plus the writer's generic requests (kept in ``cache``, which the next
    feedback with the same writer reads instead of asking it again), and how many requests the writer's
    answers dropped (0 from the cache)."""
    dropped = 0
    if cache and cache.is_file():
        generic = [Prompt.from_row(json.loads(line)) for line in cache.read_text().splitlines() if line.strip()]
    else:
        generic, dropped = write_requests(writer, TOPICS, 2, prefix="generic:")
        if cache:
            atomic_write(cache, "".join(json.dumps(p.to_row()) + "\n" for p in generic))
    return env_prompts(envs) + generic, dropped


def scope_descriptions(writer: Any, feedback: str, config: FeedbackConfig) -> tuple[list[str], list[str], int]:
    """(in-scope, near-scope) category texts: the hints where given, else the writer's proposals (the
    in-scope ones with the feedback's condition clause); and how many proposals were dropped."""
    asks = [f"Feedback: {feedback}"]
    dropped = 0
    if config.scope_hint:
        categories = list(config.scope_hint)
    else:
        (categories,), dropped = write_lines(writer, _CATEGORY_SYSTEM, _CATEGORY_SHOTS, asks, config.categories)
        if condition := condition_of(feedback):
            categories.insert(0, condition)
    if config.near_hint:
        near = list(config.near_hint)
    else:
        (near,), dropped_near = write_lines(writer, _NEAR_SYSTEM, _NEAR_SHOTS, asks, config.categories)
        dropped += dropped_near
    if not categories:
        raise WorkbenchError("could not tell where the feedback applies: give --scope_hint (the writer proposed "
                             "no usable category)")
    return categories, near, dropped


def written_prompts(writer: Any, categories: Sequence[str], per_category: int,
                    prefix: str) -> tuple[list[Prompt], int]:
    """Requests the writer proposes for each category (ids ``<prefix><category>-<n>``), and how many of its
    answers were dropped (empty, too short or repeated)."""
    written, dropped = write_lines(writer, _REQUEST_SYSTEM, _REQUEST_SHOTS, [f"Situation: {c}" for c in categories],
                                   per_category, min_words=4)
    return [request_prompt(line, f"{prefix}{i}-{j}", "generated") for i, lines in enumerate(written)
            for j, line in enumerate(lines)], dropped


def split_by_group(prompts: Sequence[Prompt], n_train: int, n_eval: int, rng: random.Random) -> tuple[list, list]:
    """Held-out prompts come from dialogues (groups) none of whose prompts are trained on."""
    groups: dict[str, list[Prompt]] = {}
    for p in prompts:
        groups.setdefault(p.group or p.id, []).append(p)
    keys = sorted(groups)
    rng.shuffle(keys)
    held, train = [], []
    for key in keys:
        (held if len(held) < n_eval else train).extend(groups[key])
    rng.shuffle(train)
    return train[:n_train], held[:n_eval]


def baselines(model: Any, prompts: Sequence[Prompt], max_tokens: int, note: str | None = None,
              **options: Any) -> list[str]:
    """Greedy replies of ``model`` (a ``system`` ``note`` gives in-context feedback)."""
    return respond_batch(model, [p.chat(note) for p in prompts], [p.speaker for p in prompts], temperature=0.0,
                         max_tokens=max_tokens, **options)


def revise(writer: Any, feedback: str, checks: list[Check], examples: list[Example], k: int,
           max_tokens: int) -> dict[str, int]:
    """Fill ``revised`` for each example (see the module docstring); returns how many came from where."""
    asks = []
    for e in examples:
        dialogue = [m for m in e.prompt.chat() if m.type != "system"]
        transcript = format_transcript(dialogue, assistant_label=e.prompt.speaker)[0].rsplit("\n", 1)[0]
        asks.append(f"Conversation:\n{transcript}\nReply: {e.baseline}\nFeedback: {feedback}")
    jobs = [few_shot(_REVISE_SYSTEM, _REVISE_SHOTS, ask) for ask in asks for _ in range(k)]
    outputs = respond_batch(writer, jobs, "Writer", temperature=0.8, max_tokens=max_tokens)
    counts = {"writer": 0, "repaired": 0, "dropped": 0}
    for i, e in enumerate(examples):
        candidates = [c for c in outputs[i * k:(i + 1) * k] if c and c != e.baseline]
        good = [c for c in candidates if adherence(checks, c)] if checks else candidates
        if good:
            e.revised, e.revision = good[0], "writer"
        elif checks and (fixed := repair(checks, e.baseline)) and fixed != e.baseline:
            e.revised, e.revision = fixed, "repaired"
        else:
            e.revision = "dropped"
        counts[e.revision] += 1
    if counts["repaired"]:
        log.warning("%d of %d revisions did not follow the feedback; the rule's edit of the baseline was used",
                    counts["repaired"], len(examples))
    return counts


def build_data(feedback: str, checks: list[Check], config: FeedbackConfig, *, writer: Any, model: Any,
               encoder: Any = None, pool_cache: Path | None = None) -> FeedbackData:
    """The whole data pipeline for one feedback (module docstring), held in memory; ``save`` writes it.
    ``encoder`` (anything with ``encode(texts)`` giving unit vectors) defaults to ``config.encoder``."""
    from workbench.registry import env_names

    rng = random.Random(config.seed)
    proposals = (0 if config.scope_hint else config.categories) + (0 if config.near_hint else config.categories)
    pool = 0 if pool_cache and pool_cache.is_file() else 2 * len(TOPICS)
    # at most: the condition clause and every proposal kept, every scope filled, every revision asked for
    scopes = len(config.scope_hint) if config.scope_hint else config.categories + 1
    scopes += len(config.near_hint) if config.near_hint else config.categories
    replies = len(SCOPES) * (config.train_prompts + config.eval_prompts) + config.train_prompts * config.revisions
    planned = proposals + pool + scopes * config.written_prompts + replies
    with Meter(planned, desc="feedback data", unit="call") as meter:
        meter.describe("categories")
        with meter.calls(proposals):
            categories, near, dropped_categories = scope_descriptions(writer, feedback, config)
        written_calls = (len(categories) + len(near)) * config.written_prompts
        meter.plan(meter.done + pool + written_calls + replies)
        meter.describe("prompt pool")
        with meter.calls(pool):
            candidates, dropped_requests = prompt_pool(writer, config.envs or env_names(), pool_cache)
        meter.describe("written prompts")
        with meter.calls(written_calls):
            for texts, prefix in ((categories, "in:"), (near, "near:")):
                written, dropped = written_prompts(writer, texts, config.written_prompts, prefix)
                candidates, dropped_requests = candidates + written, dropped_requests + dropped
        meter.describe("scopes")
        counts = assign_scopes(candidates, encoder or SentenceEncoder(config.encoder), categories, near,
                               threshold_in=config.threshold_in, threshold_out=config.threshold_out)
        data = FeedbackData(feedback, checks, categories, near, stats={
            "candidates": dict(counts), "dropped": {"categories": dropped_categories, "requests": dropped_requests}})
        for scope in SCOPES:
            chosen = [p for p in candidates if p.scope == scope]
            train, held = split_by_group(chosen, config.train_prompts, config.eval_prompts, rng)
            data.splits[f"train_{scope}"] = [Example(p) for p in train]
            data.splits[f"eval_{scope}"] = [Example(p) for p in held]
        if not data.splits["train_in"] or not data.splits["eval_in"]:
            raise WorkbenchError(
                f"{counts.get('in', 0)} in-scope prompts were found, {len(data.splits['train_in'])} for training and "
                f"{len(data.splits['eval_in'])} held out (held-out prompts come from other dialogues than training "
                "ones): give --scope_hint texts that describe where the feedback applies, or lower --threshold_in")
        every = [e for name in SPLITS for e in data.splits[name]]
        revisions = len(data.splits["train_in"]) * config.revisions
        meter.plan(meter.done + len(every) + revisions)
        meter.describe("baselines")
        with meter.calls(len(every)):
            for e, reply in zip(every, baselines(model, [e.prompt for e in every], config.max_new_tokens,
                                                 adapter=None)):
                e.baseline = reply
        meter.describe("revisions")
        with meter.calls(revisions):
            data.stats["revisions"] = revise(writer, feedback, checks, data.splits["train_in"], config.revisions,
                                             config.max_new_tokens)
        meter.describe("done")
    data.splits["train_in"] = [e for e in data.splits["train_in"] if e.revised]
    if not data.splits["train_in"]:
        raise WorkbenchError("no revision of the in-scope replies followed the feedback (and the rule could not "
                             "repair them): give a stronger --writer, or a --check the replies can be edited to")
    data.stats["sizes"] = {name: len(data.splits[name]) for name in SPLITS}
    if checks:
        data.stats["baseline_adherence_train_in"] = round(
            sum(adherence(checks, e.baseline) for e in data.splits["train_in"]) / max(1, len(data.splits["train_in"])),
            4)
    return data

