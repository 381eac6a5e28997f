"""Hindsight regeneration and simulation, and offline RL of the planner from their data."""

import json
import logging
import re

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.offline_rl.weights import quantile, weighted_examples
from apps.cli import main
from workbench.episodes import Case, Episode, Turn, load_episodes
from workbench.errors import WorkbenchError
from workbench.hindsight.regenerate import parse_critique, regenerate, search_rewrites, select, strategy_key, summary
from workbench.hindsight.replay import Move, Plan, plans_from_cases, replay
from workbench.hindsight.simulate import FEEDBACK, check_env, simulate
from workbench.llm.tiny import tiny_encoder
from workbench.registry import env_class, make_env
from workbench.splits import split_cases


@pytest.fixture(scope="module")
def persuasion():
    env = make_env("persuasion")
    cases = split_cases(env.cases(env.sft_sources()[0]), "train", 0.3)[:12]
    return env, plans_from_cases(type(env), cases, keep_text=False)


def test_a_replay_is_deterministic_and_follows_the_plan(persuasion):
    env, plans = persuasion
    first, again = replay(env, plans[:4], progress=False), replay(env, plans[:4], batch_size=1, progress=False)
    assert [e.turns for e in first] == [e.turns for e in again]  # batch composition does not matter
    for plan, episode in zip(plans, first):
        agent = [t.strategy for t in episode.turns if t.role == "Persuader"]
        assert agent == [m.strategy for m in plan.moves][:len(agent)]
        assert episode.provenance["return"] == sum(t.reward or 0 for t in episode.turns) == episode.outcome["donation"]


def test_search_tries_every_other_strategy_at_every_turn(persuasion):
    env, plans = persuasion
    played = [3, 2]
    rewrites = search_rewrites(env, plans[:2], played)
    assert len(rewrites) == 5 * (len(env.strategies) - 1)
    r = rewrites[0]
    assert r.moves[1:] == plans[0].moves[1:] and r.moves[0].strategy != plans[0].moves[0].strategy


def test_regenerate_keeps_the_best_improving_rewrite_per_turn(persuasion):
    env, plans = persuasion
    data = regenerate(env, plans, progress=False)
    originals = [e for e in data if e.provenance["hindsight"] == "original"]
    branches = [e for e in data if e.provenance["hindsight"] == "regenerated"]
    assert len(originals) == len(plans) and branches
    by_id = {e.id: e for e in originals}
    for b in branches:
        assert b.provenance["return"] > b.provenance["original_return"] == by_id[b.provenance["branch_of"]].provenance["return"]
        assert b.turns[b.provenance["branch_turn"]].strategy == b.provenance["strategy"]
    assert len({(b.provenance["source"], b.provenance["turn"]) for b in branches}) == len(branches)
    every = regenerate(env, plans[:2], keep="all", progress=False)
    played = [e.outcome["turns"] for e in every if e.provenance["hindsight"] == "original"]
    assert sum(e.provenance["hindsight"] == "regenerated" for e in every) == len(search_rewrites(env, plans[:2], played))
    table = summary(data)
    assert table["dialogues"] == len(plans) and table["best return"] > table["original return"]


def test_the_llm_critique_is_parsed_and_its_rewrites_are_played(persuasion):
    env, plans = persuasion
    cls = type(env)
    text = ("Turn 2: emotion appeal | Imagine a child going hungry tonight.\nTurn 9: greeting | Hi\n"
            "Turn 1: shouting | no\nnonsense")
    assert parse_critique(text, cls, 3) == [(1, Move("emotion-appeal", "Imagine a child going hungry tonight."))]
    model = FakeListChatModel(responses=["Turn 1: personal-story | I remember when my friend volunteered there.",
                                         "I have no idea"])
    data = regenerate(env, plans[:2], mode="llm", model=model, keep="all", progress=False)
    (branch,) = [e for e in data if e.provenance["hindsight"] == "regenerated"]
    assert branch.turns[0].text == "I remember when my friend volunteered there."
    assert branch.turns[0].strategy == "personal-story"
    with pytest.raises(WorkbenchError, match="needs a model"):
        regenerate(env, plans[:1], mode="llm", progress=False)


@pytest.mark.parametrize("name,strategy", [
    ("negotiation", "counter-noprice"), ("emotional_support", "Reflection of feelings"), ("tutoring", "Hint"),
    ("persuasion", "personal-story"), ("marketplace", "recommend-fit")])
