"""``workbench train itool`` end to end on a tiny random model: the warm-up curriculum's order (each level trained
on the previous level's merged model), an iteration's pairs stored in TRL's preference format, resume that adds an
iteration without redoing any finished stage, and bad options refused before a run folder exists."""

import json

import pytest

from agents.itool.config import ITOOLConfig
from agents.itool.data import expert_rows
from agents.itool.train import run_itool
from simulators.tool_use.cases import load_cases
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_causal_lm
from workbench.registry import make_env

CASES = ["tasks:easy,medium,hard", "bfcl:simple_python,parallel_multiple"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random Llama whose tokenizer learnt the tool-use prompts (so they fit in a few hundred tokens)."""
    prompts = [r["prompt"] + r["completion"] for source in CASES
               for r in expert_rows(make_env("tool_use"), load_cases(source)[:6])]
    return str(tiny_causal_lm(tmp_path_factory.mktemp("itool-model"), corpus=prompts, vocab_size=2048))


def options(tiny, out, **changes):
    return ITOOLConfig(**({"model": str(tiny), "cases": CASES, "warmup_cases": 2, "iteration_cases": 4,
                           "iterations": 1, "simulations": 3, "children": 2, "max_depth": 2, "max_new_tokens": 6,
                           "min_gap": 0.0, "max_length": 4096, "batch_size": 2, "grad_accum": 1,
                           "out": str(out), "progress": False} | changes))


def stage_events(run_path):
    return [json.loads(line)["stage"] for line in (run_path / "metrics.jsonl").read_text().splitlines()
            if json.loads(line).get("event") == "stage"]


@pytest.fixture(autouse=True)
def varied_values(monkeypatch):
    """Node values that differ between siblings: a random model's calls all score 0 on the real fast reward, and
    equal values give no pair (the real reward is tested in test_itool_rewards, MCTS in test_itool_mcts)."""
    monkeypatch.setattr("agents.itool.rewards.fast_reward", lambda text, reference: len(text) % 5 / 4)


def test_curriculum_then_iteration_then_resume_adds_one_iteration(tiny, tmp_path):
    out = tmp_path / "run"
    run, text = run_itool(options(tiny, out))
    stages = json.loads((out / "stages.json").read_text())
    assert list(stages) == ["warmup-easy", "warmup-medium", "warmup-hard", "iteration-1"]
    base = str(tiny)
    for name in ("warmup-easy", "warmup-medium", "warmup-hard"):  # easy -> medium -> hard, each on the last
        assert stages[name]["rows"] > 0 and stages[name]["base"] == base
        assert (out / name / "merged" / "config.json").is_file()
        base = stages[name]["model"]
    assert stages["iteration-1"]["base"] == base
    pairs = [json.loads(line) for line in (out / "iteration-1" / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(set(p) == {"prompt", "chosen", "rejected"} and p["chosen"] != p["rejected"] for p in pairs)
    assert stages["iteration-1"]["pairs"] == len(pairs) and stages["iteration-1"]["searched"] >= 1
    assert "model" in stages["iteration-1"] and "| iteration-1 |" in text
    assert (out / "plots" / "itool.png").is_file()
    first_pairs = (out / "iteration-1" / "pairs.jsonl").read_bytes()

    run_itool(options(tiny, out, iterations=2, resume=True))
    stages = json.loads((out / "stages.json").read_text())
    assert list(stages) == ["warmup-easy", "warmup-medium", "warmup-hard", "iteration-1", "iteration-2"]
    assert stages["iteration-2"]["base"] == stages["iteration-1"]["model"]
    assert (out / "iteration-1" / "pairs.jsonl").read_bytes() == first_pairs
    assert stage_events(out) == list(stages)  # every stage logged once: nothing was redone


def test_an_interrupted_iteration_reuses_its_stored_pairs(tiny, tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_itool(options(tiny, out, warmup=False, loss="dpo"))
    stages = json.loads((out / "stages.json").read_text())
    assert list(stages) == ["iteration-1"] and stages["iteration-1"]["base"] == str(tiny)
    del stages["iteration-1"]  # as if stopped after the search, before the preference step was recorded
    (out / "stages.json").write_text(json.dumps(stages))
    import agents.itool.train as train

    monkeypatch.setattr(train, "search", lambda *a, **k: pytest.fail("the stored pairs should be reused"))
    run_itool(options(tiny, out, warmup=False, loss="dpo", resume=True))
    assert "iteration-1" in json.loads((out / "stages.json").read_text())


@pytest.mark.parametrize("changes, message", [
    ({"cases": ["nope"]}, "unknown tool-use case source 'nope'"),
    ({"env": "negotiation"}, "has no expert_reply"),
    ({"env": "nowhere"}, "nowhere"),
    ({"model": "/no/such/model"}, "/no/such/model"),
])
def test_bad_options_fail_before_a_run_folder_is_made(tiny, tmp_path, changes, message):
    out = tmp_path / "run"
    with pytest.raises(WorkbenchError, match=message):
        run_itool(options(tiny, out, **changes))
    assert not out.exists()
