"""TEACh task definitions (Padmakumar et al., AAAI 2022): loading and validation.

A definition has components (objects that must satisfy conditions, or nested tasks that must
be done some number of times) and relations between them (``parentReceptacles``).  Parameters
``#k`` are substituted when a task is instantiated (``tasks.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.data import read_json
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

PARAM = re.compile(r"#(\d+)")


@dataclass(frozen=True)
class Component:
    """One component: ``conditions`` on objects, or a nested ``task_name`` with ``task_params``."""

    key: str
    determiner: str
    task_name: str | None = None
    task_params: tuple[str, ...] = ()
    primary_condition: str | None = None
    instance_shareable: bool = False
    conditions: tuple[tuple[str, Any], ...] = ()
    failure_descs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Relation:
    """``property`` (parentReceptacles) must hold between every head entity and a tail entity."""

    property: str
    tail_entities: tuple[str, ...]
    tail_determiners: tuple[str, ...]
    head_entities: tuple[str, ...]
    head_determiners: tuple[str, ...]
    failure_desc: str


@dataclass(frozen=True)
class TaskDefinition:
    """One TEACh task definition file."""

    task_id: int
    task_name: str
    nparams: int
    anchor: str | None
    desc: str
    components: tuple[Component, ...]
    relations: tuple[Relation, ...]
    path: str


def default_folder() -> Path:
    return data_dir() / "teach" / "task_definitions"


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of ``needle`` (1 when absent)."""
    pos = text.find(needle)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1


def _key_line(text: str, key: str) -> int:
    """Line of the JSON key ``"key":`` (else of the first ``"key"``)."""
    return _line_of(text, f'"{key}":') if f'"{key}":' in text else _line_of(text, f'"{key}"')


def _need(obj: dict, key: str, path: Path, text: str, where: str) -> Any:
    if key not in obj:
        line = _key_line(text, where) if where else 1
        name = "a relation" if where == "relations" else f"component {where!r}" if where else "definition"
        raise WorkbenchError(f"{path}:{line}: {name} is missing key {key!r}")
    return obj[key]


def _check_params(value: Any, nparams: int, path: Path, text: str) -> None:
    """Every ``#k`` inside strings of ``value`` must have k < nparams."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_params(k, nparams, path, text)
            _check_params(v, nparams, path, text)
    elif isinstance(value, list):
        for v in value:
            _check_params(v, nparams, path, text)
    elif isinstance(value, str):
        for m in PARAM.finditer(value):
            if int(m.group(1)) >= nparams:
                raise WorkbenchError(f"{path}:{_line_of(text, json.dumps(value))}: parameter "
                                     f"#{m.group(1)} but task_nparams is {nparams}")


def parse_definition(path: Path) -> TaskDefinition:
    """Read and validate one definition file (nested task names are checked by ``load_definitions``)."""
    raw, text = read_json(path, "task definition")
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{path}:1: a task definition must be a JSON object")
    for key in ("task_id", "task_name", "task_nparams", "desc", "components", "relations"):
        _need(raw, key, path, text, "")
    nparams = raw["task_nparams"]
    if not isinstance(nparams, int) or nparams < 0:
        raise WorkbenchError(f"{path}:{_key_line(text, 'task_nparams')}: task_nparams must be a count")
    _check_params({k: v for k, v in raw.items() if k != "comments_task_params"}, nparams, path, text)
    components = []
    for key, comp in raw["components"].items():
        if not isinstance(comp, dict):
            raise WorkbenchError(f"{path}:{_key_line(text, key)}: component {key!r} must be an object")
        determiner = str(_need(comp, "determiner", path, text, key))
        if "task_name" in comp:
            components.append(Component(key, determiner, task_name=comp["task_name"],
                                        task_params=tuple(str(p) for p in _need(comp, "task_params", path, text, key))))
            continue
        primary = _need(comp, "primary_condition", path, text, key)
        conditions = _need(comp, "conditions", path, text, key)
        if primary not in conditions:
            raise WorkbenchError(f"{path}:{_key_line(text, key)}: primary condition {primary!r} "
                                 f"of component {key!r} is not among its conditions")
        components.append(Component(
            key, determiner, primary_condition=primary,
            instance_shareable=bool(_need(comp, "instance_shareable", path, text, key)),
            conditions=tuple(conditions.items()),
            failure_descs=tuple(comp.get("condition_failure_descs", {}).items())))
    keys = {c.key for c in components}
    relations = []
    for rel in raw["relations"]:
        fields = [_need(rel, k, path, text, "relations") for k in (
            "property", "tail_entity_list", "tail_determiner_list", "head_entity_list",
            "head_determiner_list", "failure_desc")]
        for entity in fields[1] + fields[3]:
            if entity not in keys:
                raise WorkbenchError(f"{path}:{_key_line(text, 'relations')}: relation names "
                                     f"unknown component {entity!r}")
        relations.append(Relation(fields[0], tuple(fields[1]), tuple(map(str, fields[2])),
                                  tuple(fields[3]), tuple(map(str, fields[4])), fields[5]))
    anchor = raw.get("task_anchor_object")
    return TaskDefinition(int(raw["task_id"]), str(raw["task_name"]), nparams, anchor, str(raw["desc"]),
                          tuple(components), tuple(relations), str(path))


def load_definitions(folder: Path | None = None) -> dict[str, TaskDefinition]:
    """All ``*.json`` definitions in ``folder`` (default: the TEACh data), keyed by task_name.

    The TEACh release has 25 definition files (the dataset card says 26, counting ``__init__.py``).
    """
    folder = Path(folder) if folder is not None else default_folder()
    files = sorted(folder.glob("*.json"))
    if not files:
        raise WorkbenchError(f"{folder}: no task definition files (*.json)")
    defs: dict[str, TaskDefinition] = {}
    for path in files:
        d = parse_definition(path)
        if d.task_name in defs:
            raise WorkbenchError(f"{path}:{_key_line(path.read_text(encoding='utf-8'), 'task_name')}: "
                                 f"task_name {d.task_name!r} is also defined in {defs[d.task_name].path}")
        defs[d.task_name] = d
    for d in defs.values():
        text = Path(d.path).read_text(encoding="utf-8")
        for c in d.components:
            if c.task_name is None:
                continue
            line = _line_of(text, f'"task_name": "{c.task_name}"')
            if c.task_name not in defs:
                raise WorkbenchError(f"{d.path}:{line}: component {c.key!r} names unknown task {c.task_name!r}")
            if len(c.task_params) != defs[c.task_name].nparams:
                raise WorkbenchError(f"{d.path}:{line}: task {c.task_name!r} takes "
                                     f"{defs[c.task_name].nparams} parameters, got {len(c.task_params)}")
    return defs
