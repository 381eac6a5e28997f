"""HotpotQA cases (Yang et al., EMNLP 2018), distractor setting: ``../shared/data/hotpotqa/hotpot-distractor-dev.jsonl``
by default (the 60 "hard" questions Reflexion and Retroformer evaluate on), or any file of the same format
(``--data``): one JSON object a line, ``{"id", "question", "answer", "context": {"title": [...], "sentences":
[[...], ...]}}`` and optionally ``type``, ``level`` and ``supporting_facts``. A malformed line stops the load with
its file and line number.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data import read_jsonl, require
from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

ENV_NAME = "hotpotqa"


def default_source() -> Path:
    return data_dir() / "hotpotqa" / "hotpot-distractor-dev.jsonl"


def load_cases(source: str | Path | None = None) -> list[Case]:
    path = Path(source) if source is not None else default_source()
    cases = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        require(row, {"id": str, "question": str, "answer": str, "context": dict}, where)
        context = row["context"]
        require(context, {"title": list, "sentences": list}, f"{where} (context)")
        titles, sentences = context["title"], context["sentences"]
        if len(titles) != len(sentences) or not titles:
            raise WorkbenchError(f"{where}: context has {len(titles)} titles and {len(sentences)} paragraphs")
        if not all(isinstance(t, str) for t in titles) or not all(
                isinstance(p, list) and all(isinstance(s, str) for s in p) for p in sentences):
            raise WorkbenchError(f"{where}: context titles must be strings and paragraphs lists of strings")
        cases.append(Case(id=f"hotpotqa:{row['id']}", env=ENV_NAME, fields={
            "question": row["question"], "answer": row["answer"], "type": row.get("type", ""),
            "level": row.get("level", ""), "titles": titles, "sentences": sentences,
            "supporting_facts": row.get("supporting_facts", {})}))
    if not cases:
        raise WorkbenchError(f"{path}: no questions")
    return cases
