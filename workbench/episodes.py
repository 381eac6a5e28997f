"""Episode schema, storage as HF datasets (parquet / JSONL), and conversion to TRL formats.

An episode file holds one row per episode (:meth:`Episode.to_row`). In JSON lines (``episodes.jsonl``)
every field is plain JSON, free-form dictionaries (``Case.fields``, ``Turn.info``, ``Episode.outcome``,
``Episode.provenance``...) included, so ``jq '.outcome'`` or ``pandas.read_json(..., lines=True)`` read
them as objects. Arrow (parquet, :func:`to_dataset`) needs one schema for every environment, so there
those dictionaries are JSON text (:meth:`Episode.to_arrow_row`). ``SCHEMA_VERSION`` is written into every
row and checked on load; version 1 rows (free-form dictionaries as JSON text in JSON lines too) still load.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from workbench.data import read_jsonl
from workbench.errors import WorkbenchError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: free-form dictionaries as JSON text in JSON lines as well


@dataclass
class Case:
    """One scenario. ``fields`` is the source row; ``hidden`` what only the simulator may know."""

    id: str
    env: str
    fields: dict[str, Any]
    hidden: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One utterance. ``info`` keys the workbench reads: ``verdict`` (on a user turn: the critic's verdict,
    with ``samples``/``parsed``/``unparsable`` from an LLM critic and ``dropped_votes`` where the environment
    drops votes), ``generated`` (a chat model spoke it), ``fallback`` (its text stands in for an empty model
    reply: what was replaced by what; data builders leave it out), ``plan_generated`` / ``plan_fallback``
    (the agent's model picked its strategy / that pick did not parse and a random one was played)."""

    role: str
    text: str
    strategy: str | None = None
    reward: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Episode:
    id: str
    env: str
    case: Case
    turns: list[Turn]
    outcome: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return bool(self.outcome.get("success", False))

    @property
    def total_reward(self) -> float:
        """The episode's return: the undiscounted sum of its turns' rewards (a turn without one counts 0)."""
        return self.return_from(0)

    def return_from(self, index: int) -> float:
        """The undiscounted return from turn ``index`` on (the rewards of ``turns[index:]``)."""
        return float(sum(t.reward or 0.0 for t in self.turns[index:]))

    # -- rows ------------------------------------------------------------------------------
    def to_row(self) -> dict[str, Any]:
        """The episode as one JSON-ready row (a line of ``episodes.jsonl``), nested objects throughout, with
        the derived ``success``, ``num_turns`` and ``total_reward`` for tools that read the file directly."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self), "success": self.success,
                "num_turns": len(self.turns), "total_reward": self.total_reward}

    def to_arrow_row(self) -> dict[str, Any]:
        """:meth:`to_row` with the free-form dictionaries (the case's ``fields`` and ``hidden``, each turn's
        ``info``, ``outcome``, ``provenance``) as JSON text: one Arrow schema for every environment."""
        row = self.to_row()
        row["case"] = {**row["case"], "fields": json.dumps(self.case.fields), "hidden": json.dumps(self.case.hidden)}
        row["turns"] = [{**t, "info": json.dumps(t["info"])} for t in row["turns"]]
        row["outcome"], row["provenance"] = json.dumps(self.outcome), json.dumps(self.provenance)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Episode":
        """The episode of a row from :meth:`to_row`, :meth:`to_arrow_row` or an older schema version."""
        version = row.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise WorkbenchError(f"episode {row.get('id')!r} has schema version {version}, expected "
                                 f"{' or '.join(map(str, READABLE_VERSIONS))}")
        case = _object(row["case"], "case")
        return cls(
            id=row["id"], env=row["env"],
            case=Case(id=case["id"], env=case["env"], fields=_object(case["fields"], "case fields"),
                      hidden=_object(case.get("hidden", {}), "case hidden")),
            turns=[Turn(role=t["role"], text=t["text"], strategy=t.get("strategy"), reward=t.get("reward"),
                        info=_object(t.get("info", {}), "turn info")) for t in row["turns"]],
            outcome=_object(row["outcome"], "outcome"), provenance=_object(row["provenance"], "provenance"),
        )


def _object(value: Any, what: str) -> dict[str, Any]:
    """A free-form dictionary of a row: a JSON object, or JSON text of one (Arrow rows, schema version 1)."""
    decoded = json.loads(value) if isinstance(value, str) else value
    if not isinstance(decoded, dict):
        raise WorkbenchError(f"{what} is not a JSON object")
    return decoded


# -- storage -----------------------------------------------------------------------------
def to_dataset(episodes: Sequence[Episode]):
    """Episodes as a ``datasets.Dataset``, one :meth:`Episode.to_arrow_row` per episode (free-form
    dictionaries as JSON text; :meth:`Episode.from_row` reads its rows back)."""
    from datasets import Dataset

    return Dataset.from_list([e.to_arrow_row() for e in episodes])


def save_episodes(episodes: Sequence[Episode], path: str | Path) -> Path:
    """Write episodes to ``.parquet`` or ``.jsonl`` atomically (write, then rename)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".jsonl"}:
        raise WorkbenchError(f"{path}: episode files end in .parquet or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".parquet":
        to_dataset(episodes).to_parquet(str(tmp))
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            for e in episodes:
                f.write(json.dumps(e.to_row()) + "\n")
    os.replace(tmp, path)
    return path


def load_episodes(path: str | Path) -> list[Episode]:
    """Read episodes from a ``.parquet``/``.jsonl`` file or a folder of them (sorted by name)."""
    path = Path(path)
    if not path.exists():
        raise WorkbenchError(f"no episode file or folder at {path}")
    files = sorted(p for p in path.iterdir() if p.suffix in {".parquet", ".jsonl"}) if path.is_dir() else [path]
    episodes: list[Episode] = []
    for file in files:
        episodes.extend(_read_file(file))
    return episodes


def _read_file(path: Path) -> Iterator[Episode]:
    if path.suffix == ".parquet":
        from datasets import Dataset

        for row in Dataset.from_parquet(str(path)):
            yield Episode.from_row(row)
        return
    for lineno, row in read_jsonl(path):
        try:
            episode = Episode.from_row(row)
        except WorkbenchError as error:
            raise WorkbenchError(f"{path}:{lineno}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:  # a missing field, a wrong type, bad JSON text
            raise WorkbenchError(f"{path}:{lineno}: not an episode row ({type(error).__name__}: {error})") from None
        yield episode


# -- TRL formats ---------------------------------------------------------------------------
def _chat_role(turn: Turn, agent_role: str) -> str:
    return "assistant" if turn.role == agent_role else "user"


def to_messages(episode: Episode, agent_role: str, system: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Conversational SFT row: ``{"messages": [{"role", "content"}, ...]}``; the agent is the assistant."""
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": _chat_role(t, agent_role), "content": t.text} for t in episode.turns]
    return {"messages": messages}


def _prompt_before(episode: Episode, index: int, agent_role: str, system: str | None) -> list[dict[str, str]]:
    return to_messages(Episode(episode.id, episode.env, episode.case, episode.turns[:index]), agent_role, system)["messages"]


def to_preference(chosen: Episode, rejected: Episode, index: int, agent_role: str,
                  system: str | None = None) -> dict[str, Any]:
    """Preference row (``prompt``/``chosen``/``rejected``, conversational) for two episodes that share
    their turns before ``index`` and differ in the agent turn at ``index``."""
    if chosen.turns[:index] != rejected.turns[:index]:
        raise WorkbenchError(f"episodes {chosen.id!r} and {rejected.id!r} differ before turn {index}")
    for e in (chosen, rejected):
        if index >= len(e.turns) or e.turns[index].role != agent_role:
            raise WorkbenchError(f"turn {index} of episode {e.id!r} is not an agent turn")
    return {
        "prompt": _prompt_before(chosen, index, agent_role, system),
        "chosen": [{"role": "assistant", "content": chosen.turns[index].text}],
        "rejected": [{"role": "assistant", "content": rejected.turns[index].text}],
    }


def to_unpaired(episode: Episode, agent_role: str, system: str | None = None,
                label: bool | None = None) -> list[dict[str, Any]]:
    """Unpaired preference rows (``prompt``/``completion``/``label``, KTO-style), one per agent turn;
    the label defaults to the episode's success."""
    label = episode.success if label is None else label
    return [
        {"prompt": _prompt_before(episode, i, agent_role, system),
         "completion": [{"role": "assistant", "content": t.text}], "label": label}
        for i, t in enumerate(episode.turns) if t.role == agent_role
    ]


def format_history(turns: Iterable[tuple[str, str]]) -> str:
    """``(role, text)`` pairs as "Role: text" lines: the one dialogue-history format that planners
    read, whether from a live dialogue, a finished episode or an annotated human dialogue."""
    return "\n".join(f"{role}: {text}" for role, text in turns)


def to_planner_examples(episodes: Iterable[Episode], agent_role: str,
                        strategy_names: Sequence[str]) -> list[dict[str, Any]]:
    """Planner rows ``{"text": history as "Role: text" lines, "label": strategy id}``, one per agent
    turn that carries a known strategy (PPDPP's supervised fine-tuning data, Deng et al. 2024, Sec. 3.2)."""
    index = {name: i for i, name in enumerate(strategy_names)}
    rows = []
    for e in episodes:
        for i, t in enumerate(e.turns):
            if t.role != agent_role or t.strategy is None:
                continue
            if t.strategy not in index:
                raise WorkbenchError(f"episode {e.id!r} turn {i}: unknown strategy {t.strategy!r}")
            history = format_history((p.role, p.text) for p in e.turns[:i])
            rows.append({"text": history, "label": index[t.strategy]})
    return rows