def test_llm_regeneration_matches_each_environments_strategy_names(name, strategy, caplog):
    env = make_env(name)
    played = next(s.name for s in env.strategies if s.name != strategy)
    case = env_class(name).cases()[0]
    plan = Plan(case.id, case, 5, [Move(played)] * env.max_turns)
    mangled = re.sub(r"[ -]", "_", strategy.upper())  # e.g. REFLECTION_OF_FEELINGS, COUNTER_NOPRICE
    for spelling in (strategy, mangled, strategy.lower().replace(" ", "-")):
        assert strategy_key(spelling) == strategy_key(strategy)
        said = f"Here is a better turn, said as {spelling}."
        model = FakeListChatModel(responses=[f"Turn 1: {spelling} | {said}"])
        with caplog.at_level(logging.WARNING):
            data = regenerate(env, [plan], mode="llm", model=model, keep="all", progress=False)
        (branch,) = [e for e in data if e.provenance["hindsight"] == "regenerated"]
        rewritten = branch.turns[branch.provenance["branch_turn"]]
        assert (rewritten.text, rewritten.strategy) == (said, strategy)  # the environment's own name
        assert branch.provenance["strategy"] == strategy and branch.provenance["original_strategy"] == played
        assert branch.id.endswith(f"~t0={strategy}") and "hindsight critic" not in caplog.text


def episode(source, strategies, ret, branch=None):
    turns = []
    for s in strategies:
        turns += [Turn("Persuader", f"say {s}", strategy=s), Turn("Persuadee", "ok")]
    turns[-1].reward = ret
    case = Case(id=source, env="persuasion", fields={})
    return Episode(id=f"{source}{branch or ''}", env="persuasion", case=case, turns=turns,
                   provenance={"source": source, "return": ret})


def test_advantages_come_from_branches_that_share_a_state():
    names = ["greeting", "emotion-appeal", "thank"]
    data = [episode("d", ["greeting", "thank"], 0.0), episode("d", ["greeting", "emotion-appeal"], 1.0, "~b"),
            episode("e", ["thank", "thank"], 0.5)]
    bc = weighted_examples(data, "Persuader", names, "bc")
    assert [x.weight for x in bc] == [1.0] * 6
    awr = weighted_examples(data, "Persuader", names, "awr", beta=0.5)
    # d's first turn: both continuations pass through it, A = 0; at turn 2 thank (0) vs emotion (1), V = 0.5
    assert [round(x.advantage, 6) for x in awr] == [0.0, -0.5, 0.0, 0.5, 0.0, 0.0]
    assert awr[1].weight == pytest.approx(2.718281828 ** -1) and awr[3].weight == pytest.approx(2.718281828)
    fbc = weighted_examples(data, "Persuader", names, "fbc", q=0.5)
    assert [x.weight for x in fbc] == [0, 0, 1, 1, 1, 1]  # the median return is 0.5
    assert quantile([0.0, 1.0, 0.5], 0.5) == 0.5
    with pytest.raises(WorkbenchError, match="unknown offline RL method"):
        weighted_examples(data, "Persuader", names, "ilql")


def test_regenerate_and_offline_rl_from_the_cli(tmp_path, capsys):
    out = tmp_path / "hindsight"
    assert main(["hindsight", "regenerate", "--env", "persuasion", "--split", "heldout", "--out", str(out),
                 "--no_progress"]) == 0
    assert "| dialogues | branches |" in capsys.readouterr().out
    data = load_episodes(out / "episodes")
    assert {e.provenance["hindsight"] for e in data} == {"original", "regenerated"}
    encoder = str(tiny_encoder(tmp_path / "encoder"))
    for method in ("awr", "bc"):
        assert main(["train", "offline-rl", "--data", str(out), "--method", method, "--steps", "3", "--encoder",
                     encoder, "--max_length", "64", "--out", str(tmp_path / method), "--no_progress"]) == 0
        assert (tmp_path / method / "planner" / "planner.json").is_file()
        assert (tmp_path / method / "plots" / "loss.png").is_file()
    assert len(list((out / "features").glob("*.pt"))) == 1  # the second run read the first one's features
    assert main(["evaluate", "--env", "persuasion", "--planners", f"awr=planner:{tmp_path / 'awr' / 'planner'}",
                 "-n", "4", "--out", str(tmp_path / "eval"), "--no_progress"]) == 0
    assert "mean donation" in capsys.readouterr().out
    assert main(["train", "offline-rl", "--data", str(out), "--method", "sarsa", "--out", str(tmp_path / "x")]) == 2
    assert "unknown --method 'sarsa'" in capsys.readouterr().err


