import json
import shutil
import subprocess

import pandas
import pytest

from agents.policies import RandomPolicy
from agents.template import TemplateAgent
from workbench.episodes import (SCHEMA_VERSION, Case, Episode, Turn, load_episodes, save_episodes, to_dataset,
                                to_messages, to_planner_examples, to_preference, to_unpaired)
from workbench.errors import WorkbenchError
from workbench.hindsight.regenerate import regenerate
from workbench.hindsight.replay import plans_from_cases
from workbench.hindsight.simulate import simulate
from workbench.registry import env_names, make_env
from workbench.rollout import rollout
from workbench.runs import Run
from workbench.splits import split_cases


def episode(id="e1", last="Would you take $80?", success=True):
    case = Case(id="c1", env="negotiation", fields={"item_name": "bike", "prices": [1, 2]}, hidden={"reserve": 70})
    turns = [Turn("Buyer", "Hi, how much is the bike?"), Turn("Seller", "It is $100.", info={"offer": 100}),
             Turn("Buyer", last, strategy="counter", reward=-0.1, info={"strategy_prob": 0.5}),
             Turn("Seller", "Deal.", strategy="agree")]
    return Episode(id=id, env="negotiation", case=case, turns=turns, outcome={"success": success, "price": 80.0},
                   provenance={"seed": 3})


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_roundtrip(tmp_path, suffix):
    eps = [episode("a"), episode("b", success=False)]
    path = save_episodes(eps, tmp_path / f"eps{suffix}")
    assert load_episodes(path) == eps
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary file left


def test_jsonl_holds_nested_objects(tmp_path):
    path = save_episodes([episode("a"), episode("b", success=False)], tmp_path / "eps.jsonl")
    row = json.loads(path.read_text().splitlines()[0])
    assert row["outcome"] == {"success": True, "price": 80.0} and row["provenance"] == {"seed": 3}
    assert row["case"]["fields"] == {"item_name": "bike", "prices": [1, 2]} and row["case"]["hidden"] == {"reserve": 70}
    assert row["turns"][1]["info"] == {"offer": 100}
    assert (row["success"], row["num_turns"], row["total_reward"]) == (True, 4, -0.1)
    frame = pandas.read_json(path, lines=True)
    assert list(frame["outcome"]) == [{"success": True, "price": 80.0}, {"success": False, "price": 80.0}]
    assert frame["turns"][0][1]["info"] == {"offer": 100}
    if shutil.which("jq"):
        out = subprocess.run(["jq", "-c", ".outcome", str(path)], capture_output=True, text=True, check=True).stdout
        assert [json.loads(line) for line in out.splitlines()] == list(frame["outcome"])


OLD_LINE = (  # schema version 1: free-form dictionaries as JSON text
    '{"schema_version": 1, "id": "e1", "env": "negotiation", "case": "{\\"id\\": \\"c1\\", \\"env\\": '
    '\\"negotiation\\", \\"fields\\": {\\"item_name\\": \\"bike\\", \\"prices\\": [1, 2]}, \\"hidden\\": '
    '{\\"reserve\\": 70}}", "turns": [{"role": "Buyer", "text": "Hi, how much is the bike?", "strategy": null, '
    '"reward": null, "info": "{}"}, {"role": "Seller", "text": "It is $100.", "strategy": null, "reward": null, '
    '"info": "{\\"offer\\": 100}"}, {"role": "Buyer", "text": "Would you take $80?", "strategy": "counter", '
    '"reward": -0.1, "info": "{\\"strategy_prob\\": 0.5}"}, {"role": "Seller", "text": "Deal.", "strategy": '
    '"agree", "reward": null, "info": "{}"}], "outcome": "{\\"success\\": true, \\"price\\": 80.0}", '
    '"success": true, "num_turns": 4, "total_reward": -0.1, "provenance": "{\\"seed\\": 3}"}\n')


def test_old_format_still_loads(tmp_path):
    (tmp_path / "old.jsonl").write_text(OLD_LINE)
    assert load_episodes(tmp_path / "old.jsonl") == [episode()]
    (tmp_path / "mixed.jsonl").write_text(OLD_LINE + json.dumps(episode("b").to_row()) + "\n")  # a resumed old run
    assert load_episodes(tmp_path / "mixed.jsonl") == [episode(), episode("b")]
    old_parquet = tmp_path / "old.parquet"  # version 1 parquet: the whole case as JSON text
    from datasets import Dataset

    Dataset.from_list([json.loads(OLD_LINE)]).to_parquet(str(old_parquet))
    assert load_episodes(old_parquet) == [episode()]


