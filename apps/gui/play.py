"""The Play tab: a person takes the human hero's seat in the MOBA lane game (issue 22, after RLHG, Gao et al.,
ICLR 2024), beside the agent heroes (the scripted allies, always-follow, or a trained RLHG team), against the
scripted enemy.

The same match as ``workbench play --env moba`` (:class:`apps.play.MobaMatch`): each click of an action button
plays that action for ``repeat`` steps (fewer where the match ends first). The page shows the three lanes drawn
with matplotlib (:func:`draw_lanes`), a status line with every hero, and once the match is over its metrics (win,
each human goal). The finished match, or one left unfinished for a new one, is saved exactly as the command line
saves it (:func:`apps.play.save_match`): one episode in a new run folder ``play-YYYY-MM-DD-HHMM`` inside the app's
runs folder.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from apps.gui.paths import RunsFolder
from apps.play import MobaMatch, save_match
from workbench.errors import WorkbenchError

KIND = "play"
"""Saved matches go to ``<runs>/play-YYYY-MM-DD-HHMM`` (``RunsFolder.new_run``), as ``workbench play`` names them."""
MAX_REPEAT = 300
HERO_MARKS = ("H", "a", "b", "1", "2", "3")
"""The heroes' letters, as ``MobaGame.render_text`` writes them: H the human, a b the agents, 1 2 3 the enemies."""
TEAM_COLOURS = ("tab:blue", "tab:red")
HUMAN_EDGE = "gold"


class PlaySession:
    """One browser session's match: :meth:`start`, :meth:`act`, and what the page shows (:meth:`picture`,
    :meth:`status`, :meth:`metrics_rows`). A lock keeps two clicks from stepping the match at once."""

    def __init__(self, runs: RunsFolder):
        self.runs = runs
        self.match: MobaMatch | None = None
        self.saved: Path | None = None
        """The run folder of the last saved match."""
        self.lock = threading.Lock()

    def start(self, persona: str, seed: int, max_steps: int, agents: str = "scripted") -> None:
        """A new match beside the agent team ``agents`` (``scripted``, ``follow`` or a trained team's run folder
        inside the runs folder); one left unfinished (with at least one step) is saved first, as stopped."""
        from agents.rlhg.team import BUILT_IN, load_team

        agents = (agents or "scripted").strip()
        source = agents if agents in BUILT_IN else str(self.runs.resolve(agents, must_exist=True))
        team = load_team(source, seed=int(seed))
        # a bad persona or team is refused before anything is saved
        match = MobaMatch(persona, int(seed), int(max_steps), allies=team, agents=agents)
        with self.lock:
            if self.match is not None and not self.match.finished and self.match.steps:
                self._save()
            self.match, self.saved = match, None

    def act(self, action: int | str, repeat: int = 1) -> int:
        """Play ``action`` (an index or a name of ``rules.ACTION_NAMES``) for ``repeat`` steps, or until the match
        ends (it is then saved); return the steps played."""
        from simulators.moba.rules import ACTION_NAMES

        if isinstance(action, str) and not action.isdigit():
            if action not in ACTION_NAMES:
                raise WorkbenchError(f"unknown action {action!r} (known: {', '.join(ACTION_NAMES)})")
            action = ACTION_NAMES.index(action)
        repeat = 1 if repeat is None else int(repeat)
        if not 1 <= repeat <= MAX_REPEAT:
            raise WorkbenchError(f"repeat must be 1 to {MAX_REPEAT} steps, not {repeat}")
        with self.lock:
            match = self.current()
            if match.finished:
                raise WorkbenchError("this match is over: press Start for a new one")
            played = 0
            while played < repeat and not match.finished:
                match.step(int(action))
                played += 1
            if match.finished:
                self._save()
            return played

    def current(self) -> MobaMatch:
        if self.match is None:
            raise WorkbenchError("start a match first (Start)")
        return self.match

    def _save(self) -> Path:
        """The match as one episode of a new run folder in the runs folder (another writer taking the same name
        in the same minute: the next name)."""
        match = self.match
        for _ in range(3):
            out = self.runs.new_run("", KIND)
            try:
                save_match(match, out, config={"env": match.env_name, "persona": match.persona, "agents": match.agents,
                                               "seed": match.seed, "max_steps": match.max_steps})
            except WorkbenchError:
                if not (out / "config.yaml").is_file():
                    raise
                continue
            self.saved = out
            return out
        raise WorkbenchError("could not find a free run folder name to save the match")

    # ----- what the page shows -----

    def picture(self) -> np.ndarray:
        """The three lanes now, an RGB image (see :func:`draw_lanes`)."""
        return figure_image(draw_lanes(self.current()))

    def status(self) -> str:
        """Markdown: the step, the bases, the result once over (and where it was saved), then a line per hero."""
        match = self.current()
        g = match.game
        head = (f"**Step {int(g.t[0])}/{match.max_steps}** · persona {match.persona} · agents {match.agents} · "
                f"seed {match.seed} · "
                f"base hp: ally {int(g.base_hp[0, 0])}, enemy {int(g.base_hp[0, 1])}")
        if match.finished:
            result = {1: "win", -1: "loss", 0: "draw"}[int(match.metrics["outcome"])]
            head += f"\n\nMatch over: **{result}**."
            if self.saved is not None:
                head += f" Saved to {self.runs.relative(self.saved)}."
        else:
            head += "\n\nYou are **H** (gold ring). Pick an action; *repeat* plays it that many steps."
        return head + "\n\n" + hero_table(match)

    def metrics_rows(self) -> list[list[Any]]:
        """The finished match's metrics as (metric, value) rows (none before the end)."""
        match = self.current()
        if not match.finished:
            return []
        return [[key, str(value)] for key, value in match.metrics.items()]


