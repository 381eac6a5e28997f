"""PPDPP training: supervised data, SFT with macro scores, REINFORCE, the RL loop and the CLI."""

import json
import random
from pathlib import Path

import pytest
import torch

from agents.ppdpp.planner import StrategyPlanner
from agents.ppdpp.data import PlannerExample, annotated_examples, most_frequent_strategy
from agents.ppdpp.reinforce import planned_turns, reinforce_loss, train_rl
from agents.ppdpp.sft import macro_scores, train_sft
from agents.policies import make_policy
from agents.procot import ProCoTPolicy, parse_strategy
from agents.template import TemplateAgent
from apps.cli import main
from apps.compare import parse_planners
from agents.ppdpp.planner import PlannerPolicy
from simulators.emotional_support import EmotionalSupportEnv
from simulators.negotiation import NegotiationEnv
from simulators.tutoring import TutoringEnv
from workbench.critics import GroundTruthCritic
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_chat_model, tiny_encoder
from workbench.runs import Run
from workbench.splits import split_cases, validation_split

ENVS = (NegotiationEnv, EmotionalSupportEnv, TutoringEnv)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return str(tiny_encoder(tmp_path_factory.mktemp("encoder")))


def scripted(cls, max_turns=None):
    return cls(cls.scripted_simulator(), GroundTruthCritic(cls.ground_truth), max_turns=max_turns)


# -- splits and supervised data -----------------------------------------------------------------
def test_splits_are_deterministic_disjoint_and_complete():
    cases = [Case(id=f"f:{i}", env="x", fields={}) for i in range(500)]
    train, held = split_cases(cases, "train", 0.3), split_cases(cases, "heldout", 0.3)
    assert {c.id for c in train}.isdisjoint(c.id for c in held) and len(train) + len(held) == 500
    assert 0.25 < len(held) / 500 < 0.35 and held == split_cases(list(reversed(cases)), "heldout", 0.3)[::-1]
    assert split_cases(cases, "all") == cases
    with pytest.raises(WorkbenchError, match="unknown split"):
        split_cases(cases, "test")
    with pytest.raises(WorkbenchError, match="empty"):
        split_cases(cases[:1], "heldout", 0.0)
    a, b = validation_split(list(range(100)), [str(i) for i in range(100)], 0.2)
    assert len(a) + len(b) == 100 and 5 < len(b) < 35


@pytest.mark.parametrize("cls", ENVS)
def test_annotated_examples_leave_out_the_heldout_cases(cls):
    examples = annotated_examples(cls)
    assert examples and all(0 <= e.label < len(cls.strategies) for e in examples)
    assert sum(bool(e.text) for e in examples) > len(examples) // 2
    heldout = {c.id for c in split_cases(cls.cases(), "heldout", 0.3)}
    assert not heldout & {e.case_id for e in examples}
    assert most_frequent_strategy(cls) in cls.strategies


def test_annotated_examples_history_and_label():
    case = Case(id="f:1", env="negotiation", fields={"turns": [
        {"role": "Buyer", "text": "hi", "strategy": "greet"}, {"role": "Seller", "text": "hello", "strategy": None},
        {"role": "Buyer", "text": "would you take $5?", "strategy": "propose"}]})
    assert NegotiationEnv.planner_examples([case]) == [("", "greet"), ("Buyer: hi\nSeller: hello", "propose")]
    row = {"sentence": "is the box", "target": "e la scatola", "dialog": [{"speaker": "sys", "text": "Translate."}],
           "strategy": "Hint"}
    (text, label), = TutoringEnv.planner_examples([Case(id="c:1", env="tutoring", fields={
        "turns": [{"role": "Teacher", "text": "Translate."}], "strategy": "Hint", **row})])
    assert (text, label) == ("Teacher: Translate.", "Hint")


def test_malformed_annotations_name_the_row(tmp_path):
    row = {"item_name": "bike", "buyer_item_description": "", "buyer_price": 80, "seller_item_description": "",
           "seller_price": 100, "dialog": [{"speaker": "sys", "text": "hi", "strategy": "haggle"}]}
    bad = tmp_path / "cb.jsonl"
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(WorkbenchError, match=r"cb:1: unknown strategy 'haggle'"):
        annotated_examples(NegotiationEnv, [bad], case_file=bad, heldout=0.0)
    bad.write_text(json.dumps(row | {"dialog": [{"speaker": "sys", "text": "hi"}]}) + "\n")
    with pytest.raises(WorkbenchError, match="no strategy-annotated"):
        annotated_examples(NegotiationEnv, [bad], case_file=bad, heldout=0.0)
    bad.write_text('{"sentence": "is the box", "target": "e la scatola", "dialog": [], "strategy": "Nudge"}\n')
    with pytest.raises(WorkbenchError, match=r":1: unknown strategy 'Nudge'"):
        annotated_examples(TutoringEnv, [bad])
    bad.write_text("{not json\n")
    with pytest.raises(WorkbenchError, match=r"cb.jsonl:1"):
        annotated_examples(TutoringEnv, [bad])


