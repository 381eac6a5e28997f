"""The run browser's view of a multi-trial run (``workbench evaluate --reflection``, :mod:`workbench.trials`): a
case's trials side by side, each with its outcome and dialogue, and between two trials the reflection written on the
first, which the actor had in its memory in the second."""

from __future__ import annotations

import html
from pathlib import Path

from workbench.episodes import Episode
from workbench.registry import env_class
from workbench.runs import Run


def trial_choices(run_dir: Path) -> dict[str, list[int]]:
    """The variants of a multi-trial run and, for each, the case indices it played (empty for another run)."""
    found: dict[str, set[int]] = {}
    for e in Run(run_dir).episodes():
        if "trial" in e.provenance and "variant" in e.provenance:
            found.setdefault(e.provenance["variant"], set()).add(e.provenance["index"])
    return {variant: sorted(indices) for variant, indices in found.items()}


def _dialogue(episode: Episode) -> str:
    agent = env_class(episode.env).agent_role
    lines = []
    for turn in episode.turns:
        strategy = f" <i>[{html.escape(turn.strategy)}]</i>" if turn.strategy and turn.role == agent else ""
        lines.append(f"<p><b>{html.escape(turn.role)}</b>{strategy}: {html.escape(turn.text)}</p>")
    return "".join(lines)


def trials_html(run_dir: Path, variant: str, index: int) -> str:
    """Case ``index``'s trials under ``variant`` side by side (module docstring), as HTML with every text escaped."""
    run = Run(run_dir)
    trials = sorted((e for e in run.episodes() if e.provenance.get("variant") == variant
                     and e.provenance.get("index") == index and "trial" in e.provenance),
                    key=lambda e: e.provenance["trial"])
    if not trials:
        return f"<p>No trials of case {index} under {html.escape(variant)}.</p>"
    reflections = {r["trial"]: r for r in run.reflections() if r["variant"] == variant and r["index"] == index}
    cell = "flex:0 0 {width};border:1px solid #ccc;border-radius:6px;padding:8px;font-size:0.9em"
    columns = []
    for episode in trials:
        k = episode.provenance["trial"]
        verdict = "success" if episode.success else "failure"
        columns.append(f'<div class="trial" style="{cell.format(width="360px")}"><h4>Trial {k}: {verdict}, return '
                       f'{episode.total_reward:.2f}</h4>{_dialogue(episode)}</div>')
        if k in reflections:
            row = reflections[k]
            note = " <i>(fallback: the reflector wrote nothing usable)</i>" if row.get("info", {}).get("fallback") else ""
            columns.append(f'<div class="reflection" style="{cell.format(width="200px")};background:#f6f3e6">'
                           f'<h4>Reflection on trial {k}</h4><p>{html.escape(row["text"])}{note}</p></div>')
    case = html.escape(trials[0].case.id)
    return (f'<p>Case {index} ({case}), variant {html.escape(variant)}</p>'
            f'<div style="display:flex;gap:10px;overflow-x:auto;align-items:flex-start">{"".join(columns)}</div>')