def hero_table(match: MobaMatch) -> str:
    """A Markdown table of the six heroes: team, where (lane@position, dead or travelling), hp, level, gold, K/D/A,
    structures destroyed, last action."""
    from simulators.moba import rules as R

    g, rows = match.game, ["| hero | team | where | hp | lv | gold | K/D/A | towers | last |", "|" + "---|" * 9]
    level = g.level()
    for h in range(R.NUM_HEROES):
        where = (f"dead {int(g.respawn[0, h])}" if g.respawn[0, h] else
                 f"travelling {int(g.busy[0, h])}" if g.busy[0, h] else f"{R.LANE_NAMES[g.lane[0, h]]}@{g.pos[0, h]}")
        who = "**H (you)**" if h == R.HUMAN else HERO_MARKS[h]
        rows.append(f"| {who} | {'ally' if R.TEAM_OF_HERO[h] == 0 else 'enemy'} | {where} | {int(g.hp[0, h])} | "
                    f"{int(level[0, h])} | {int(g.gold[0, h])} | {int(g.kills[0, h])}/{int(g.deaths[0, h])}/"
                    f"{int(g.assists[0, h])} | {int(g.towers[0, h])} | {R.ACTION_NAMES[g.last_action[0, h]]} |")
    return "\n".join(rows)


