"""Retroformer's training on a tiny random model: SFT on the positively rated reflections moves the model's
reflections toward them (log-probabilities measured before and after), the whole pipeline (collect, SFT, reward
model, PPO) runs and resumes without redoing a finished stage or a PPO iteration, the untrained and trained
reflectors compared by ``workbench evaluate --reflection``, and bad options refused before a run folder exists."""

import json

import pytest
import torch
from langchain_core.language_models import FakeListChatModel

from agents.retroformer.config import RetroformerConfig
from agents.retroformer.reflector import EMPTY, LLMReflector
from agents.retroformer.train import Replay, preference_pairs, prompt_texts, run_retroformer, sft_stage
from agents.retroformer.actor import ReflectionFollowingPolicy
from agents.policies import make_policy
from agents.template import TemplateAgent
from apps.cli import main
from workbench.llm.tiny import tiny_causal_lm
from workbench.registry import env_class, make_env
from workbench.runs import Run
from workbench.splits import split_cases

ENV = "negotiation"
GOOD, BAD = "Prefer agree.", "Prefer greet."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    names = [s.name for s in env_class(ENV).strategies]
    corpus = [f"Prefer {n}. Use {n} first. Avoid {n}." for n in names] * 4
    return str(tiny_causal_lm(tmp_path_factory.mktemp("retro-model"), corpus=corpus, vocab_size=1024))


def failed_trials(n=6):
    cls = env_class(ENV)
    actor = TemplateAgent(cls, ReflectionFollowingPolicy(make_policy("most-frequent", cls), cls.strategies, 0.8))
    replay = Replay(make_env(ENV), actor, split_cases(cls.cases(), "train")[:24], seed=0, batch_size=32)
    return replay, [e for e in replay.first_trials() if not e.success][:n]


def test_an_empty_reflection_is_replaced_and_marked():
    _, failed = failed_trials(2)
    reflector = LLMReflector(FakeListChatModel(responses=["", "Reflection: Prefer agree.\nmore"]), env_class(ENV))
    out = reflector.reflect(failed, [[], ["Earlier."]])
    assert out[0].text == EMPTY and out[0].info["fallback"]
    assert out[1].text == GOOD and "fallback" not in out[1].info
    prompt = prompt_texts(reflector, failed[:1])[0]
    assert prompt.endswith("\nReflection:") and "Strategies: greet, inquire" in prompt


def mean_logprob(model_dir, prompts, completion):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)
    total = 0.0
    for prompt in prompts:
        p, c = tok(prompt)["input_ids"], tok(completion, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + c])
        with torch.no_grad():
            logps = torch.log_softmax(model(ids).logits[0, :-1], -1)
        total += sum(logps[len(p) - 1 + k, t].item() for k, t in enumerate(c))
    return total / len(prompts)


def test_sft_on_positive_reflections_moves_the_reflections_toward_them(tiny, tmp_path):
    _, failed = failed_trials()
    prompts = prompt_texts(LLMReflector(FakeListChatModel(responses=["x"]), env_class(ENV)), failed)
    rows = [{"index": i, "prompt": p, "reflection": text, "rating": rating, "fallback": fallback}
            for i, p in enumerate(prompts)
            for text, rating, fallback in ((GOOD, 0.8, False), (BAD, -0.2, False), ("No reflection.", -0.5, True))]
    assert preference_pairs(rows) == [{"prompt": p, "chosen": f" {GOOD}", "rejected": f" {BAD}"} for p in prompts]
    config = RetroformerConfig(env=ENV, model=tiny, epochs=8, lr=3e-3, train_batch_size=4, max_length=4096)
    with Run.open(tmp_path / "run", {}) as run:
        record = sft_stage(run, config, rows)
    assert record["rows"] == len(prompts)  # only the positively rated reflections (fallbacks never)
    before_good, before_bad = (mean_logprob(tiny, prompts, f" {t}\n") for t in (GOOD, BAD))
    after_good, after_bad = (mean_logprob(record["model"], prompts, f" {t}\n") for t in (GOOD, BAD))
    assert after_good - before_good > 2.0  # nats: the positive reflection became far likelier
    assert after_good - after_bad > before_good - before_bad + 1.0  # and likelier relative to the negative one


