"""Tool-use cases of two kinds, chosen by the case source (``--data``):

- ``bfcl`` or ``bfcl:<category>[,<category>...]``: BFCL v4 single-turn items (Patil et al., :mod:`.bfcl`), all five
  categories by default, taken in turn (:func:`interleave`); fields ``kind="bfcl"``, ``item_id``, ``category``,
  ``question``, ``functions``, ``ground_truth`` (None for ``irrelevance``). The case id is ``bfcl:<item id>``.
- ``tasks`` or ``tasks:<difficulty>[,<difficulty>...]`` (the default, also ``None``): generated multi-step tasks over
  the executable tools (:mod:`.tasks`), :data:`N_PER_DIFFICULTY` per difficulty from seed 0, taken in turn; fields
  ``kind="task"``, ``difficulty``, ``request``, ``calls`` (``[{"name", "arguments"}]``), ``answer``, ``facts``.
  The case id is ``task:<task id>``.
- ``all``: both, in turn (one BFCL item, one task, ...).

Every field is plain JSON, so an episode file keeps its case.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.tool_calls import ToolCall

from .bfcl import CATEGORIES, BfclItem, load_items

ENV_NAME = "tool_use"
N_PER_DIFFICULTY = 100
SOURCES = "bfcl, bfcl:<category>[,...], tasks, tasks:<difficulty>[,...] or all"


def default_source() -> Path:
    """Tool-use tasks are generated; there is no default case file (a sentinel path names that)."""
    return Path("<generated tool-use tasks>")


def load_cases(source: str | Path | None = None) -> list[Case]:
    """The cases named by ``source`` (see the module docstring)."""
    if source is None or Path(source) == default_source():
        source = "tasks"
    if str(source) == "all":
        return interleave([load_cases("bfcl"), load_cases("tasks")])
    kind, _, names = str(source).partition(":")
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if kind == "bfcl":
        return interleave([[bfcl_case(item) for item in load_items(category)] for category in (chosen or CATEGORIES)])
    if kind == "tasks":
        from .tasks import DIFFICULTIES, generate_tasks

        return interleave([[task_case(task) for task in generate_tasks(N_PER_DIFFICULTY, difficulty, 0)]
                           for difficulty in (chosen or DIFFICULTIES)])
    raise WorkbenchError(f"unknown tool-use case source {str(source)!r} (expected {SOURCES})")


def interleave(groups: list[list[Case]]) -> list[Case]:
    """The groups' cases in turn (one of each, then the next of each, ...), so that the first ``n`` cases, as
    ``workbench evaluate -n`` plays them, share out evenly across categories or difficulties."""
    return [group[i] for i in range(max(map(len, groups), default=0)) for group in groups if i < len(group)]


def bfcl_case(item: BfclItem) -> Case:
    return Case(id=f"bfcl:{item.id}", env=ENV_NAME,
                fields={"kind": "bfcl", "item_id": item.id, "category": item.category, "question": item.question,
                        "functions": item.functions, "ground_truth": item.ground_truth})


def task_case(task) -> Case:
    """A generated :class:`.tasks.ToolTask` as a case."""
    return Case(id=f"task:{task.id}", env=ENV_NAME,
                fields={"kind": "task", "difficulty": task.difficulty, "request": task.request,
                        "calls": [{"name": c.name, "arguments": dict(c.arguments)} for c in task.calls],
                        "answer": task.answer, "facts": dict(task.facts)})


def case_task(case: Case):
    """The :class:`.tasks.ToolTask` of a task case (for :func:`.tasks.answer_matches`)."""
    from .tasks import ToolTask

    f = case.fields
    return ToolTask(id=case.id.removeprefix("task:"), difficulty=f["difficulty"], request=f["request"],
                    calls=tuple(ToolCall(c["name"], dict(c["arguments"])) for c in f["calls"]),
                    answer=f["answer"], facts=dict(f["facts"]))


def open_case(request: str) -> Case:
    """A person's own request (a chat): the tools of the generated tasks, no ground truth, so no answer is judged
    and only the calls earn rewards; ``kind="open"``, id ``open:<hash of the request>``."""
    digest = hashlib.sha256(request.encode()).hexdigest()[:10]
    return Case(id=f"open:{digest}", env=ENV_NAME, fields={"kind": "open", "difficulty": None, "request": request,
                                                          "calls": [], "answer": None, "facts": {}})


def is_bfcl(case: Case) -> bool:
    return case.fields.get("kind") == "bfcl"
