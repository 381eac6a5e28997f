"""Rebuild the household world at any point of a stored episode.

An episode keeps its case (task, parameters, scene seed) and every Driver action's ``Turn.info["action"]``; the
world is deterministic in those (TEACh's state changes after Padmakumar et al., AAAI 2022, as simulated by
:mod:`.world`), so replaying the actions on the case's scene gives the world after any turn without storing it.
"""

from __future__ import annotations

import random

from workbench.episodes import Episode
from workbench.errors import WorkbenchError

from .cases import task_instance
from .world import Action, World, generate_scene


def replay(episode: Episode, upto: int | None = None) -> World:
    """The world after the first ``upto`` turns of ``episode`` (None: all of them; 0: the scene as generated).

    Every replayed action must end as the episode recorded it (succeeded or failed); a difference means the
    episode does not belong to this world (another scene generator or task definitions) and is refused."""
    turns = episode.turns if upto is None else episode.turns[:upto]
    if upto is not None and not 0 <= upto <= len(episode.turns):
        raise WorkbenchError(f"episode {episode.id}: no turn {upto} (it has {len(episode.turns)})")
    if "scene_seed" not in episode.case.fields:
        raise WorkbenchError(f"episode {episode.id}: its case has no scene seed, so it has no world to replay")
    world = generate_scene(task_instance(episode.case), random.Random(episode.case.fields["scene_seed"]))
    for number, turn in enumerate(turns, 1):
        action = turn.info.get("action")
        if action is None:
            continue
        outcome = world.apply(Action(action["kind"], action["target"]))
        if outcome.ok != action["ok"]:
            raise WorkbenchError(f"episode {episode.id}, turn {number}: {turn.text!r} "
                                 f"{'succeeds' if outcome.ok else 'fails'} on replay but "
                                 f"{'succeeded' if action['ok'] else 'failed'} in the episode")
    return world
