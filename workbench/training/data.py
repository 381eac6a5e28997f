"""Training data for every method: episodes converted to TRL's formats, or a TRL-format dataset.

A data path is read as *episodes* when it is a run directory (``<dir>/episodes``), or an episode
file or folder (rows carry ``schema_version``); anything else is loaded as an HF dataset (a
``.jsonl``/``.json``/``.parquet``/``.csv`` file, a folder of them, or a ``save_to_disk`` folder)
that must already have the method's columns. Conversational rows are rendered for base models as
"Role: text" transcripts (standard-format TRL rows), and SFT dialogues are tokenized here so that
only the agent's turns carry loss, with either format (``workbench.training.masking``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

from workbench.episodes import Episode, load_episodes, to_unpaired
from workbench.errors import WorkbenchError
from workbench.evaluate import fallback_rates
from workbench.training.episodic import dialogue_messages
from workbench.training.masking import tokenize_dialogue, transcript_prompt, transcript_reply

COLUMNS = {"dialogue": [("messages",), ("text",), ("prompt", "completion")],
           "preference": [("chosen", "rejected")],
           "unpaired": [("prompt", "completion", "label")],
           "prompt": [("prompt",)]}
"""Column sets that make a row of each format (any one of them)."""

log = logging.getLogger(__name__)

FILTERS = ("all", "success")
_SUFFIXES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def episode_source(path: Path) -> Path | None:
    """The episode file or folder behind ``path``, or None when it holds a plain dataset."""
    if (path / "episodes").is_dir():
        return path / "episodes"
    files = sorted(p for p in path.iterdir() if p.suffix in {".jsonl", ".parquet"}) if path.is_dir() else [path]
    if not files or files[0].suffix != ".jsonl":
        return path if files and _parquet_has_schema(files[0]) else None
    with open(files[0], encoding="utf-8") as f:
        first = f.readline()
    try:
        return path if "schema_version" in json.loads(first) else None
    except (json.JSONDecodeError, TypeError):
        return None


def _parquet_has_schema(path: Path) -> bool:
    import pyarrow.parquet as pq

    return "schema_version" in pq.read_schema(path).names


def load_table(path: Path):
    """An HF dataset from a data file, a folder of data files or a ``save_to_disk`` folder."""
    from datasets import load_dataset, load_from_disk

    if path.is_dir() and (path / "dataset_info.json").is_file():
        return load_from_disk(str(path))
    files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES) if path.is_dir() else [path]
    if not files or any(p.suffix not in _SUFFIXES for p in files):
        raise WorkbenchError(f"{path}: expected a dataset file ({', '.join(_SUFFIXES)}), a folder of them, "
                             "a save_to_disk folder or a run directory")
    kinds = {_SUFFIXES[p.suffix] for p in files}
    if len(kinds) > 1:
        raise WorkbenchError(f"{path}: mixes data file types ({', '.join(sorted(kinds))})")
    try:
        return load_dataset(kinds.pop(), data_files=[str(p) for p in files], split="train")
    except Exception as err:  # datasets raises many types for malformed files
        raise WorkbenchError(f"{path}: could not read as a dataset ({' '.join(str(err).split())[:200]})") from None


def check_columns(columns: Sequence[str], kind: str, where: str) -> None:
    if not any(set(option) <= set(columns) for option in COLUMNS[kind]):
        wanted = " or ".join("/".join(option) for option in COLUMNS[kind])
        raise WorkbenchError(f"{where}: a {kind} dataset needs columns {wanted}; it has {', '.join(columns)}")


def episode_rows(episodes: Sequence[Episode], kind: str, agent_role: str, *, system: str | None = None,
                 episode_filter: str = "all", pairs: str = "return", min_margin: float = 0.0,
                 keep_fallbacks: bool = False) -> list[dict[str, Any]]:
    """Episodes as rows of ``kind``: dialogues (SFT), preference pairs, unpaired labels (KTO, by
    success) or prompts (every dialogue state before an agent turn).

    An agent turn marked ``info["fallback"]`` (template text that stood in for an empty model reply) is
    left out unless ``keep_fallbacks``: in a dialogue it stays as context but carries no loss (the row's
    ``trainable`` flags, one per agent message; a dialogue with no other agent turn is dropped), and it
    is never a chosen, rejected or KTO completion. How many turns were left out is logged."""
    from workbench.training.preferences import preference_pairs

    if episode_filter not in FILTERS:
        raise WorkbenchError(f"unknown episode_filter {episode_filter!r} (use {', '.join(FILTERS)})")
    if kind == "preference":
        return preference_pairs(episodes, agent_role, by=pairs, min_margin=min_margin, system=system,
                                keep_fallbacks=keep_fallbacks)
    if kind in ("dialogue", "unpaired"):
        kept = [e for e in episodes if kind == "unpaired" or episode_filter == "all" or e.success]
        rows, left_out = [], 0
        for e in kept:
            trainable = [keep_fallbacks or "fallback" not in t.info for t in e.turns if t.role == agent_role]
            left_out += trainable.count(False)
            if kind == "unpaired":
                rows += [row for row, keep in zip(to_unpaired(e, agent_role, system), trainable) if keep]
            elif any(trainable):
                rows.append({"messages": dialogue_messages(e.turns, agent_role, system), "trainable": trainable})
        if left_out:
            log.warning("%s rows: left out %d agent turns marked as fallbacks (keep them with keep_fallbacks)",
                        kind, left_out)
        return rows
    return [{"prompt": dialogue_messages(e.turns[:i], agent_role, system)}
            for e in episodes for i, t in enumerate(e.turns) if t.role == agent_role and i > 0]


def _render(value: Any, labels: dict[str, str], prompt: bool) -> Any:
    """A conversational prompt or completion as transcript text (standard TRL format)."""
    if not isinstance(value, list):
        return value
    if prompt:
        return transcript_prompt(value, labels)
    return "".join(transcript_reply(m["content"]) for m in value)


def prepare(rows: Any, kind: str, tokenizer: Any, *, chat: bool, labels: dict[str, str], where: str):
    """Rows (a list or a dataset) in the form the TRL trainer takes: SFT dialogues tokenized with the
    agent-only loss mask; other conversational rows rendered as transcripts for base models."""
    from datasets import Dataset

    dataset = rows if isinstance(rows, Dataset) else Dataset.from_list(list(rows))
    if len(dataset) == 0:
        raise WorkbenchError(f"{where}: no {kind} rows to train on")
    check_columns(dataset.column_names, kind, where)
    if kind == "dialogue" and "messages" in dataset.column_names:
        def encode(row: dict[str, Any]) -> dict[str, Any]:
            return tokenize_dialogue(row["messages"], tokenizer, chat=chat, labels=labels,
                                     trainable=row.get("trainable"))

        return dataset.map(encode, remove_columns=dataset.column_names, desc="tokenizing dialogues")
    if chat:
        return dataset
    columns = [c for c in ("prompt", "chosen", "rejected", "completion") if c in dataset.column_names]

    def render(row: dict[str, Any]) -> dict[str, Any]:
        return {c: _render(row[c], labels, c == "prompt") for c in columns}

    return dataset.map(render, desc="rendering transcripts")


def load_rows(path: str, kind: str, *, agent_role: str | None, keep_fallbacks: bool = False,
              **options: Any) -> tuple[Any, str | None, dict[str, float]]:
    """``(rows, env name, fallback rates)``: episodes converted to ``kind`` rows (``keep_fallbacks`` and
    ``options``: see :func:`episode_rows`) with the episodes' fallback rates
    (``workbench.evaluate.fallback_rates``), or the TRL dataset as it is (no env, no rates)."""
    source = Path(path)
    if not source.exists():
        raise WorkbenchError(f"no data at {source}")
    episodes_path = episode_source(source)
    if episodes_path is None:
        return load_table(source), None, {}
    episodes = load_episodes(episodes_path)
    if not episodes:
        raise WorkbenchError(f"{source}: no episodes")
    envs = sorted({e.env for e in episodes})
    if len(envs) > 1:
        raise WorkbenchError(f"{source}: episodes of several environments ({', '.join(envs)}); train on one")
    from workbench.registry import env_class

    role = agent_role or env_class(envs[0]).agent_role
    rows = episode_rows(episodes, kind, role, keep_fallbacks=keep_fallbacks, **options)
    return rows, envs[0], fallback_rates(episodes)
