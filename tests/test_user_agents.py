"""Trained Commander user agents (agents.user_agents): the classifier learns a toy pattern, both agents save and
load, the LoRA path trains a tiny model through the TRL wrapper and counts its fallbacks, and both are user-agent
specs and ``workbench train`` methods."""

from __future__ import annotations

import json
import random

import pytest
import torch

from agents.user_agents import METHODS, register_user_agents
from agents.user_agents.classifier import UTTERANCES, ClassifierUserAgent, best_threshold, train_classifier
from agents.user_agents.config import UserClassifierConfig, UserSFTConfig
from agents.user_agents.lora import LABEL, LoRAUserAgent, balanced_pairs, sft_row, transcript
from agents.user_agents.run import run_user_classifier, run_user_sft, steps
from simulators.household.games import Game, GameTurn, contexts, load_games
from simulators.household.humanlike import evaluate, make_user_agent
from simulators.household.parse import parse_response
from simulators.household.prompts import INSTRUCTION
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_causal_lm, tiny_encoder

ASK_TASK = GameTurn("DRIVER", "dialogue", "what should I do", ("RequestForInstruction",))
ASK_WHERE = GameTurn("DRIVER", "dialogue", "where is the mug", ("RequestForObjectLocationAndOtherDetails",))
ANSWERS = {ASK_TASK: GameTurn("COMMANDER", "dialogue", "make coffee", ("Instruction",)),
           ASK_WHERE: GameTurn("COMMANDER", "dialogue", "it is in the sink", ("InformationOnObjectDetails",))}
MOVES = [GameTurn("DRIVER", a) for a in ("<move>", "<pickup>", "<putdown>", "<open>", "<toggle on>")]


def toy_games(n: int, seed: int = 0) -> list[Game]:
    """The Commander speaks exactly after the Driver speaks: an Instruction after a request for instructions,
    object details after a request for a location."""
    rng = random.Random(seed)
    games = []
    for g in range(n):
        turns = []
        for _ in range(rng.randint(4, 9)):
            if rng.random() < 0.3:
                ask = rng.choice([ASK_TASK, ASK_WHERE])
                turns += [ask, ANSWERS[ask]]
            else:
                turns.append(rng.choice(MOVES))
        games.append(Game(f"game-{g:03d}", "Make coffee.", tuple(turns)))
    return games


def games_file(tmp_path, n: int = 30) -> str:
    path = tmp_path / "games.json"
    raw = []
    for game in toy_games(n):
        rows = []
        for t in game.turns:
            other = "DRIVER" if t.role == "COMMANDER" else "COMMANDER"
            move = {"action": t.action} | ({"utterance": t.utterance, "das": list(t.das)} if t.das else {})
            rows.append({t.role: move, other: {"action": "<observe>"}, "turn_action": t.action})
        raw.append({"goal": game.goal, "turns": rows})
    path.write_text(json.dumps(raw))
    return str(path)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return str(tiny_encoder(tmp_path_factory.mktemp("encoder")))


@pytest.fixture(scope="module")
def trained(encoder):
    torch.manual_seed(0)
    agent = ClassifierUserAgent.from_encoder(encoder, max_length=64, max_lines=2)
    train, valid = steps(toy_games(40)), steps(toy_games(12, seed=1))
    best = train_classifier(agent, train, valid, epochs=60, lr=3e-2, batch_size=32, progress=False)
    return agent, best, valid


def test_best_threshold_maximises_f1_on_hand_checked_numbers():
    # p > 0.35 predicts the two speakers and one observer: F1 = 2*2 / (3 + 2) = 0.8 (all four: 2*2/6)
    assert best_threshold([0.9, 0.6, 0.4, 0.3, 0.1], [True, False, True, False, False]) == pytest.approx((0.35, 0.8))
    assert best_threshold([0.2, 0.2], [True, True]) == (0.1, 1.0)
    assert best_threshold([0.5], [False]) == (1.0, 0.0)  # never speaking is best: nothing to gain


def test_classifier_learns_to_speak_after_the_driver_with_the_right_act(trained):
    agent, best, valid = trained
    assert best["val_speak_f1"] >= 0.9 and best["val_act_f1"] >= 0.9, best
    decisions = agent.decide([c for c, _ in valid])
    gold = [d for _, d in valid]
    assert evaluate(agent, toy_games(12, seed=1))["speak"]["f1"] == best["val_speak_f1"]
    spoken = [(p, g) for p, g in zip(decisions, gold) if p.speak and g.speak]
    assert spoken and all(p.das == g.das for p, g in spoken)
    assert {p.utterance for p, _ in spoken} <= {"Make coffee.", UTTERANCES["InformationOnObjectDetails"]}
    assert agent.decide_acts([c for c, g in valid if g.speak]) == [g.das for g in gold if g.speak]
    assert agent.fallbacks == {}