def test_hindsight_simulation_labels_pairs_three_ways(tmp_path, capsys):
    env = make_env("marketplace")
    cases = env_class("marketplace").cases()[:40]
    episodes, rows = simulate(env, cases, pairs=2, progress=False)
    assert len(episodes) == 160 and set(rows) == {"immediate", "partial", "oracle"}
    outcome = {e.id: e.outcome for e in episodes}
    for feedback, field in (("immediate", "satisfaction"), ("partial", "partial"), ("oracle", "hindsight")):
        for row in rows[feedback]:
            assert outcome[row["chosen_id"]][field] > outcome[row["rejected_id"]][field]
            assert row["prompt"][0]["role"] == "system" and "features:" in row["prompt"][0]["content"]
    oracle = [outcome[r["chosen_id"]]["utility"] - outcome[r["rejected_id"]]["utility"] for r in rows["oracle"]]
    assert all(gap >= 0 for gap in oracle) and sum(oracle) > 0  # the oracle never prefers the lower true utility
    assert main(["hindsight", "simulate", "--pairs", "1", "--split", "heldout", "--out", str(tmp_path / "rlhs"),
                 "--no_progress"]) == 0
    assert "| immediate |" in capsys.readouterr().out
    first = json.loads((tmp_path / "rlhs" / "preferences" / "oracle.jsonl").read_text().splitlines()[0])
    assert {"prompt", "chosen", "rejected"} <= set(first)
    assert main(["hindsight", "simulate", "--env", "persuasion", "--out", str(tmp_path / "p")]) == 2
    assert "no satisfaction ratings" in capsys.readouterr().err and not (tmp_path / "p").exists()


def test_only_an_environment_with_hindsight_ratings_is_simulated():
    for name in ("negotiation", "emotional_support", "tutoring", "persuasion"):
        with pytest.raises(WorkbenchError, match=f"environment '{name}' has no satisfaction ratings to simulate"):
            check_env(env_class(name))
    check_env(env_class("marketplace"))


def test_the_marketplace_reports_its_ratings_and_what_each_feedback_reveals():
    options = [{"name": "Aster 5X", "price": 300, "features": ["HDR", "voice control"]},
               {"name": "Brio 30", "price": 450, "features": ["Dolby Atmos", "a 120Hz screen"]}]
    case = Case(id="c", env="marketplace", fields={"product": "TV", "options": options, "need": "a 120Hz screen",
                                                   "budget": 500})
    bought = Episode("c@1", "marketplace", case, [], outcome={"bought": "Aster 5X", "satisfaction": 5, "partial": 1,
                                                              "hindsight": 1})
    nothing = Episode("c@2", "marketplace", case, [], outcome={"bought": None, "satisfaction": 1, "partial": 1,
                                                               "hindsight": 2})
    oracle = ("Later you learn what each option really had: Aster 5X ($300): HDR, voice control; "
              "Brio 30 ($450): Dolby Atmos, a 120Hz screen.")
    assert env_class("marketplace").hindsight_ratings([bought, nothing]) == [
        {"immediate": (5.0, ""), "partial": (1.0, "Later, using the Aster 5X, you find it has: HDR, voice control."),
         "oracle": (1.0, oracle)},
        {"immediate": (1.0, ""), "partial": (1.0, ""), "oracle": (2.0, oracle)}]


class RecordingRater(BaseChatModel):
    """Rates every dialogue 4 and keeps the prompts it was shown."""

    prompts: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage("4"))])

    @property
    def _llm_type(self):
        return "recording-rater"


def test_a_chat_labeller_sees_the_consequence_its_feedback_type_reveals():
    env = make_env("marketplace")
    rater = RecordingRater()
    episodes, rows = simulate(env, env_class("marketplace").cases()[:3], labeller=rater, progress=False)
    assert rows == {f: [] for f in FEEDBACK}  # every rating is 4: ties give no pair
    rated = env.hindsight_ratings(episodes)
    dialogue = {e.id: "\n".join(f"{t.role}: {t.text}" for t in e.turns) for e in episodes}
    expected = sorted(f"{dialogue[e.id]}\n{r[f][1]}" if r[f][1] else dialogue[e.id]
                      for f in FEEDBACK for e, r in zip(episodes, rated))
    shown = sorted(m[1].content.removesuffix("\nYour rating (1-5):") for m in rater.prompts)
    assert shown == expected and any("Later, using the" in text for text in shown)
    assert all(m[0].content.startswith("You are the customer of this conversation.") for m in rater.prompts)


