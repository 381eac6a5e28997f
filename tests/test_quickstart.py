"""``workbench quickstart``: trains, evaluates against the baselines with per-seed spreads, speaks dialogues."""

import json
import subprocess
import sys

import pytest

from apps.quickstart import BASELINES, TRAINED, spread_rows, spread_table, verdict
from workbench.llm.tiny import tiny_causal_lm, tiny_encoder


def test_spread_rows_and_table_show_mean_and_range():
    per_seed = [{"random": {"SR": 0.5, "AT": 5.0}, TRAINED: {"SR": 0.9, "AT": 3.0}},
                {"random": {"SR": 0.3, "AT": 5.0}, TRAINED: {"SR": 1.0, "AT": 2.0}}]
    rows = spread_rows(per_seed)
    assert rows["random"]["SR"] == pytest.approx((0.4, 0.3, 0.5))
    table = spread_table(rows)
    assert "| random | 0.4 (0.3 to 0.5) | 5.0 |" in table  # no range where the seeds agree
    assert f"| {TRAINED} | 0.95 (0.9 to 1.0) | 2.5 (2.0 to 3.0) |" in table


def test_verdict_counts_the_seeds_where_the_planner_beat_every_baseline():
    seed = {"random": {"SR": 0.5, "return": -0.4}, "most-frequent": {"SR": 0.6, "return": -0.3},
            TRAINED: {"SR": 0.55, "return": 0.1}}
    assert verdict([seed]) == ("The trained planner beat both baselines in 0 of 1 seeds on SR and in 1 of 1 "
                               "on return.")


def test_quickstart_end_to_end_with_tiny_models(tmp_path):
    encoder = tiny_encoder(tmp_path / "encoder")
    model = tiny_causal_lm(tmp_path / "model")
    out = tmp_path / "qs"
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli", "quickstart", "--env", "tutoring", "--seeds", "2", "--rl_episodes", "32",
         "--eval_episodes", "4", "--encoder", str(encoder), "--dialogues", "1", "--dialogue_turns", "2",
         "--agent_model", str(model), "--max_new_tokens", "4", "--no_progress", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    for label in (*BASELINES, TRAINED):
        assert f"| {label} |" in text
    assert "beat both baselines in" in text and "of 2 seeds on SR" in text
    assert "1 dialogue spoken by" in text and "Teacher [" in text
    assert "replaced replies" in text  # the spoken dialogues' fallback rate stands beside their metrics
    assert (out / "plots" / "sr_by_turn.png").stat().st_size > 0 and (out / "plots" / "training.png").exists()
    assert "| trained planner |" in (out / "summary.md").read_text()
    for seed in (0, 1):
        assert (out / f"planner-seed{seed}" / "rl").is_dir()
        rows = [json.loads(line) for line in (out / f"eval-seed{seed}" / "metrics.jsonl").read_text().splitlines()]
        assert {r["planner"] for r in rows if r.get("event") == "evaluate"} == {*BASELINES, TRAINED}
    assert len((out / "dialogues" / "episodes" / "episodes.jsonl").read_text().splitlines()) == 1


def test_quickstart_refuses_an_environment_without_a_scripted_simulator_before_any_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "apps.cli", "quickstart", "--env", "nowhere", "--out",
                             str(tmp_path / "qs")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown environment 'nowhere'")
    assert not (tmp_path / "qs").exists()


def test_quickstart_refuses_an_environment_without_human_dialogues_before_any_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "apps.cli", "quickstart", "--env", "marketplace", "--out",
                             str(tmp_path / "qs")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "which marketplace lacks (use " in result.stderr and "negotiation" in result.stderr
    assert not (tmp_path / "qs").exists()
