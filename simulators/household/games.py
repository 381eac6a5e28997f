"""TEACh games as turn sequences, and the per-step decisions a user agent is evaluated on.

The data is the turn-level parse of TEACh (Padmakumar et al., AAAI 2022) released with Philipov et al.
(2024, arXiv 2410.23535): a JSON list of ``{"goal", "turns": [{"COMMANDER": {...}, "DRIVER": {...},
"turn_action"}]}`` where in each turn exactly one role acts and the other has ``"<observe>"``.
A :class:`Game` keeps the acting role's move per turn. :func:`contexts` turns a game into the
paper's prediction problem: at every turn, given the goal and the history, does the Commander speak,
and if so with which dialogue acts and words.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from workbench.data import read_json
from workbench.errors import WorkbenchError
from workbench.paths import data_dir

from .acts import normalise_act

ROLES = ("COMMANDER", "DRIVER")
ACTIONS = (
    "dialogue", "<observe>", "<move>", "<pickup>", "<putdown>", "<open>", "<close>",
    "<slice>", "<pour>", "<toggle on>", "<toggle off>",
)


@dataclass(frozen=True)
class GameTurn:
    """One move: ``role`` is "COMMANDER" or "DRIVER"; ``action`` one of :data:`ACTIONS`.

    A ``"dialogue"`` move carries an ``utterance`` and its dialogue acts ``das``; ``target`` is the object id
    a Driver action applies to in live play (``""`` in the data, which does not record it).
    """

    role: str
    action: str
    utterance: str = ""
    das: tuple[str, ...] = ()
    target: str = ""


@dataclass(frozen=True)
class Game:
    """A TEACh session: its goal text and the acting role's move at each turn."""

    id: str
    goal: str
    turns: tuple[GameTurn, ...]


@dataclass(frozen=True)
class Decision:
    """What the Commander does at one step: observe (``speak=False``) or speak with acts and an utterance."""

    speak: bool
    das: tuple[str, ...] = ()
    utterance: str = ""


@dataclass(frozen=True)
class Context:
    """What a user agent sees before deciding: the game, its goal, and every move so far."""

    game_id: str
    goal: str
    history: tuple[GameTurn, ...]


class UserAgent(Protocol):
    """A Commander simulator under evaluation (Philipov et al. 2024, Section 4).

    ``decide`` answers a batch of contexts at once; ``fallbacks`` counts every step whose answer had to be
    replaced (e.g. ``{"unparsable": 3}``), so no fallback is silent.
    """

    fallbacks: dict[str, int]

    def decide(self, contexts: Sequence[Context]) -> list[Decision]: ...


class ActPredictor(Protocol):
    """A user agent that can also say which dialogue acts it would use if it spoke now.

    This is the paper's second task (dialogue-act prediction), scored on the steps where the human spoke,
    independently of the agent's own speak decision.
    """

    def decide_acts(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]: ...


def default_games_path() -> Path:
    """The development games shipped in the shared data folder."""
    return data_dir() / "teach" / "dialogues" / "valid_seen_turn.dev.json"


def load_games(path: str | Path | None = None) -> list[Game]:
    """Read a TEACh turn-level games file (any file of this format, e.g. the full release).

    Games get ids ``game-000``, ``game-001``, ... by position. A malformed file raises
    :class:`WorkbenchError` ``"path:line: game N turn M: what is wrong"``.
    """
    path = Path(path) if path is not None else default_games_path()
    raw, text = read_json(path, "games file")
    if not isinstance(raw, list):
        raise WorkbenchError(f"{path}:1: expected a JSON list of games, got {type(raw).__name__}")
    width = max(3, len(str(len(raw) - 1)))
    games = []
    for index, item in enumerate(raw):
        try:
            games.append(_game(f"game-{index:0{width}d}", item))
        except _BadTurn as bad:
            line = _line_of(text, index, bad.turn)
            where = f"game {index}" + (f" turn {bad.turn}" if bad.turn is not None else "")
            raise WorkbenchError(f"{path}:{line}: {where}: {bad}") from None
    return games