def test_classifier_save_load_round_trip(trained, tmp_path):
    agent, _, valid = trained
    loaded = ClassifierUserAgent.load(agent.save(tmp_path / "agent"))
    assert loaded.threshold == agent.threshold and loaded.max_lines == 2
    texts = [agent.text(c) for c, _ in valid[:20]]
    for a, b in zip(agent.probabilities(texts), loaded.probabilities(texts)):
        assert torch.allclose(a, b, atol=1e-5)
    assert loaded.decide([c for c, _ in valid]) == agent.decide([c for c, _ in valid])
    with pytest.raises(WorkbenchError, match="no user classifier here"):
        ClassifierUserAgent.load(tmp_path)


def test_classifier_method_writes_a_run_and_the_spec_loads_it(encoder, tmp_path):
    config = UserClassifierConfig(data=games_file(tmp_path), encoder=encoder, max_length=64, max_lines=2, epochs=40,
                                  lr=3e-2, batch_size=32, out=str(tmp_path / "run"), progress=False)
    run, text = run_user_classifier(config)
    assert "| classifier |" in text and "| rule |" in text
    assert (run.path / "plots" / "confusion.png").is_file() and (run.path / "summary.md").is_file()
    scores = {r["agent"]: r for r in run.metrics() if r.get("event") == "evaluate"}
    assert scores["classifier"]["speak_f1"] >= 0.9 and scores["rule"]["speak_f1"] == 1.0  # the toy rule is the rule
    register_user_agents()
    agent = make_user_agent(f"classifier:{run.path}", [])
    assert isinstance(agent, ClassifierUserAgent) and agent.threshold == json.loads(
        (run.path / "agent" / "user_classifier.json").read_text())["threshold"]
    with pytest.raises(WorkbenchError, match="missing user_classifier.json"):
        make_user_agent(f"classifier:{tmp_path}", [])


def test_balanced_pairs_keep_every_speaker_and_as_many_observers():
    pairs = steps(toy_games(30))
    speakers = sum(d.speak for _, d in pairs)
    chosen = balanced_pairs(pairs)
    assert sum(d.speak for _, d in chosen) == speakers and len(chosen) == 2 * speakers
    capped = balanced_pairs(pairs, max_examples=10, seed=3)
    assert len(capped) == 10 and sum(d.speak for _, d in capped) == 5
    assert balanced_pairs(pairs, max_examples=10, seed=3) == capped


def test_sft_rows_are_the_transcript_the_agent_sends():
    context, decision = next(p for p in steps(toy_games(3)) if p[1].speak)
    row = sft_row(context, decision, max_lines=4)
    assert row["prompt"] == transcript(context, 4) and row["prompt"].endswith(f"### Response:\n\n{LABEL}:")
    assert row["completion"] == " <<Instruction>> make coffee" or row["completion"].startswith(" <<Information")
    assert parse_response(row["completion"]) == (decision, None)


def test_lora_sft_trains_a_tiny_model_and_counts_its_fallbacks(tmp_path):
    model = tiny_causal_lm(tmp_path / "tiny", corpus=[INSTRUCTION, "OBSERVE", "<<Instruction>> make coffee"] * 3)
    config = UserSFTConfig(data=games_file(tmp_path, 12), model=str(model), max_lines=4, max_examples=16, max_steps=4,
                           batch_size=4, lr=1e-2, max_length=512, eval_games=1, max_new_tokens=8,
                           out=str(tmp_path / "run"), progress=False)
    run, text = run_user_sft(config)
    folder = run.path / "sft" / "model"
    assert (folder / "adapter_config.json").is_file() and json.loads((folder / "user_agent.json").read_text()) == {
        "kind": "sft", "base": str(model), "max_lines": 4}
    rows = [json.loads(line) for line in (run.path / "data" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and sum(r["completion"] != " OBSERVE" for r in rows) == 8
    assert "| sft |" in text and [r["step"] for r in run.__class__(run.path / "sft").metrics() if "loss" in r]
    register_user_agents()
    agent = make_user_agent(f"sft:{run.path}", [])
    assert isinstance(agent, LoRAUserAgent) and agent.adapter in agent.model.adapters
    assert agent.model.active_adapter is None  # other callers of the shared model stay on the base model
    game = load_games(config.data)[0]
    step_contexts = [c for c, _ in contexts(game)]
    answers = agent.answers(step_contexts)
    expected: dict[str, int] = {}
    for answer in answers:
        reason = parse_response(answer)[1]
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    decisions = agent.decide(step_contexts)
    assert len(decisions) == len(step_contexts) and agent.fallbacks == expected  # greedy: the same answers again


def test_methods_are_declared_with_light_options():
    from workbench.config import parse_config
    from workbench.methods import register, unregister

    for method in METHODS:
        register(method)
    try:
        from workbench.methods import get_method

        config = parse_config(get_method("user-sft").config_class(), ["--max_examples", "8"], prog="t",
                              description="")
        assert config.max_examples == 8 and config.model == "embedded:gemma-3-270m"
        assert get_method("user-classifier").runner() is run_user_classifier
    finally:
        for method in METHODS:
            unregister(method.name)