def test_an_unlabelled_human_turn_cannot_be_spoken_by_the_template():
    cls = env_class("persuasion")
    case = Case(id="x", env="persuasion", fields={"turns": [{"role": "Persuader", "text": "hi", "strategy": None}]})
    with pytest.raises(WorkbenchError, match="no strategy label"):
        plans_from_cases(cls, [case], keep_text=False)
    (plan,) = plans_from_cases(cls, [case], keep_text=True)
    assert plan.moves == [Move(None, "hi")] and isinstance(plan, Plan)
    assert select([], "best", 0.0) == []


def test_planner_dpo_learns_the_preferred_strategy(tmp_path):
    from agents.offline_rl.preferences import StrategyPair, strategy_pairs, train_planner_dpo
    from agents.ppdpp.planner import StrategyPlanner

    env = make_env("marketplace")
    episodes, rows = simulate(env, env_class("marketplace").cases()[:30], pairs=2, progress=False)
    names = [s.name for s in env.strategies]
    pairs = strategy_pairs(rows["oracle"], episodes, "Assistant", names)
    assert len(pairs) == len(rows["oracle"]) and all(p.chosen != p.rejected for p in pairs)
    assert pairs[0].history.startswith("Customer: Hi! I'm looking for")
    planner = StrategyPlanner.from_encoder(names, str(tiny_encoder(tmp_path / "enc")), 64)
    planner.freeze_encoder()
    history = "Customer: which one?"
    toy = [StrategyPair(history, 0, 5)] * 4
    before = planner([history]).log_softmax(-1)[0]
    records = []
    train_planner_dpo(planner, toy, beta=0.5, steps=30, batch_size=4, lr=0.05, seed=0, log=records.append,
                      progress=False)
    after = planner([history]).log_softmax(-1)[0]
    assert (after[0] - after[5]) > (before[0] - before[5]) + 1.0
    assert records[0]["loss"] == pytest.approx(0.6931, abs=1e-3) and records[-1]["loss"] < 0.5
    with pytest.raises(WorkbenchError, match="no preference pairs"):
        train_planner_dpo(planner, [], beta=0.1, steps=1, batch_size=1, lr=0.1, seed=0, progress=False)


def test_planner_dpo_from_the_cli(tmp_path, capsys):
    assert main(["hindsight", "simulate", "--pairs", "1", "--out", str(tmp_path / "rlhs"), "--no_progress"]) == 0
    encoder = str(tiny_encoder(tmp_path / "encoder"))
    common = ["train", "offline-rl", "--env", "marketplace", "--data", str(tmp_path / "rlhs"), "--method", "dpo",
              "--steps", "3", "--encoder", encoder, "--max_length", "64", "--no_progress"]
    assert main([*common, "--feedback", "immediate", "--out", str(tmp_path / "imm")]) == 0
    assert "| preference rows | pairs |" in capsys.readouterr().out
    assert (tmp_path / "imm" / "planner" / "planner.json").is_file()
    (tmp_path / "rlhs" / "preferences" / "partial.jsonl").unlink()
    assert main([*common, "--feedback", "partial", "--out", str(tmp_path / "part")]) == 2
    assert "no preference file" in capsys.readouterr().err


def test_the_simulated_preferences_train_a_language_model_with_trl_dpo(tmp_path):
    from workbench.llm.tiny import tiny_causal_lm

    assert main(["hindsight", "simulate", "--pairs", "1", "--split", "heldout", "--out", str(tmp_path / "rlhs"),
                 "--no_progress"]) == 0
    model = tiny_causal_lm(tmp_path / "tiny")
    assert main(["train", "dpo", "--model", str(model), "--data", str(tmp_path / "rlhs" / "preferences" / "oracle.jsonl"),
                 "--env", "marketplace", "--max_steps", "1", "--batch_size", "2", "--out", str(tmp_path / "dpo")]) == 0
    assert (tmp_path / "dpo" / "model" / "config.json").is_file()
