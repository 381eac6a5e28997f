"""MultiCritique end to end on fake critics and a tiny random model: the critic training stages and their resume,
the benchmark command, and a critique model as an environment's critic (``critique`` / ``critic:<folder>``)."""

from __future__ import annotations

import json
from collections import Counter
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import agents.multicritique.train as train_module
from agents.multicritique.config import BenchmarkConfig, CriticConfig
from agents.multicritique.train import run_critic
from agents.policies import make_policy
from agents.simulation import SimulationConfig, build_simulation
from apps.cli import main
from apps.critique import run_benchmark
from workbench.critique.critic import CritiqueCritic
from workbench.critique.labels import label
from workbench.critique.marv import Validated, marv_pairs
from workbench.critique.prompts import agent_turn_numbers
from workbench.episodes import Case, Turn, load_episodes
from workbench.env import DialogueState
from workbench.llm.tiny import tiny_causal_lm
from workbench.registry import env_class
from workbench.rollout import rollout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(tiny_causal_lm(tmp_path_factory.mktemp("critic-model"), vocab_size=1024))


def acu(turn, criterion, severity=7):
    return f"Verdict: failure\nScore: 3\nACU: turn {turn} | {criterion} | severity {severity} | flaw: x | suggestion: y"


REVISIONS = ["Deal, I'll take it.", "Hi there, how are you today?", "I'll give you $1, that's ridiculous.",
             "You should try to relax."]


class Fakes:
    """``load`` for the tests: the critic agents answer from ``critiques`` in turn, the reviser says hello."""

    def __init__(self, critiques):
        self.critiques, self.calls = critiques, 0

    def __call__(self, specs, seed):
        self.calls += 1
        return [FakeListChatModel(responses=REVISIONS) if "reviser" in s
                else FakeListChatModel(responses=self.critiques) for s in specs]


def options(tiny, out, **changes):
    return CriticConfig(**({"envs": ["negotiation", "emotional_support"], "model": tiny, "critic_models": ["a", "b"],
                            "reviser": "reviser", "personas": 2, "dialogues": 6, "epochs": 1, "dpo_epochs": 1,
                            "max_length": 4096, "out": str(out), "progress": False} | changes))


def test_training_runs_every_stage_and_resumes_exactly_once(tiny, tmp_path, monkeypatch):
    fakes = Fakes([acu(1, "lowball"), acu(2, "lowball"), acu(1, "advice-before-exploration"), "no idea"])
    monkeypatch.setattr(train_module, "load", fakes)
    monkeypatch.setattr("workbench.llm.resolve.check_spec", lambda spec: None)
    run, text = run_critic(options(tiny, tmp_path / "c"))
    stages = json.loads((run.path / "stages.json").read_text())
    assert list(stages) == ["collect", "sft", "marv", "dpo"]
    rows = [json.loads(line) for line in (run.path / "collect" / "critiques.jsonl").read_text().splitlines()]
    assert {r["env"] for r in rows} == {"negotiation", "emotional_support"}
    assert stages["sft"]["rows"] == sum(r["sft"] for r in rows)
    assert all(len(r["panel"]) == 4 for r in rows)  # 2 models x 2 personas
    # the ground-truth meta-critic keeps only ACUs whose turn did harm under their criterion
    episodes = {e.id: e for e in load_episodes(run.path / "collect" / "episodes.jsonl")}
    for r in rows:
        for line in r["merged"].splitlines()[2:]:
            turn = int(line.split("turn ")[1].split(" ")[0])
            turns = episodes[r["episode"]].turns
            flaws = [turns[i].info.get("flaw") for i in agent_turn_numbers(turns, env_class(r["env"]).agent_role)]
            assert flaws[turn - 1] and flaws[turn - 1]["criterion"] in line
    pairs = [json.loads(line) for line in (run.path / "marv" / "pairs.jsonl").read_text().splitlines()]
    groups = [Validated(**json.loads(line)) for line in (run.path / "marv" / "groups.jsonl").read_text().splitlines()]
    assert pairs == marv_pairs(groups, max_pairs=2) and stages["marv"]["pairs"] == len(pairs) > 0
    assert all(len(s) == 2 for g in groups for s in g.scores if s)  # --revisions 2 of every critique with an ACU
    assert "model" in stages["dpo"]
    assert (run.path / "model" / "config.json").is_file()
    assert json.loads((run.path / "critic.json").read_text())["envs"] == ["negotiation", "emotional_support"]
    from workbench.llm.resolve import critic_model_folder

    assert critic_model_folder(f"critic:{run.path}/sft") == str((run.path / "sft" / "merged").resolve())
    before, calls = (run.path / "collect" / "critiques.jsonl").read_text(), fakes.calls
    run, _ = run_critic(options(tiny, tmp_path / "c", resume=True))
    assert (run.path / "collect" / "critiques.jsonl").read_text() == before and fakes.calls == calls
    assert "## dpo" in text

    # the trained critic as the environment's critic: its verdict and score are the turn reward
    sim = build_simulation(SimulationConfig(env="negotiation", critic="llm", critic_model=f"critic:{run.path}",
                                            critic_samples=2))
    assert isinstance(sim.env.critic, CritiqueCritic)
    (episode,) = rollout(sim.env, sim.agent(make_policy("random", sim.cls), SimulationConfig()), sim.cls.cases()[:1],
                         n=1, progress=False)
    verdict = next(t.info["verdict"] for t in episode.turns if "verdict" in t.info)
    assert verdict["samples"] == 2 and verdict["parsed"] + verdict["unparsable"] == 2