def draw_lanes(match: MobaMatch):
    """A matplotlib Figure of the match: the three lanes from the ally base (left, blue) to the enemy base (right,
    red); towers as triangles (grey crosses once destroyed); each team's minion wave front as an arrow with its
    minion count; the heroes on the map as discs coloured by team and lettered as in the text view, the human's
    ringed in gold; heroes dead or travelling are listed under the lanes."""
    from matplotlib.figure import Figure

    from simulators.moba import rules as R

    g, i = match.game, 0
    fig = Figure(figsize=(9, 4.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    ys = {lane: R.NUM_LANES - 1 - lane for lane in range(R.NUM_LANES)}  # top lane at the top
    for lane, y in ys.items():
        ax.plot([0, R.LANE_LENGTH], [y, y], color="0.8", lw=6, zorder=0, solid_capstyle="butt")
        ax.text(-9, y, R.LANE_NAMES[lane], va="center", ha="right", fontsize=10)
        for team in range(2):
            for tier in range(2):
                x, up = R.TOWER_POS[team][tier], g.tower_hp[i, lane, team, tier] > 0
                ax.scatter(x, y, marker="^" if up else "x", s=140, zorder=2,
                           color=TEAM_COLOURS[team] if up else "0.5")
            hp = int(g.wave_hp[i, lane, team])
            if hp > 0:
                front = int(g.wave_front[i, lane, team])
                ax.scatter(front, y, marker=">" if team == 0 else "<", s=90, zorder=3, color=TEAM_COLOURS[team],
                           alpha=0.6)
                ax.text(front, y + (0.16 if team == 0 else -0.16), str(-(-hp // R.MINION_HP)), ha="center",
                        va="center", fontsize=7, color=TEAM_COLOURS[team])
    for team in range(2):
        x = R.BASE_POS[team]
        alive = g.base_hp[i, team] > 0
        ax.add_patch(_base_patch(x, TEAM_COLOURS[team] if alive else "0.5"))
        ax.text(x, -0.75, f"base {int(g.base_hp[i, team])}", ha="center", fontsize=8, color=TEAM_COLOURS[team])
    away = []
    for h in range(R.NUM_HEROES):
        team = R.TEAM_OF_HERO[h]
        if g.respawn[i, h] or g.busy[i, h]:
            away.append(f"{HERO_MARKS[h]} {'dead' if g.respawn[i, h] else 'travelling'}")
            continue
        offset = (0.25 if team == 0 else -0.25) + 0.07 * (h % 3 - 1)
        x, y = int(g.pos[i, h]), ys[int(g.lane[i, h])] + offset
        human = h == R.HUMAN
        ax.scatter(x, y, s=320 if human else 200, zorder=4, color=TEAM_COLOURS[team],
                   edgecolors=HUMAN_EDGE if human else "white", linewidths=3 if human else 1)
        ax.text(x, y, HERO_MARKS[h], ha="center", va="center", fontsize=8, color="white", weight="bold", zorder=5)
    title = f"step {int(g.t[i])}/{match.max_steps}"
    if match.finished:
        title += "  -  match over: " + {1: "win", -1: "loss", 0: "draw"}[int(match.metrics["outcome"])]
    ax.set_title(title)
    key = "blue: your team (H you, a b agents); red: enemies 1 2 3; triangles towers, arrows minion fronts (count)"
    ax.text(R.LANE_LENGTH / 2, -1.05, key + ("\noff the map: " + ", ".join(away) if away else ""), ha="center",
            va="top", fontsize=8)
    ax.set(xlim=(-14, R.LANE_LENGTH + 6), ylim=(-1.45, R.NUM_LANES - 0.45))
    ax.axis("off")
    return fig


def _base_patch(x: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 3, -0.45), 6, 2.9, color=colour, alpha=0.35, zorder=1)


def figure_image(fig) -> np.ndarray:
    """A Figure rendered to an (H, W, 3) uint8 RGB array (the page gets the picture as a value, never a path)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


# ----- the tab -----

def play_tab(runs: RunsFolder, shown: Callable[[int], Callable]) -> None:
    """The Play tab's controls and handlers (``shown``: the page's error wrapper, ``apps.gui.ui.shown``)."""
    import gradio as gr

    from simulators.moba import PERSONAS
    from simulators.moba.rules import ACTION_NAMES

    personas = sorted(PERSONAS)
    session = gr.State(None)
    gr.Markdown("You play the human hero **H** in the MOBA lane game, beside two agent heroes, against three "
                "scripted enemies. Your persona sets your skill and which of your goals the match scores.")
    with gr.Row():
        persona = gr.Dropdown(personas, value="allrounder-high", label="Persona", elem_id="play-persona")
        agents = gr.Dropdown(["scripted", "follow", *runs.agent_teams()], value="scripted", label="Agents",
                             allow_custom_value=True, elem_id="play-agents",
                             info="scripted, follow, or a trained team's run folder (workbench train rlhg)")
        seed = gr.Number(0, label="Seed", precision=0, elem_id="play-seed")
        max_steps = gr.Number(300, label="Match length (steps)", precision=0, minimum=1, elem_id="play-steps")
        start = gr.Button("Start", elem_id="play-start", variant="primary")
    with gr.Row():
        repeat = gr.Number(1, label="Repeat N steps", precision=0, minimum=1, maximum=MAX_REPEAT,
                           elem_id="play-repeat", scale=1)
        buttons = [gr.Button(name, elem_id=f"play-{name}", size="sm", min_width=80) for name in ACTION_NAMES]
    picture = gr.Image(label="Lanes", type="numpy", format="png", interactive=False, elem_id="play-picture",
                       buttons=["download", "fullscreen"])  # no share: nothing leaves the machine
    status = gr.Markdown(elem_id="play-status")
    metrics = gr.Dataframe(headers=["metric", "value"], label="Match metrics", elem_id="play-metrics",
                           interactive=False)

    def view(match: PlaySession) -> tuple:
        return match, match.picture(), match.metrics_rows(), match.status()

    def started(name: str, team: str, seed_value: float, steps: float, match: PlaySession | None) -> tuple:
        match = match or PlaySession(runs)
        match.start(name, int(seed_value or 0), int(steps or 0), team)
        return view(match)

    def acted(action: str, times: float, match: PlaySession | None) -> tuple:
        if match is None:
            raise WorkbenchError("start a match first (Start)")
        match.act(action, 1 if times is None else int(times))
        return view(match)

    outputs = [session, picture, metrics, status]
    start.click(shown(4)(started), [persona, agents, seed, max_steps, session], outputs)
    for button, name in zip(buttons, ACTION_NAMES):
        button.click(shown(4)(lambda times, match, name=name: acted(name, times, match)), [repeat, session], outputs)
