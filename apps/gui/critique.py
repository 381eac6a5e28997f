"""The app's "Critique" action: a critic critiques a chat or a self-play episode, and the page shows its ACUs, each
highlighted at the agent turn it points at (MultiCritique's analytical critique units, :mod:`workbench.critique`).

A critic is one of the app's model specs (zero-shot) or ``critic:<folder>``, a ``workbench train critic`` run inside
the runs folder (the folder is confined to it, whatever the page sends).
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any, Sequence

from workbench.critique.acu import ACU, Critique
from workbench.critique.prompts import agent_turn_numbers
from workbench.env import DialogueEnv
from workbench.episodes import Turn
from workbench.errors import WorkbenchError
from workbench.llm.resolve import CRITIC_MANIFEST, CRITIC_SPEC

_LOADED: dict[Path, Any] = {}
_LOCK = threading.Lock()


def critic_choices(app: Any) -> list[str]:
    """The app's model specs, then ``critic:<run>`` for each trained critic in the runs folder."""
    trained = sorted(app.runs.relative(p.parent) for p in app.runs.root.glob(f"**/{CRITIC_MANIFEST}")
                     if not any(part.startswith(".") for part in p.relative_to(app.runs.root).parts))
    return [*app.models.specs, *(f"{CRITIC_SPEC}{name}" for name in trained)]


def critic_model(app: Any, choice: str) -> Any:
    """The chat model of ``choice`` (module docstring), loaded once per process."""
    from workbench.llm.batcher import BatchingChatModel
    from workbench.llm.resolve import chat_model

    if not (choice or "").startswith(CRITIC_SPEC):
        return app.models.get(choice, frozen=True)
    folder = app.runs.resolve(choice.removeprefix(CRITIC_SPEC), must_exist=True)
    with _LOCK:
        if folder not in _LOADED:
            _LOADED[folder] = BatchingChatModel(inner=chat_model(f"{CRITIC_SPEC}{folder}"))
        return _LOADED[folder]


def critique(app: Any, env: type[DialogueEnv], turns: Sequence[Turn], choice: str) -> str:
    """The critic's critique of ``turns`` as the page's HTML."""
    from workbench.critique.critic import critique_many

    if not env.criteria:
        raise WorkbenchError(f"environment {env.name!r} has no critique criteria")
    if not agent_turn_numbers(turns, env.agent_role):
        raise WorkbenchError("nothing to critique yet: the agent has not spoken")
    if not choice:
        raise WorkbenchError("pick a critic")
    (found,) = critique_many(critic_model(app, choice), env, [list(turns)])
    return critique_html(env, turns, found, choice)


def _colour(severity: int) -> str:
    return "#fde2e1" if severity >= 7 else "#fff1c2" if severity >= 4 else "#e8f4fd"


def _acu_html(acu: ACU) -> str:
    text = f"<b>{html.escape(acu.criterion)}</b> (severity {acu.severity})"
    if acu.flaw:
        text += f": {html.escape(acu.flaw)}"
    if acu.suggestion:
        text += f"<br><i>Suggestion:</i> {html.escape(acu.suggestion)}"
    return f'<div class="acu" data-turn="{acu.turn}">{text}</div>'


def critique_html(env: type[DialogueEnv], turns: Sequence[Turn], found: Critique, choice: str) -> str:
    """The dialogue with each criticised agent turn highlighted (by its worst severity) and its ACUs below it; the
    verdict, the score and what did not parse above."""
    numbers = {i: n for n, i in enumerate(agent_turn_numbers(turns, env.agent_role), 1)}
    by_turn: dict[int, list[ACU]] = {}
    for acu in found.ranked():
        by_turn.setdefault(acu.turn, []).append(acu)
    rows = []
    for i, turn in enumerate(turns):
        number = numbers.get(i)
        label = f"[Turn {number}] " if number else ""
        acus = by_turn.get(number, []) if number else []
        style = f' style="background:{_colour(acus[0].severity)}"' if acus else ""
        mark = ' class="criticised"' if acus else ""
        rows.append(f"<div{mark}{style}><b>{label}{html.escape(turn.role)}:</b> {html.escape(turn.text)}"
                    + "".join(_acu_html(a) for a in acus) + "</div>")
    info = found.info
    score = found.score if found.score is not None else "not given"
    notes = [f"verdict: {found.verdict or 'not given'}", f"score: {score}", f"{len(found.acus)} ACUs"]
    if info.get("dropped"):
        notes.append(f"{info['dropped']} ACU lines unusable (no such turn or criterion)")
    if info.get("partial"):
        notes.append(f"{info['partial']} without a severity (counted 5)")
    head = f'<p id="critique-summary"><b>Critique by {html.escape(choice)}</b>: {"; ".join(notes)}</p>'
    raw = f"<details><summary>Raw critique</summary><pre>{html.escape(info.get('text', ''))}</pre></details>"
    return f'<div id="critique">{head}{"".join(rows)}{raw}</div>'