def test_datasets_hold_free_form_dictionaries_as_text():
    other = Episode("x", "tutoring", Case("c", "tutoring", {"turns": [{"role": "Teacher"}]}),
                    [Turn("Teacher", "Hi", info={"opening": True, "verdict": {"raw": [1.5]}})], {"turns": 1}, {})
    data = to_dataset([episode(), other])  # rows whose dictionaries differ share one schema
    assert isinstance(data[0]["outcome"], str) and isinstance(data[0]["turns"][0]["info"], str)
    assert [Episode.from_row(row) for row in data] == [episode(), other]


def rollouts(name: str, n: int = 3) -> list[Episode]:
    env = make_env(name, simulator="scripted")
    cases = env.cases()  # the environment's default playable cases
    return rollout(env, TemplateAgent(type(env), RandomPolicy(type(env).strategies)), cases, n=n, seed=1,
                   progress=False)


@pytest.mark.parametrize("name", env_names())
def test_every_environments_episodes_survive_a_line(tmp_path, name):
    episodes = rollouts(name)
    assert [Episode.from_row(json.loads(json.dumps(e.to_row()))) for e in episodes] == episodes
    assert load_episodes(save_episodes(episodes, tmp_path / "e.parquet")) == episodes
    with Run.open(tmp_path / "run", {"env": name}) as run:
        run.append_episodes(episodes)
        assert run.episodes() == episodes
        assert run.cut_back(episodes=lambda e: e.provenance["index"] > 0) == (1, 0)
        assert run.episodes() == episodes[1:]


def test_hindsight_episodes_survive_a_line(tmp_path):
    env = make_env("persuasion")
    plans = plans_from_cases(type(env), split_cases(env.cases(env.sft_sources()[0]), "train", 0.3)[:2],
                             keep_text=False)
    branched = regenerate(env, plans, progress=False)
    market = make_env("marketplace")
    paired, _ = simulate(market, market.cases()[:2], progress=False)
    episodes = branched + paired
    assert {e.provenance.get("hindsight") for e in branched} == {"original", "regenerated"}
    assert load_episodes(save_episodes(episodes, tmp_path / "h.jsonl")) == episodes
    assert load_episodes(save_episodes(episodes, tmp_path / "h.parquet")) == episodes


def test_schema_version_checked(tmp_path):
    row = episode().to_row()
    assert row["schema_version"] == SCHEMA_VERSION
    row["schema_version"] = 99
    (tmp_path / "e.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(WorkbenchError, match=r"e\.jsonl:1: .*schema version 99"):
        load_episodes(tmp_path / "e.jsonl")


def test_bad_episode_file_names_line(tmp_path):
    (tmp_path / "e.jsonl").write_text(json.dumps(episode().to_row()) + "\n{oops\n")
    with pytest.raises(WorkbenchError, match=r"e\.jsonl:2"):
        load_episodes(tmp_path / "e.jsonl")
    row = episode().to_row()
    row["outcome"] = [1]
    (tmp_path / "e.jsonl").write_text(json.dumps(episode().to_row()) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(WorkbenchError, match=r"e\.jsonl:2: outcome is not a JSON object"):
        load_episodes(tmp_path / "e.jsonl")
    del row["turns"]
    (tmp_path / "e.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(WorkbenchError, match=r"e\.jsonl:1: not an episode row \(KeyError: 'turns'\)"):
        load_episodes(tmp_path / "e.jsonl")


def test_trl_formats():
    e = episode()
    msgs = to_messages(e, "Buyer", system="You are a buyer.")["messages"]
    assert [m["role"] for m in msgs] == ["system", "assistant", "user", "assistant", "user"]
    assert msgs[3]["content"] == "Would you take $80?"
    pref = to_preference(e, episode(last="Give it to me for $10."), 2, "Buyer")
    assert [m["content"] for m in pref["prompt"]] == ["Hi, how much is the bike?", "It is $100."]
    assert pref["chosen"][0]["content"] == "Would you take $80?"
    assert pref["rejected"][0]["content"] == "Give it to me for $10."
    rows = to_unpaired(e, "Buyer")
    assert [len(r["prompt"]) for r in rows] == [0, 2] and all(r["label"] is True for r in rows)
    with pytest.raises(WorkbenchError, match="not an agent turn"):
        to_preference(e, e, 1, "Buyer")


def test_planner_examples():
    rows = to_planner_examples([episode()], "Buyer", ["greet", "counter"])
    assert rows == [{"text": "Buyer: Hi, how much is the bike?\nSeller: It is $100.", "label": 1}]
    with pytest.raises(WorkbenchError, match="unknown strategy 'counter'"):
        to_planner_examples([episode()], "Buyer", ["greet"])
