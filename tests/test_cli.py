import json

import pytest

from apps.chat import ChatConfig, run_chat
from apps.cli import main
from workbench.runs import Run


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_everywhere(capsys):
    assert main(["--help"]) == 0
    assert "selfplay" in capsys.readouterr().out
    for cmd in ("envs", "chat", "selfplay", "evaluate"):
        with pytest.raises(SystemExit) as exit:
            main([cmd, "--help"])
        assert exit.value.code == 0
        assert "usage: workbench" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0 and "ppdpp" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:
        main(["train", "ppdpp", "--help"])
    assert exit.value.code == 0 and "--rl_episodes" in capsys.readouterr().out


def test_envs_lists_negotiation(capsys):
    code, out, _ = run_cli(capsys, "envs")
    assert code == 0 and "negotiation:" in out and "strategies (11)" in out and "counter-noprice" in out


def test_selfplay_and_evaluate(tmp_path, capsys, cb_file):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "selfplay", "--env", "negotiation", "-n", "30", "--seed", "3",
                             "--out", str(out_dir), "--data", str(cb_file), "--no-progress")
    assert code == 0, err
    assert "| episodes | SR | AT | SL% | return |" in out
    assert (out_dir / "plots" / "outcomes.png").stat().st_size > 10_000
    assert (out_dir / "summary.md").read_text().startswith("# Self-play")
    assert len((out_dir / "episodes" / "episodes.jsonl").read_text().splitlines()) == 30
    code, table1, _ = run_cli(capsys, "evaluate", str(out_dir))
    code2, table2, _ = run_cli(capsys, "evaluate", str(out_dir))
    assert code == code2 == 0 and table1 == table2
    assert table1.splitlines()[:3] == out.splitlines()[:3]
    code, _, err = run_cli(capsys, "selfplay", "-n", "30", "--seed", "3", "--out", str(out_dir))
    assert code == 2 and "--resume" in err
    code, out, err = run_cli(capsys, "selfplay", "-n", "40", "--seed", "3", "--out", str(out_dir),
                             "--data", str(cb_file), "--resume", "--no-progress")
    assert code == 0, err
    assert len((out_dir / "episodes" / "episodes.jsonl").read_text().splitlines()) == 40


def one_line_error(capsys, *argv, match):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and match in err, err


def test_bad_input_is_one_line(tmp_path, capsys):
    out = str(tmp_path / "r")
    one_line_error(capsys, "selfplay", "--env", "chess", "--out", out, match="unknown environment 'chess'")
    one_line_error(capsys, "selfplay", "--policy", "fixed:haggle", "--out", out, match="unknown strategy 'haggle'")
    one_line_error(capsys, "selfplay", "--data", str(tmp_path / "none.jsonl"), "--out", out, match="not found")
    bad = tmp_path / "cb.jsonl"
    bad.write_text(json.dumps({"item_name": "bike"}) + "\n")
    one_line_error(capsys, "selfplay", "--data", str(bad), "--out", out, match=f"{bad}:1:")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("episodes: 3\n")
    one_line_error(capsys, "selfplay", "--config", str(cfg), "--out", out, match="unknown config key 'episodes'")
    one_line_error(capsys, "selfplay", "--agent-model", "foo:bar", "--out", out, match="foo:bar")
    one_line_error(capsys, "evaluate", str(tmp_path), match="not a run directory")
    assert not (tmp_path / "r").exists()  # nothing half-made


def test_chat_with_scripted_person(cb_file, tmp_path):
    lines = iter(["Hello! It is in great shape.", "I could do $%d." % 10**6, "/quit"])
    shown: list[str] = []
    config = ChatConfig(data=str(cb_file), seed=2, policy="fixed:inquire", out=str(tmp_path / "chats"))
    episode = run_chat(config, read=lambda _: next(lines), write=shown.append)
    assert Run(tmp_path / "chats").episodes() == [episode]
    assert any("[inquire p=1.00]" in s for s in shown)
    user_turns = [t.text for t in episode.turns if t.role == "Seller"]
    assert user_turns[-2:] == ["Hello! It is in great shape.", "I could do $1000000."]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from workbench.llm.tiny import tiny_causal_lm

    return str(tiny_causal_lm(tmp_path_factory.mktemp("tiny")))


@pytest.mark.parametrize("env", ["negotiation", "emotional_support", "tutoring", "persuasion", "marketplace"])
def test_llm_selfplay_end_to_end_with_a_tiny_model(env, tiny_model_dir, tmp_path, capsys):
    """Agent, simulator and critic are one tiny random model: every LLM path of every environment
    runs, garbage critic samples count as unparsable, and the episodes are stored."""
    code, out, err = run_cli(capsys, "selfplay", "--env", env, "--simulator", "llm", "--agent-model", tiny_model_dir,
                             "-n", "3", "--max-turns", "2", "--critic-samples", "2", "--max-new-tokens", "6",
                             "--out", str(tmp_path / env), "--no-progress")
    assert code == 0, err
    episodes = Run(tmp_path / env).episodes()
    assert len(episodes) == 3 and all(e.outcome["turns"] == 2 for e in episodes)
    verdicts = [t.info["verdict"] for e in episodes for t in e.turns if "verdict" in t.info]
    assert len(verdicts) == 6 and all(v["parsed"] + v["unparsable"] == 2 for v in verdicts)