def test_critique_critic_maps_verdict_and_score_to_reward_and_counts_unparsable():
    cls = env_class("negotiation")
    state = DialogueState(Case("c", "negotiation", {}), "negotiation", "Buyer", "Seller", 8, 0,
                          turns=[Turn("Buyer", "Hi"), Turn("Seller", "Hello")])
    model = FakeListChatModel(responses=["Verdict: success\nScore: 10", "I cannot say"])
    (verdict,) = CritiqueCritic(model, cls, samples=2).judge([state])
    assert (verdict.done, verdict.success, verdict.reward) == (True, True, pytest.approx(1.5))
    assert verdict.info == {"samples": 2, "parsed": 1, "unparsable": 1, "critique_verdict": "success", "score": 10}
    (verdict,) = CritiqueCritic(FakeListChatModel(responses=["hmm"]), cls, samples=1).judge([state])
    assert (verdict.done, verdict.reward, verdict.info["unparsable"]) == (False, 0.0, 1)


def test_the_benchmark_scores_each_critic_and_resumes_without_critiquing_again(tmp_path, monkeypatch, capsys):
    fakes = Fakes([acu(1, "lowball", 9)])
    monkeypatch.setattr(train_module, "load", fakes)
    monkeypatch.setattr("apps.critique.check_critics", lambda critics: None)
    config = BenchmarkConfig(env="negotiation", critics=["single", "merged"], cases=8, personas=2, progress=False,
                             out=str(tmp_path / "b"))
    run, text = run_benchmark(config)
    items = [label(e, "Buyer") for e in load_episodes(run.path / "items" / "negotiation.jsonl")]
    items = [i for i in items if i]
    expected = sum(1 in i.worst for i in items) / len(items)
    rows = {r["critic"]: r for r in run.metrics() if r.get("event") == "critic"}
    assert rows["single"]["location accuracy"] == pytest.approx(expected)
    lowball = sum("lowball" in i.worst.values() for i in items) / len(items)
    assert rows["single"]["flaw accuracy"] == pytest.approx(lowball)
    # the untrained meta-critic (the same fake) answers nothing parsable: a cluster found by both personas stays
    assert rows["merged"]["location accuracy"] == pytest.approx(expected)
    assert (run.path / "plots" / "critique_benchmark.png").is_file() and "| single |" in text
    common = Counter(t for i in items for t in i.worst).most_common(1)[0][0]
    assert f"| constant (reference) | {round(sum(common in i.worst for i in items) / len(items), 4):g}" in text
    calls = fakes.calls
    run, again = run_benchmark(BenchmarkConfig(**{**vars(config), "resume": True}))
    assert fakes.calls == calls and again == text


@pytest.mark.parametrize("argv,message", [
    (["train", "critic", "--envs", "negotiation", "household"], "environment 'household' has no critique criteria"),
    (["critique", "--env", "hotpotqa"], "environment 'hotpotqa' has no critique criteria"),
    (["critique", "--critics", "single", "/no/such/model"], "unknown model spec '/no/such/model'"),
    (["selfplay", "--env", "negotiation", "--critic", "llm", "--critic_model", "critic:/no/run", "-n", "1"],
     "is not a finished `workbench train critic` run"),
])
def test_bad_options_are_one_line_errors(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_a_critic_is_the_critique_source_of_hindsight_regeneration():
    from workbench.hindsight.regenerate import regenerate
    from workbench.hindsight.replay import Move, Plan
    from workbench.registry import make_env

    env = make_env("negotiation")
    cases = env_class("negotiation").cases()[:2]
    plans = [Plan(c.id, c, 7 + i, [Move("propose"), Move("propose"), Move("agree")]) for i, c in enumerate(cases)]
    named = FakeListChatModel(responses=["ACU: turn 2 | lowball | severity 8 | flaw: x | suggestion: counter instead"])
    data = regenerate(env, plans, mode="llm", model=named, keep="all", progress=False, critique=True)
    branches = [e for e in data if e.provenance["hindsight"] == "regenerated"]
    assert {(b.provenance["turn"], b.provenance["strategy"], b.provenance["criterion"]) for b in branches} == {
        (1, "counter", "lowball")} and len(branches) == 2
    unnamed = FakeListChatModel(responses=["ACU: turn 1 | lowball | severity 8 | flaw: x | suggestion: be nicer"])
    data = regenerate(env, plans[:1], mode="llm", model=unnamed, keep="all", progress=False, critique=True)
    branches = [e for e in data if e.provenance["hindsight"] == "regenerated"]
    assert sorted(b.provenance["strategy"] for b in branches) == sorted(
        s.name for s in env.strategies if s.name != "propose")  # every other strategy at the blamed turn


def test_a_critic_judges_c3po_adherence_by_its_critiques_scores(caplog):
    from agents.c3po.evaluate import CritiqueJudge

    scores = iter(["Score: 3", "Score: 8", "Score: 5", "Verdict: failure\nScore: 9", "Score: 2", "no score here"])
    model = FakeListChatModel(responses=list(scores))
    judge = CritiqueJudge(model, "Do not use emojis.")
    # the before replies score 3, 8, 5; the after replies 9, 2 and none
    assert judge.prefer(["a", "b", "c"], ["d", "e", "f"]) == [1.0, 0.0, 0.5]
    assert "1 of 6 critiques gave no score" in caplog.text
