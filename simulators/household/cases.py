"""Household cases: TEACh task instances to play, and TEACh game transcripts to learn the Driver's moves from.

A playable case is one task instance (:mod:`.tasks`): a task definition's name, its parameters, the goal
sentence and the seed of its scene (:func:`.world.generate_scene`). Cases are generated deterministically over
every task definition (``load_cases(None)``) or read from a JSONL file with ``task``, ``params`` and
``scene_seed``; a malformed row stops the load with ``file:line``. A ``.json`` file of TEACh games
(:mod:`.games`) loads as transcript cases (``fields["game"]``): the planner's supervised data, not playable.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

from workbench.data import read_jsonl, require
from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

ENV_NAME = "household"
N_GENERATED = 300


def games_file() -> Path:
    """The shared TEACh games (Philipov et al. 2024's turn-level parse of TEACh's valid_seen split)."""
    return data_dir() / "teach" / "dialogues" / "valid_seen_turn.dev.json"


def default_source() -> Path:
    """Household cases are generated; there is no default case file (a sentinel path names that)."""
    return Path("<generated household tasks>")


@lru_cache(maxsize=1)
def _definitions():
    from .definitions import load_definitions

    return load_definitions()


def generate_cases(n: int = N_GENERATED, seed: int = 0) -> list[Case]:
    """``n`` task instances cycling over every task definition, parameters and scene seeds drawn from ``seed``."""
    from .tasks import instances

    rng = random.Random(seed)
    return [instance_case(inst, rng.randrange(2**31), f"household:{seed}:{i}")
            for i, inst in enumerate(instances(_definitions(), n, seed))]


def instance_case(instance, scene_seed: int, case_id: str) -> Case:
    return Case(id=case_id, env=ENV_NAME, fields={"task": instance.name, "params": list(instance.params),
                                                  "room": instance.room, "goal": instance.description,
                                                  "scene_seed": scene_seed})


def task_instance(case: Case):
    """The case's task instance (its definition with the case's parameters)."""
    from .tasks import instantiate

    if "task" not in case.fields:
        raise WorkbenchError(f"case {case.id} is a TEACh game transcript, not a task to play")
    definitions = _definitions()
    if case.fields["task"] not in definitions:
        raise WorkbenchError(f"case {case.id}: unknown task {case.fields['task']!r} "
                             f"(known: {', '.join(sorted(definitions))})")
    return instantiate(definitions, case.fields["task"], list(case.fields.get("params", [])), case.fields.get("room"))


_FIELDS = {"task": str, "params": list, "scene_seed": int}


def load_cases(source: str | Path | None = None) -> list[Case]:
    """Generated cases (``source`` None), task instances from JSONL, or TEACh games from a ``.json`` games file."""
    if source is None or Path(source) == default_source():
        return generate_cases()
    path = Path(source)
    if path.suffix == ".json":
        from .games import load_games

        return [Case(id=f"teach:{g.id}", env=ENV_NAME, fields={"goal": g.goal, "game": g}) for g in load_games(path)]
    cases = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        require(row, _FIELDS, where)
        case = Case(id=str(row.get("id", f"household:{path.stem}:{line}")), env=ENV_NAME,
                    fields={"task": row["task"], "params": row["params"], "scene_seed": row["scene_seed"],
                            **({"room": row["room"]} if isinstance(row.get("room"), str) else {})})
        try:
            instance = task_instance(case)
        except WorkbenchError as error:
            raise WorkbenchError(f"{where}: {error}") from None
        case.fields.update(goal=instance.description, room=instance.room)
        cases.append(case)
    if not cases:
        raise WorkbenchError(f"{path}: no cases")
    return cases