def options(tiny, out, **changes):
    return RetroformerConfig(**({"env": ENV, "model": tiny, "cases": 12, "samples": 2, "reflection_tokens": 6,
                                 "ppo_iterations": 1, "ppo_cases": 2, "ppo_samples": 2, "epochs": 1.0,
                                 "max_length": 4096, "out": str(out), "progress": False} | changes))


def test_the_pipeline_runs_every_stage_and_resumes_exactly_once(tiny, tmp_path):
    run, text = run_retroformer(options(tiny, tmp_path / "r"))
    stages = json.loads((run.path / "stages.json").read_text())
    assert list(stages) == ["collect", "sft", "reward", "ppo"] and stages["ppo"]["iterations"] == 1
    ratings = (run.path / "collect" / "ratings.jsonl").read_text()
    rows = [json.loads(line) for line in ratings.splitlines()]
    assert len(rows) == 2 * stages["collect"]["failed"]
    assert all(r["rating"] == pytest.approx(r["return_after"] - r["return_before"]) for r in rows)
    assert (run.path / "model" / "config.json").is_file() and (run.path / "plots" / "ppo.png").is_file()
    run, _ = run_retroformer(options(tiny, tmp_path / "r", resume=True, ppo_iterations=3))
    assert (run.path / "collect" / "ratings.jsonl").read_text() == ratings  # the finished stage was not redone
    iterations = [r["iteration"] for r in run.metrics() if r.get("event") == "ppo"]
    assert iterations == [1, 2, 3]
    assert "## ppo" in text and "iterations: 3" in (run.path / "summary.md").read_text()


def test_evaluate_compares_reflection_variants_by_trial(tiny, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--env", ENV, "--reflection", "none", "untrained=reflexion", "--reflector_model", tiny,
                 "--policy", "most-frequent", "--trials", "3", "-n", "6", "--reflection_tokens", "4",
                 "--out", str(out), "--no_progress"]) == 0
    printed = capsys.readouterr().out
    assert "| none | 6 |" in printed and "| untrained | 6 |" in printed and "SR@3" in printed
    assert (out / "plots" / "sr_by_trial.png").is_file()
    rows = Run(out).reflections()
    assert rows and {r["variant"] for r in rows} == {"untrained"}
    table = {r["variant"]: r for r in Run(out).metrics() if r.get("event") == "evaluate"}
    last: dict = {}
    for e in Run(out).episodes():  # each case's last trial: the environment's own metric over them
        key = (e.provenance["variant"], e.provenance["index"])
        if key not in last or e.provenance["trial"] > last[key].provenance["trial"]:
            last[key] = e
    for variant in ("none", "untrained"):
        mine = [e for (v, _), e in last.items() if v == variant]
        assert table[variant]["SL% (last trial)"] == pytest.approx(env_class(ENV).metrics(mine)["SL%"])
    assert "(last trial): over each case's last trial played" in printed


def test_bad_options_are_refused_before_a_run_folder_exists(tiny, tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["evaluate", "--env", ENV, "--reflection", "retro", "--out", str(out)]) == 2
    assert "unknown reflection variant 'retro'" in capsys.readouterr().err
    assert main(["train", "retroformer", "--env", ENV, "--model", tiny, "--no_reward_model", "--ppo_reward", "model",
                 "--out", str(out)]) == 2
    assert "--ppo_reward model needs the reward model stage" in capsys.readouterr().err
    assert not out.exists()
    assert main(["evaluate", "--env", ENV, "--reflection", f"retroformer:{tmp_path / 'missing'}",
                 "--out", str(out)]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["evaluate", "--env", ENV, "--reflection", "a=none", "a=reflexion", "--out", str(out)]) == 2
    assert "the label 'a' is given twice" in capsys.readouterr().err
    assert not out.exists()
