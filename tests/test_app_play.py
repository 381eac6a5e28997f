"""The app's Play tab (issue 22): a person plays the MOBA lane game's human seat with action buttons; the lanes are
drawn, the match's metrics shown at the end, and the match saved as an episode in the app's runs folder."""

import re
import time

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from apps.gui.paths import RunsFolder
from apps.gui.play import PlaySession, draw_lanes, figure_image
from apps.play import MobaMatch
from workbench.errors import WorkbenchError
from workbench.runs import Run

HUMAN_GOALS = ("human_kills", "human_gold", "human_towers", "human_deaths")


def test_a_match_played_with_repeated_actions_ends_is_drawn_and_saved_in_the_runs_folder(tmp_path):
    runs = RunsFolder(tmp_path / "runs")
    session = PlaySession(runs)
    with pytest.raises(WorkbenchError, match="start a match first"):
        session.act("farm")
    session.start("slayer-high", seed=3, max_steps=40)
    before = session.picture()
    assert before.shape[2] == 3 and before.dtype == np.uint8 and before.shape[0] > 300 and before.shape[1] > 600
    assert session.metrics_rows() == [] and "**Step 0/40**" in session.status()
    assert session.act("farm", repeat=10) == 10 and session.match.game.t[0] == 10
    assert session.act(2, repeat=25) == 25  # by index: attack_tower
    assert not np.array_equal(session.picture(), before)  # the heroes and minions moved
    assert session.act("advance", repeat=100) == 5  # the match ends at step 40: only 5 of the 100 are played
    match = session.match
    assert match.finished and match.game.t[0] == 40 and match.game.done[0]  # the finished match stays on show
    assert "FINISHED" in match.render_text()
    rows = dict(session.metrics_rows())
    assert set(HUMAN_GOALS) <= set(rows) and rows["steps"] == "40"
    assert rows["human_gold"] == str(int(match.game.gold[0, 0]))
    result = {"1": "win", "-1": "loss", "0": "draw"}[rows["outcome"]]
    assert f"Match over: **{result}**." in session.status()
    with pytest.raises(WorkbenchError, match="this match is over"):
        session.act("farm")
    # saved exactly as `workbench play` saves it: one episode in a new play-YYYY-MM-DD-HHMM run in the runs folder
    saved = session.saved
    assert saved.parent == runs.root and re.fullmatch(r"play-20\d\d-\d\d-\d\d-\d{4}(-\d+)?", saved.name)
    assert f"Saved to {saved.name}." in session.status()
    run = Run(saved)
    assert run.config()["command"] == "play" and run.config()["persona"] == "slayer-high"
    (episode,) = run.episodes()
    human = [t.text for t in episode.turns if t.role == "Human"]
    assert human == ["farm"] * 10 + ["attack_tower"] * 25 + ["advance"] * 5
    assert episode.outcome["steps"] == 40 and episode.outcome["human_gold"] == int(rows["human_gold"])
    assert episode.outcome["success"] == (rows["outcome"] == "1")
    assert runs.run_dirs() == [saved.name]  # the self-play browser lists it


def test_the_same_seed_and_actions_give_the_same_match_as_the_command_line(tmp_path):
    session = PlaySession(RunsFolder(tmp_path / "runs"))
    session.start("farmer-low", seed=5, max_steps=30)
    session.act("farm", repeat=30)
    alone = MobaMatch("farmer-low", 5, 30)
    while not alone.finished:
        alone.step(0)
    assert session.match.metrics == alone.metrics
    assert session.match.turns == alone.turns and session.match.episode().outcome == alone.episode().outcome