class _BadTurn(ValueError):
    def __init__(self, message: str, turn: int | None = None):
        super().__init__(message)
        self.turn = turn


def _game(game_id: str, item: object) -> Game:
    if not isinstance(item, dict) or not isinstance(item.get("goal"), str) or not isinstance(item.get("turns"), list):
        raise _BadTurn('expected {"goal": str, "turns": [...]}')
    turns = []
    for number, raw_turn in enumerate(item["turns"]):
        try:
            turns.append(_turn(raw_turn))
        except _BadTurn as bad:
            raise _BadTurn(str(bad), number) from None
    return Game(game_id, item["goal"], tuple(turns))


def _turn(raw: object) -> GameTurn:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(role), dict) for role in ROLES):
        raise _BadTurn('expected {"COMMANDER": {...}, "DRIVER": {...}}')
    acting = [role for role in ROLES if raw[role].get("action") != "<observe>"]
    if len(acting) != 1:
        raise _BadTurn(f"exactly one role must act (not '<observe>'), found {len(acting)}")
    role = acting[0]
    move = raw[role]
    action = move.get("action")
    if action not in ACTIONS:
        raise _BadTurn(f"{role} has unknown action {action!r}")
    if action != "dialogue":
        return GameTurn(role, action)
    utterance, das = move.get("utterance"), move.get("das", [])
    if not isinstance(utterance, str) or not isinstance(das, list):
        raise _BadTurn(f"{role} dialogue needs a string 'utterance' and a list 'das'")
    acts = []
    for name in das:
        act = normalise_act(name) if isinstance(name, str) else None
        if act is None:
            raise _BadTurn(f"{role} has unknown dialogue act {name!r}")
        acts.append(act)
    return GameTurn(role, action, utterance, tuple(acts))


def _line_of(text: str, game: int, turn: int | None) -> int:
    """1-based line where game ``game`` (and its turn ``turn``) starts in the JSON text."""
    decoder = json.JSONDecoder()
    position = _element_starts(text, text.index("[") + 1, decoder)[game]
    if turn is not None:
        match = re.compile(r'"turns"\s*:\s*\[').search(text, position)
        if match:
            starts = _element_starts(text, match.end(), decoder)
            if turn < len(starts):
                position = starts[turn]
    return text.count("\n", 0, position) + 1


def _element_starts(text: str, position: int, decoder: json.JSONDecoder) -> list[int]:
    """Offsets of the elements of the JSON array whose body starts at ``position``."""
    starts = []
    blank = re.compile(r"[\s,]*")
    while True:
        position = blank.match(text, position).end()
        if position >= len(text) or text[position] == "]":
            return starts
        starts.append(position)
        _, position = decoder.raw_decode(text, position)


def split_games(games: Sequence[Game], valid_fraction: float = 0.3, seed: int = 0) -> tuple[list[Game], list[Game]]:
    """Deterministic (train, valid) split by game id: the same ids and seed always give the same split."""
    if not 0.0 <= valid_fraction <= 1.0:
        raise WorkbenchError(f"valid_fraction must be in [0, 1], got {valid_fraction}")
    ids = sorted(game.id for game in games)
    random.Random(seed).shuffle(ids)
    valid_ids = set(ids[: round(len(ids) * valid_fraction)])
    train = [game for game in games if game.id not in valid_ids]
    valid = [game for game in games if game.id in valid_ids]
    return train, valid


def human_decision(turn: GameTurn) -> Decision:
    """What the human Commander did at a turn: speak on its dialogue turns, observe otherwise.

    A Commander ``<move>`` only moves its camera and a Driver turn leaves the Commander observing.
    """
    if turn.role == "COMMANDER" and turn.action == "dialogue":
        return Decision(True, turn.das, turn.utterance)
    return Decision(False)


def contexts(game: Game) -> list[tuple[Context, Decision]]:
    """One (context, human decision) per turn: the history before the turn and what the Commander did."""
    return [
        (Context(game.id, game.goal, game.turns[:index]), human_decision(turn))
        for index, turn in enumerate(game.turns)
    ]