# -- SFT --------------------------------------------------------------------------------------
def keyword_examples(n, seed):
    """A learnable toy: the last word names the label."""
    rng = random.Random(seed)
    words = ["apple", "river", "stone"]
    rows = []
    for i in range(n):
        label = rng.randrange(3)
        rows.append(PlannerExample(f"User: something {rng.randrange(99)} about {words[label]}", label, f"c:{i}"))
    return rows


def test_sft_learns_and_keeps_the_best_checkpoint(encoder_dir, tmp_path):
    planner = StrategyPlanner.from_encoder(["A", "B", "C"], encoder_dir, 32)
    planner.bf16 = False
    train, val = keyword_examples(96, 0), keyword_examples(48, 1)
    before = macro_scores(planner, val)
    records = []
    best = train_sft(planner, train, val, save_to=tmp_path / "sft", epochs=6, lr=3e-3, batch_size=16, seed=0,
                     log=records.append, progress=False)
    assert best["f1"] >= max(r["val_f1"] for r in records) and best["f1"] > before["f1"] + 0.3
    assert best["f1"] > 0.8 and set(best) == {"epoch", "precision", "recall", "f1", "accuracy"}
    saved = StrategyPlanner.load(tmp_path / "sft")
    saved.bf16 = False
    assert macro_scores(saved, val)["f1"] == pytest.approx(best["f1"])


# -- REINFORCE --------------------------------------------------------------------------------
def episode(strategies_rewards, opening=True):
    turns = [Turn("Buyer", "Hi, how much is it?", info={"opening": True}), Turn("Seller", "It is $100.")] if opening else []
    for i, (strategy, reward) in enumerate(strategies_rewards):
        turns += [Turn("Buyer", f"move {i}", strategy=strategy, reward=reward), Turn("Seller", f"reply {i}")]
    return Episode(id="e", env="negotiation", case=Case(id="c", env="negotiation", fields={}), turns=turns, outcome={})


def test_per_turn_baseline_compares_episodes_at_the_same_turn():
    from agents.ppdpp.reinforce import _standardise_per_turn

    g = _standardise_per_turn([torch.tensor([-3.0, -2.0, -1.0]), torch.tensor([-1.0, 0.0]), torch.tensor([-2.0])])
    assert g.tolist() == pytest.approx([-1.2247, -1.0, 0.0, 1.2247, 1.0, 0.0], abs=1e-4)


def test_planned_turns_skip_the_opening_and_carry_rewards():
    rows = planned_turns(episode([("greet", -0.1), ("agree", 0.4)]), "Buyer")
    assert [(s, r) for _, s, r in rows] == [("greet", -0.1), ("agree", 0.4)]
    assert rows[1][0].endswith("Buyer: move 0\nSeller: reply 0")


@pytest.mark.parametrize("normalise", ["episode", "batch", "turn", "value", "none"])
def test_reinforce_step_raises_the_rewarded_strategy(encoder_dir, normalise):
    names = [s.name for s in NegotiationEnv.strategies]
    planner = StrategyPlanner.from_encoder(names, encoder_dir, 64).eval()
    planner.bf16 = False
    good = episode([("greet", -0.1), ("greet", -0.1), ("agree", 1.0)])
    history = planned_turns(good, "Buyer")[2][0]
    before = planner([history]).softmax(-1)[0, names.index("agree")].item()
    optimizer = torch.optim.SGD(planner.parameters(), lr=0.5)
    torch.manual_seed(0)
    value = torch.nn.Linear(planner.head.in_features, 1) if normalise == "value" else None
    loss = reinforce_loss(planner, [good, episode([("deny", -1.0), ("agree", 1.0)])], "Buyer", normalise=normalise,
                          value=value)
    loss.backward()
    optimizer.step()
    assert planner([history]).softmax(-1)[0, names.index("agree")].item() > before
    assert reinforce_loss(planner, [episode([])], "Buyer") is None
    with pytest.raises(WorkbenchError, match="unknown normalise"):
        reinforce_loss(planner, [good], "Buyer", normalise="sometimes")
    with pytest.raises(WorkbenchError, match="needs a value head"):
        reinforce_loss(planner, [good], "Buyer", normalise="value" if value is None else "batch", value=value)