def test_a_new_start_saves_the_unfinished_match_as_stopped_and_bad_input_is_refused(tmp_path):
    runs = RunsFolder(tmp_path / "runs")
    session = PlaySession(runs)
    session.start("pusher-high", seed=1, max_steps=100)
    session.act("retreat", repeat=3)
    with pytest.raises(WorkbenchError, match="unknown persona"):
        session.start("nobody", seed=1, max_steps=10)
    assert session.match.steps == 3 and session.saved is None  # a refused start changes nothing
    for action, repeat, message in (("dance", 1, "unknown action 'dance'"), ("farm", 0, "repeat must be 1"),
                                    (12, 1, "unknown action 12")):
        with pytest.raises(WorkbenchError, match=message):
            session.act(action, repeat)
    session.start("pusher-high", seed=2, max_steps=100)
    (stopped,) = Run(runs.root / runs.run_dirs()[0]).episodes()
    assert stopped.outcome == {"success": False, "stopped": True, "steps": 3}
    assert session.match.steps == 0 and session.saved is None


def test_the_picture_rings_the_human_and_greys_a_destroyed_tower():
    match = MobaMatch("allrounder-high", 0, 20)
    match.game.tower_hp[0, 1, 1, 0] = 0  # mid, enemy outer tower down
    fig = draw_lanes(match)
    (ax,) = fig.axes
    gold = to_rgb("gold")
    rings = [c for c in ax.collections if len(c.get_edgecolor()) and np.allclose(c.get_edgecolor()[0][:3], gold)]
    (x, y), = rings[0].get_offsets()  # the human, on the mid lane (y = 1), drawn just above it, as allies are
    assert len(rings) == 1 and x == match.game.pos[0, 0] and 1 < y < 1.5
    greys = [c for c in ax.collections if np.allclose(c.get_facecolor()[0][:3], 0.5)]
    assert [tuple(c.get_offsets()[0]) for c in greys] == [(65.0, 1.0)]
    assert figure_image(fig).shape[2] == 3


@pytest.mark.browser
def test_the_play_tab_plays_a_match_to_the_end_and_shows_its_human_goals(tmp_path):
    from playwright.sync_api import sync_playwright

    from apps.app import AppConfig, run_app
    from tests.helpers import free_port
    from tests.test_app_browser import CHROMIUM, FLAGS, shot, wait_text

    port = free_port()
    app, demo = run_app(AppConfig(runs=str(tmp_path / "runs"), models=[], port=port, preload=False), block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("tab", name="Play", exact=True).click()  # not "Self-play"
            page.locator("#play-farm").click()  # before Start: the status line says what to do
            wait_text(page, "#play-status", "start a match first")
            page.locator("#play-seed input").fill("4")
            page.locator("#play-start").click()  # a full match: the default 300 steps
            wait_text(page, "#play-status", r"Step 0/300")
            assert page.locator("#play-picture img").count() == 1
            page.locator("#play-repeat input").fill("100")
            played = []
            for clicks, action in enumerate(("farm", "attack_tower", "attack_hero", "advance"), 1):
                page.locator(f"#play-{action}").click()  # 100 steps a click, until the match ends
                status = wait_text(page, "#play-status", rf"Step {100 * clicks}/300|Match over")
                step = int(re.search(r"Step (\d+)/300", status).group(1))
                played += [action] * (step - len(played))
                if "Match over" in status:
                    break
            status = wait_text(page, "#play-status", r"Match over: (win|loss|draw)\. Saved to play-\S+\.")
            metrics = wait_text(page, "#play-metrics", "human_gold")
            for goal in HUMAN_GOALS:
                assert re.search(rf"{goal}\s+\d+", metrics), (goal, metrics)
            shot(page, "play")
            name = re.search(r"Saved to (play-\S+?)\.(\s|$)", status).group(1)
            (episode,) = Run(tmp_path / "runs" / name).episodes()
            shown_gold = re.search(r"human_gold\s+(\d+)", metrics).group(1)
            assert episode.outcome["human_gold"] == int(shown_gold) and episode.outcome["steps"] == len(played)
            assert [t.text for t in episode.turns if t.role == "Human"] == played
            browser.close()
    finally:
        demo.close()
        app.jobs.shutdown()
        time.sleep(0.1)
