"""Agent teams in the MOBA game (issue 22): ``workbench evaluate --env moba --agents ...`` (a table and a bar chart of
the win rate and each human goal per agent and persona), a trained team in ``workbench play`` and the Play tab."""

import json

import numpy as np
import pytest

from agents.rlhg.config import RLHGConfig
from agents.rlhg.team import FollowTeam, NetTeam, ScriptedTeam, evaluate_team, load_policy, load_team
from agents.rlhg.train import run_rlhg
from apps.cli import main
from apps.evaluate_game import GameEvaluateConfig, parse_agents, run_game_evaluation
from apps.gui.paths import RunsFolder
from apps.gui.play import PlaySession
from apps.play import PlayConfig, run_play
from simulators.moba import MobaVectorEnv
from workbench.errors import WorkbenchError
from workbench.runs import Run

from .test_chat_terminal import scripted


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny self-centred run (2 updates)."""
    out = tmp_path_factory.mktemp("rlhg") / "self"
    run_rlhg(RLHGConfig(stage="self", num_envs=4, rollout_steps=8, updates=2, ppo_epochs=1, minibatches=1, hidden=16,
                        progress=False, out=str(out)), MobaVectorEnv)
    return out


def test_teams_act_for_every_match_at_once(trained):
    env = MobaVectorEnv(3, seed=0)
    obs, _ = env.reset(seed=0)
    assert np.array_equal(ScriptedTeam().act(env, obs), env._allies.act(env.game))
    assert (FollowTeam().act(env, obs) == env.action_names.index("follow")).all()
    net = load_team(str(trained), seed=1)
    assert isinstance(net, NetTeam) and net.act(env, obs).shape == (3, 2)
    greedy = NetTeam(load_policy(trained), greedy=True)
    assert np.array_equal(greedy.act(env, obs), greedy.act(env, obs))


def test_evaluate_team_plays_one_full_match_per_slot():
    env = MobaVectorEnv(4, persona="farmer-high", seed=3, max_steps=30)
    result = evaluate_team(FollowTeam(), env, seed=3)
    assert result["matches"] == 4 and 0 <= result["win_rate"] <= 1
    again = evaluate_team(FollowTeam(), MobaVectorEnv(4, persona="farmer-high", seed=3, max_steps=30), seed=3)
    assert again == result  # the same matches for every team and call


def test_game_evaluation_pools_a_label_over_runs_and_draws_the_goals(tmp_path, trained):
    config = GameEvaluateConfig(agents=["scripted", "follow", f"rl={trained}", f"rl={trained / 'model.pt'}"],
                                personas=["slayer-high", "farmer-low"], matches=4, out=str(tmp_path / "eval"))
    run, text = run_game_evaluation(config)
    rows = Run(run.path).metrics()
    assert len(rows) == 2 * 4 and {r["agents"] for r in rows} == {"scripted", "follow", "rl"}
    assert all(r["matches"] == 4 for r in rows)
    assert "| slayer-high / rl | 2 |" in text and "| farmer-low / follow | 1 |" in text
    assert " ± 0.0" in text  # the same run twice: no spread
    assert (run.path / "plots" / "human_goals.png").stat().st_size > 10_000


@pytest.mark.parametrize("changes, message", [
    ({"personas": ["nobody"]}, "unknown persona 'nobody'"),
    ({"agents": ["x=/no/such/run"]}, "no such run folder"),
    ({"agents": ["x="]}, "empty agent team spec"),
    ({"env": "chess"}, "unknown game 'chess'"),
])
def test_bad_evaluation_input_fails_before_a_folder_is_made(tmp_path, changes, message):
    with pytest.raises(WorkbenchError, match=message):
        run_game_evaluation(GameEvaluateConfig(**{"matches": 2, "out": str(tmp_path / "eval"), **changes}))
    assert not (tmp_path / "eval").exists()


def test_agent_labels():
    assert parse_agents(["scripted", "rl=runs/a", "runs/b"]) == [("scripted", "scripted"), ("rl", "runs/a"),
                                                                 ("runs/b", "runs/b")]


def test_the_cli_sends_a_game_to_the_game_evaluation(tmp_path, capsys):
    assert main(["evaluate", "--env", "moba", "--agents", "follow", "--personas", "pusher-low", "--matches", "2",
                 "--out", str(tmp_path / "e")]) == 0
    assert "| pusher-low / follow | 1 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["evaluate", "--env=moba", "--help"])
    assert "--personas" in capsys.readouterr().out


def test_a_person_plays_beside_a_trained_team(tmp_path, trained):
    episode = run_play(PlayConfig(agents=str(trained), seed=4, max_steps=20, out=str(tmp_path / "p")),
                       read=scripted(["farm 20"]), write=lambda _: None)
    assert episode.provenance["agents"] == str(trained) and episode.outcome["steps"] == 20
    agent_turns = [t.text for t in episode.turns if t.role == "Agents"]
    assert len(agent_turns) == 20
    with pytest.raises(WorkbenchError, match="no such run folder"):
        run_play(PlayConfig(agents="nowhere", out=str(tmp_path / "q")), read=scripted([]), write=lambda _: None)
    assert not (tmp_path / "q").exists()


def test_the_play_tab_takes_a_trained_team_only_from_its_runs_folder(tmp_path, trained):
    import shutil

    runs = RunsFolder(tmp_path / "runs")
    shutil.copytree(trained, runs.root / "team")
    assert runs.agent_teams() == ["team"]
    session = PlaySession(runs)
    with pytest.raises(WorkbenchError):
        session.start("slayer-high", 0, 10, agents=str(trained))  # outside the runs folder
    session.start("slayer-high", 0, 10, agents="team")
    session.act("farm", repeat=10)
    config = json.loads(json.dumps(Run(session.saved).config()))
    assert config["agents"] == "team" and Run(session.saved).episodes()[0].provenance["agents"] == "team"
    assert "agents team" in session.status()


def test_goal_weights_follow_the_persona():
    env = MobaVectorEnv(2, persona=["slayer-high", "farmer-low"], seed=0)
    w = env.human_goal_weights()
    assert w.shape == (2, 4) and np.allclose(w.sum(1), 1)
    assert w[0, 0] > 0.8 and w[0, 1] == 0 and w[1, 1] == pytest.approx(0.75) and w[1, 0] == 0