def greedy_return(planner, env, cases, seed):
    from workbench.rollout import rollout

    episodes = rollout(env, TemplateAgent(type(env), PlannerPolicy(planner, type(env), greedy=True)), cases,
                       n=len(cases), seed=seed, progress=False)
    return sum(e.total_reward for e in episodes) / len(episodes)


def test_short_seeded_rl_run_improves_on_its_untrained_start(encoder_dir, tmp_path):
    torch.manual_seed(0)
    env = scripted(NegotiationEnv, max_turns=4)
    cases = NegotiationEnv.cases()
    train, held = split_cases(cases, "train"), split_cases(cases, "heldout")[:24]
    planner = StrategyPlanner.from_encoder([s.name for s in env.strategies], encoder_dir, 64)
    start = greedy_return(planner, env, held, seed=7)
    run = Run.open(tmp_path / "rl", {"test": True})
    agent = TemplateAgent(NegotiationEnv, PlannerPolicy(planner, NegotiationEnv))
    records = train_rl(planner, env, agent, train, episodes=96, batch_size=16, lr=1e-2, normalise="batch",
                       update="batch", seed=0, run=run, checkpoint=tmp_path / "rl" / "ckpt", progress=False)
    assert len(records) == 6 and len(run.episodes()) == 96
    assert greedy_return(planner, env, held, seed=7) > start + 0.2  # held-out cases, the same seeds
    assert records[-1]["return"] > records[0]["return"] + 0.1  # and the sampled self-play batches
    # a rerun with more episodes resumes at the checkpoint
    more = train_rl(planner, env, agent, train, episodes=128, batch_size=16, lr=1e-2, normalise="batch",
                    update="batch", seed=0, run=run, checkpoint=tmp_path / "rl" / "ckpt", progress=False)
    assert [r["update"] for r in more] == [7, 8] and len(run.episodes()) == 128


def test_frozen_standardised_rl_trains_the_head_on_the_rollout_features(encoder_dir, tmp_path, monkeypatch):
    env = scripted(NegotiationEnv, max_turns=3)
    planner = StrategyPlanner.from_encoder([s.name for s in env.strategies], encoder_dir, 64)
    encoder = {k: v.clone() for k, v in planner.encoder.state_dict().items()}
    head = planner.head.weight.detach().clone()
    encoded = []
    real = planner._encode
    monkeypatch.setattr(planner, "_encode", lambda texts: encoded.append(len(texts)) or real(texts))
    run = Run.open(tmp_path / "rl", {"test": True})
    agent = TemplateAgent(NegotiationEnv, PlannerPolicy(planner, NegotiationEnv))
    train_rl(planner, env, agent, NegotiationEnv.cases()[:8], episodes=16, batch_size=8, lr=1e-2, normalise="turn",
             update="batch", freeze_encoder=True, standardise_features=True, seed=0, run=run,
             checkpoint=tmp_path / "ckpt", progress=False)
    assert all(torch.equal(v, planner.encoder.state_dict()[k]) for k, v in encoder.items())
    assert not torch.equal(head, planner.head.weight)
    distinct = [{h for e in run.episodes() if e.provenance["update"] == u for h, _, _ in planned_turns(e, "Buyer")}
                for u in (0, 1)]
    assert sum(encoded) == sum(map(len, distinct))  # each history encoded once: the update reused the rollout's
    assert planner.features == {}  # forgotten after every update
    turns = sum(len(planned_turns(e, "Buyer")) for e in run.episodes())
    assert planner.standardise.count == turns and planner.standardise.var.min() > 0  # every turn observed


# -- baselines ---------------------------------------------------------------------------------
def test_parse_strategy_and_planner_specs():
    assert parse_strategy(EmotionalSupportEnv, "Strategy: reflection of feelings.").name == "Reflection of feelings"
    assert parse_strategy(NegotiationEnv, "I would counter-noprice here").name == "counter-noprice"
    assert parse_strategy(NegotiationEnv, "counter, then agree").name == "counter"
    assert parse_strategy(TutoringEnv, "I don't know") is None
    assert parse_planners(["random", "RL=planner:/x/y", "planner:a=b"]) == [
        ("random", "random"), ("RL", "planner:/x/y"), ("planner:a=b", "planner:a=b")]
    with pytest.raises(WorkbenchError, match="unknown policy"):
        make_policy("best", NegotiationEnv)
    with pytest.raises(WorkbenchError, match="needs an agent chat model"):
        make_policy("procot", NegotiationEnv)
    assert make_policy("most-frequent", TutoringEnv).strategy.name == "Hint"


def test_procot_policy_falls_back_on_unparsable_answers():
    env = scripted(TutoringEnv)
    states = [env.begin(c, i) for i, c in enumerate(TutoringEnv.cases()[:3])]
    policy = ProCoTPolicy(tiny_chat_model(max_tokens=4), TutoringEnv)
    choices = policy.choose(states)
    assert all(s in TutoringEnv.strategies and p is None for s, p in choices)
    assert policy.unparsed == 3  # a random tiny model names no strategy


# -- CLI ---------------------------------------------------------------------------------------
def test_train_both_stages_then_evaluate_against_baselines(encoder_dir, tmp_path, capsys):
    out = tmp_path / "ppdpp"
    example = Path(__file__).parents[1] / "examples" / "ppdpp" / "scripted.yaml"  # the 3-seed example's config
    argv = ["train", "ppdpp", "--config", str(example), "--env", "tutoring", "--encoder", encoder_dir,
            "--sft_max_examples", "48", "--rl_episodes", "16", "--batch_size", "8", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "## SFT" in text and "## RL (16 episodes" in text
    for name in ("sft/planner.json", "rl/planner.json", "checkpoints/rl/state.json", "plots/sft.png", "plots/rl.png"):
        assert (out / name).is_file(), name
    events = [r["event"] for r in Run(out).metrics()]
    assert events.count("sft") == 1 and events.count("rl") == 2
    assert main(argv[:-3] + ["--rl_episodes", "24", "--out", str(out), "--resume", "--no-progress"]) == 0
    capsys.readouterr()
    events = [r["event"] for r in Run(out).metrics()]
    assert events.count("sft") == 1 and events.count("rl") == 3  # SFT reused, RL resumed at update 3

    assert main(["evaluate", "--env", "tutoring", "--planners", "random", "most-frequent", f"SFT=planner:{out}/sft",
                 f"RL=planner:{out}/rl", f"RL=planner:{out}/rl", "-n", "6", "--out", str(tmp_path / "eval"),
                 "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "| planner | episodes | SR | AT | return |" in table
    assert "| RL | 12 |" in table and "| most-frequent | 6 |" in table
    assert (tmp_path / "eval" / "plots" / "sr_by_turn.png").stat().st_size > 1000
    episodes = Run(tmp_path / "eval").episodes()
    seeds = {label: sorted(e.id for e in episodes if e.provenance["planner"] == label) for label in ("random", "SFT")}
    assert seeds["random"] == seeds["SFT"]  # the same cases and seeds for every planner


def test_evaluate_llm_baselines_and_bad_input(tmp_path, capsys):
    from workbench.llm.tiny import tiny_causal_lm

    model = str(tiny_causal_lm(tmp_path / "tiny"))
    assert main(["evaluate", "--env", "emotional_support", "--agent_model", model, "--planners", "Standard=none",
                 "ProCoT=procot", "random", "-n", "2", "--max_turns", "2", "--max_new_tokens", "8",
                 "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "| Standard | 2 |" in table and "| ProCoT | 2 |" in table
    unparsed = [r for r in Run(tmp_path / "eval").metrics() if r["event"] == "unparsed_plans"]
    assert unparsed and unparsed[0]["planner"] == "ProCoT"
    for argv, message in (
        (["evaluate", "--env", "tutoring", "--planners", "none"], "needs a strategy policy"),
        (["evaluate", "--env", "tutoring", "--planners", "planner:/nowhere"], "no planner at /nowhere"),
        (["train", "ppdpp", "--env", "tutoring", "--stage", "sometimes"], "unknown stage"),
        (["train", "ppdpp", "--env", "tutoring", "--stage", "rl", "--init", str(tmp_path)], "no planner at"),
        (["train", "ppdpp", "--env", "tutoring", "--encoder", "/nowhere"], "unknown encoder"),
        (["train", "ppdpp", "--env", "tutoring", "--normalise", "often"], "unknown normalise 'often'"),
    ):
        assert main(argv + ["--out", str(tmp_path / "bad"), "--no-progress"]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
