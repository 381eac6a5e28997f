"""Honest signals: every fallback is counted at its source, recorded in the episode, shown beside the
metrics (tables, summary.md, `workbench evaluate RUN_DIR`), warned about above a threshold, and left out
of training data by default."""

import copy
import logging
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.policies import RandomPolicy
from agents.procot import PLAN_FALLBACK, ProCoTPolicy
from agents.prompted import PromptedAgent
from apps.cli import main
from apps.selfplay import SelfPlayConfig, run_selfplay
from simulators.negotiation import NegotiationEnv
from simulators.tutoring import TutoringEnv
from workbench.critics import GroundTruthCritic, LLMCritic
from workbench.episodes import Case, Episode, Turn, save_episodes
from workbench.evaluate import fallback_rates, format_rows, metrics_table, warn_fallbacks
from workbench.llm.tiny import tiny_chat_model, tiny_tokenizer
from workbench.roleplay import model_turn
from workbench.training.data import episode_rows, load_rows, prepare
from workbench.training.preferences import preference_pairs


class ScriptedChat(BaseChatModel):
    """Answers "" (an empty reply) to prompts of ``empty_at`` messages, else ``text``."""

    text: str = "I could do $90 for it."
    empty_at: tuple[int, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        reply = "" if len(messages) in self.empty_at else self.text
        return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])


CASE = Case(id="c", env="negotiation", fields={})


def verdict(samples: int, unparsable: int, dropped: int | None = None, reward: float = -0.1) -> dict:
    counts = {} if dropped is None else {"dropped_votes": dropped}
    return {"reward": reward, "done": False, "success": False, "samples": samples, "parsed": samples - unparsable,
            "unparsable": unparsable, **counts}


def llm_episode(eid: str = "e", agent_texts: tuple[str, str] = ("Would you take $80?", "OK, $85?")) -> Episode:
    """Opening, then two exchanges: the second agent turn and the first user turn are fallbacks; the agent's
    strategies came from its model (ProCoT), the second one a random draw after an unparsable answer."""
    gen = {"generated": True, "plan_generated": True}
    return Episode(id=eid, env="negotiation", case=CASE, outcome={"success": False, "turns": 2}, turns=[
        Turn("Buyer", "Hi, how much is it?", info={"opening": True}),
        Turn("Seller", "It is $100.", info={"opening": True}),
        Turn("Buyer", agent_texts[0], reward=-0.1, info=dict(gen)),
        Turn("Seller", "...", info={"generated": True, "fallback": "empty user reply -> '...'",
                                    "verdict": verdict(4, 3, dropped=1)}),
        Turn("Buyer", agent_texts[1], reward=-0.1,
             info={**gen, "fallback": "empty agent reply -> template line", "plan_fallback": PLAN_FALLBACK}),
        Turn("Seller", "No, $95.", info={"generated": True, "verdict": verdict(4, 1, dropped=0)}),
    ])


def scripted_episode() -> Episode:
    return Episode(id="s", env="negotiation", case=CASE, outcome={"success": True, "turns": 1, "sl": 0.5}, turns=[
        Turn("Buyer", "Would you take $80?", reward=0.5, info={"strategy_prob": 1.0}),
        Turn("Seller", "Deal.", info={"verdict": {"reward": 0.5, "done": True, "success": True, "deal": True}})])


# -- the rates ----------------------------------------------------------------------------------
def test_each_rate_counts_its_fallbacks_over_its_own_denominator():
    rates = fallback_rates([llm_episode()])
    assert rates == {"critic unparsable": 4 / 8,  # 3 + 1 of 4 + 4 samples
                     "replaced replies": 2 / 4,  # 2 of the 4 model-spoken turns (the opening is not)
                     "dropped votes": 1 / 4,  # 1 of the 1 + 3 parsed votes
                     "unparsed plans": 1 / 2}  # 1 of the 2 model-planned turns
    assert fallback_rates([scripted_episode()]) == {}  # no LLM source: no rate at all
    assert fallback_rates([scripted_episode(), llm_episode()]) == rates  # pooled: a ratio of sums
    table = metrics_table(NegotiationEnv, [scripted_episode()])
    assert list(table) == ["episodes", "SR", "AT", "SL%", "return"]
    table = metrics_table(NegotiationEnv, [llm_episode()])
    assert list(table)[5:] == ["critic unparsable", "replaced replies", "dropped votes", "unparsed plans"]


def test_a_table_row_without_a_source_says_not_applicable():
    rows = {"ProCoT": {"SR": 0.5, "unparsed plans": 1.0}, "random": {"SR": 0.25}}
    assert format_rows(rows).splitlines() == ["| planner | SR | unparsed plans |", "|---|---|---|",
                                              "| ProCoT | 0.5 | 1 |", "| random | 0.25 | n/a |"]


def test_one_warning_line_names_every_rate_above_the_threshold(caplog):
    with caplog.at_level(logging.WARNING):
        assert warn_fallbacks({"critic unparsable": 0.2, "replaced replies": 0.0}, 0.2, "run") is None
        line = warn_fallbacks({"critic unparsable": 0.5, "replaced replies": 0.25, "x": 0.1}, 0.2, "runs/a")
    assert line == ("runs/a: fallback rate above 20%: critic unparsable 50.0%, replaced replies 25.0%; the metrics "
                    "beside them rest on fallbacks (see summary.md)")
    assert [r.getMessage() for r in caplog.records] == [line]


# -- counted at the source ------------------------------------------------------------------------
def test_model_turns_are_marked_and_empty_replies_replaced():
    turn = model_turn("Buyer", "Buyer: Would you take $80?\nSeller: no", "template", "empty agent reply -> x")
    assert (turn.text, turn.info) == ("Would you take $80?", {"generated": True})
    turn = model_turn("Buyer", " Buyer: \n", "template", "empty agent reply -> x", strategy="s", info={"p": 1})
    assert (turn.text, turn.strategy, turn.info) == ("template", "s", {"p": 1, "generated": True,
                                                                      "fallback": "empty agent reply -> x"})


def test_the_prompted_agent_marks_replaced_replies_and_unparsed_plans():
    env = TutoringEnv(TutoringEnv.scripted_simulator(), GroundTruthCritic(TutoringEnv.ground_truth))
    states = [env.begin(c, i) for i, c in enumerate(TutoringEnv.cases()[:3])]
    agent = PromptedAgent(ScriptedChat(empty_at=(len(TutoringEnv.agent_prompt(states[0], None)),)), TutoringEnv,
                          RandomPolicy(TutoringEnv.strategies))
    before = copy.deepcopy(states)  # the same random streams: the same strategies and template lines
    turns = agent.act(states)
    assert all(t.info["fallback"] == "empty agent reply -> template line" and t.info["generated"] for t in turns)
    templates = [TutoringEnv.realise(s, strategy) for s, (strategy, _) in
                 zip(before, RandomPolicy(TutoringEnv.strategies).choose(before))]
    assert [t.text for t in turns] == templates
    assert not any("plan_generated" in t.info for t in turns)  # a random policy is no model's plan
    policy = ProCoTPolicy(tiny_chat_model(max_tokens=4), TutoringEnv)
    turns = PromptedAgent(ScriptedChat(), TutoringEnv, policy).act(states)
    assert policy.unparsed == 3  # a random tiny model names no strategy
    assert all(t.info["plan_generated"] and t.info["plan_fallback"] == PLAN_FALLBACK and "fallback" not in t.info
               for t in turns)


# -- the must-show: an LLM self-play run ---------------------------------------------------------------
def table_cells(markdown: str) -> dict[str, str]:
    """The first Markdown table in ``markdown`` as column -> cell."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    header, values = ([c.strip() for c in row.strip("|").split("|")] for row in (rows[0], rows[2]))
    return dict(zip(header, values))


def test_llm_selfplay_shows_the_rates_beside_sr(tmp_path, capsys, caplog):
    """A tiny random model judges; the buyer and seller are scripted chat models whose first buyer reply and
    second seller reply are empty (prompts of 3 and 6 messages: the system message, then the dialogue)."""
    speaker = ScriptedChat(empty_at=(3, 6))
    models = {"tiny": tiny_chat_model(), "speaker": speaker}
    config = SelfPlayConfig(env="negotiation", simulator="llm", agent_model="speaker", critic_model="tiny", n=3,
                            max_turns=2, critic_samples=3, max_new_tokens=6, out=str(tmp_path / "run"),
                            progress=False)
    with caplog.at_level(logging.WARNING):
        run, table = run_selfplay(config, lambda specs, seed: {role: models.get(s) for role, s in specs.items()})
    episodes = run.episodes()
    # the expected rates, counted independently: the critic's raw samples parsed again, and the spoken texts
    raw = [r for e in episodes for t in e.turns for r in t.info.get("verdict", {}).get("raw", [])]
    unparsable = sum(NegotiationEnv.parse_verdict(r) is None for r in raw) / len(raw)
    spoken = [t for e in episodes for t in e.turns[2:]]  # after the fixed opening, every turn is a model's
    replaced = sum(t.text != speaker.text for t in spoken) / len(spoken)
    assert len(raw) == 3 * 2 * 3 and unparsable > 0.5  # a tiny random critic rarely answers in form
    assert replaced == 0.5 and [t.text for t in spoken].count("...") == 3  # a template line and "..." each
    assert table["critic unparsable"] == pytest.approx(unparsable) and table["replaced replies"] == 0.5
    assert main(["evaluate", str(run.path)]) == 0
    printed = capsys.readouterr().out
    for shown in (table_cells(printed), table_cells((run.path / "summary.md").read_text())):
        assert list(shown)[:3] == ["episodes", "SR", "AT"]
        assert shown["critic unparsable"] == f"{unparsable:.4g}" and shown["replaced replies"] == "0.5"
        assert shown["dropped votes"] == "0"  # negotiation drops deal votes at prices nobody named: none here
    assert "- critic unparsable: share of the critic's samples that matched no answer" in printed
    warnings = [r.getMessage() for r in caplog.records if r.name == "workbench.evaluate"]
    assert warnings == [f"{run.path}: fallback rate above 20%: critic unparsable {unparsable:.1%}, replaced replies "
                        "50.0%; the metrics beside them rest on fallbacks (see summary.md)"]


# -- data builders --------------------------------------------------------------------------------------
def test_sft_rows_carry_no_loss_on_fallback_turns(caplog):
    with caplog.at_level(logging.WARNING):
        (row,) = episode_rows([llm_episode()], "dialogue", "Buyer")
    assert row["trainable"] == [True, True, False]  # opening, the model's reply, the template line
    assert "dialogue rows: left out 1 agent turns marked as fallbacks" in caplog.text
    assert episode_rows([llm_episode()], "dialogue", "Buyer", keep_fallbacks=True)[0]["trainable"] == [True] * 3
    tokenizer = tiny_tokenizer()
    labels = {"user": "Seller", "assistant": "Buyer", "system": "System"}
    (encoded,) = prepare([row], "dialogue", tokenizer, chat=False, labels=labels, where="test")
    trained = tokenizer.decode([t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m])
    assert "Would you take $80?" in trained and "OK, $85?" not in trained
    only_fallbacks = llm_episode()
    only_fallbacks.turns[0].info["fallback"] = only_fallbacks.turns[2].info["fallback"] = "empty agent reply -> x"
    assert episode_rows([only_fallbacks], "dialogue", "Buyer") == []  # nothing left to learn from


def test_kto_and_dpo_rows_never_use_a_fallback_turn():
    rows = episode_rows([llm_episode()], "unpaired", "Buyer")
    assert [r["completion"][0]["content"] for r in rows] == ["Hi, how much is it?", "Would you take $80?"]
    assert len(episode_rows([llm_episode()], "unpaired", "Buyer", keep_fallbacks=True)) == 3
    worse = llm_episode("w", ("Would you take $80?", "Fine, $99."))
    worse.turns[5].reward = -1.0
    del worse.turns[4].info["fallback"]
    # the two differ at the second agent turn, where one is a template line: no pair unless kept
    assert preference_pairs([llm_episode(), worse], "Buyer") == []
    (pair,) = preference_pairs([llm_episode(), worse], "Buyer", keep_fallbacks=True)
    assert pair["chosen"][0]["content"] == "OK, $85?"
    branch = llm_episode("b", ("Would you take $80?", "How about $88?"))
    branch.provenance = {"branch_of": "e", "branch_turn": 4}
    del branch.turns[4].info["fallback"]
    assert preference_pairs([llm_episode(), branch], "Buyer", by="hindsight", min_margin=-1) == []
    assert len(preference_pairs([llm_episode(), branch], "Buyer", by="hindsight", min_margin=-1,
                                keep_fallbacks=True)) == 1


def test_load_rows_passes_keep_fallbacks_down(tmp_path):
    save_episodes([llm_episode()], tmp_path / "episodes.jsonl")
    rows, env, _ = load_rows(str(tmp_path / "episodes.jsonl"), "unpaired", agent_role=None)
    assert env == "negotiation" and len(rows) == 2
    rows, _, _ = load_rows(str(tmp_path / "episodes.jsonl"), "unpaired", agent_role=None, keep_fallbacks=True)
    assert len(rows) == 3


def test_training_logs_the_datas_fallback_rates_beside_the_loss(tmp_path, capsys):
    from tests.toy_training import tiny_policy

    save_episodes([llm_episode()], tmp_path / "episodes.jsonl")
    expected = fallback_rates([llm_episode()])
    assert expected["replaced replies"] > 0
    assert main(["train", "sft", "--model", str(tiny_policy(tmp_path / "tiny")), "--data",
                 str(tmp_path / "episodes.jsonl"), "--max_steps", "1", "--out", str(tmp_path / "sft")]) == 0
    out = capsys.readouterr().out
    assert f"data replaced replies: {round(expected['replaced replies'], 4)}" in out
    assert "fallback turns: left out" in out
    from workbench.runs import Run

    (data,) = [r for r in Run(tmp_path / "sft").metrics() if r.get("event") == "data"]
    assert data["data replaced replies"] == expected["replaced replies"] and data["rows"] == 1



# -- the app ------------------------------------------------------------------------------------------------
def test_the_chat_shows_unparsable_samples_and_replaced_replies_per_turn():
    from apps.chat import pick_case
    from apps.gui.chat import ChatSession
    from apps.gui.ui import chat_view

    critic = LLMCritic(ScriptedChat(text="banana"), NegotiationEnv.critic_prompt, NegotiationEnv.parse_verdict,
                       NegotiationEnv.aggregate_verdicts, samples=3)
    agent = PromptedAgent(ScriptedChat(empty_at=(3,)), NegotiationEnv, RandomPolicy(NegotiationEnv.strategies))
    session = ChatSession.start(NegotiationEnv, agent, critic, pick_case(NegotiationEnv.cases(), "", 0), seed=0)
    session.send("It is $100.")  # the agent's first reply (a prompt of 3 messages) was empty: a template line
    (row,) = session.verdicts()
    assert row[2:] == ["going on: no deal · reward -0.10 · 0 of 3 critic samples parsed",
                       "replaced: empty agent reply -> template line", -0.1, -0.1]
    status = chat_view(session)[2]
    assert status.startswith("Case ") and "You are the Seller; the agent is the Buyer." in status
    assert status.endswith("Fallbacks so far: critic unparsable 100%, replaced replies 50%, dropped votes 0%.")


# -- PPDPP's RL records and the planner comparison -------------------------------------------------------
def test_ppdpp_rl_records_each_update_batch_fallback_rates(tmp_path):
    from agents.ppdpp.planner import PlannerPolicy, StrategyPlanner
    from agents.ppdpp.reinforce import train_rl
    from workbench.llm.tiny import tiny_encoder
    from workbench.runs import Run

    env = TutoringEnv(TutoringEnv.scripted_simulator(), GroundTruthCritic(TutoringEnv.ground_truth), max_turns=2)
    cases = TutoringEnv.cases()[:4]
    first_move = 1 + len(env.begin(cases[0], 0).turns)  # the system message and the opening
    speaker = ScriptedChat(text="Let us try that sentence again.", empty_at=(first_move,))
    planner = StrategyPlanner.from_encoder([s.name for s in TutoringEnv.strategies], str(tiny_encoder(tmp_path / "e")),
                                           64)
    agent = PromptedAgent(speaker, TutoringEnv, PlannerPolicy(planner, TutoringEnv))
    run = Run.open(tmp_path / "rl", {"env": "tutoring"})
    records = train_rl(planner, env, agent, cases, episodes=4, batch_size=2, run=run, checkpoint=tmp_path / "ck",
                       progress=False)
    for record in records:
        batch = [e for e in run.episodes() if e.provenance["update"] == record["update"] - 1]
        moves = [t for e in batch for t in e.turns if t.role == env.agent_role and not t.info.get("opening")]
        assert record["replaced replies"] == sum(t.text != speaker.text for t in moves) / len(moves)
        assert "critic unparsable" not in record  # the ground-truth critic samples nothing
    assert [r["replaced replies"] for r in records] != [0.0, 0.0]


def test_the_planner_comparison_shows_rates_per_planner_and_warns_once(tmp_path, caplog):
    from apps.compare import EvaluateConfig, run_comparison
    from workbench.llm.tiny import tiny_causal_lm

    model = str(tiny_causal_lm(tmp_path / "tiny"))
    config = EvaluateConfig(env="tutoring", agent_model=model, planners=["ProCoT=procot", "random"], n=2,
                            max_turns=2, max_new_tokens=6, out=str(tmp_path / "eval"), progress=False)
    with caplog.at_level(logging.WARNING):
        run, table = run_comparison(config)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in table.splitlines()[2:]}
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    plans = header.index("unparsed plans")
    assert rows["ProCoT"][plans] == "1" and rows["random"][plans] == "n/a"  # a tiny model names no strategy
    (count,) = [r["count"] for r in run.metrics() if r["event"] == "unparsed_plans"]
    marked = [t for e in run.episodes() for t in e.turns if "plan_fallback" in t.info]
    assert len(marked) == count and all(e.provenance["planner"] == "ProCoT" for e in run.episodes()
                                        if any("plan_fallback" in t.info for t in e.turns))
    assert table in (run.path / "summary.md").read_text()
    assert "- unparsed plans: share of the model-planned (ProCoT) turns" in (run.path / "summary.md").read_text()
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "workbench.evaluate"]
    assert "ProCoT unparsed plans 100.0%" in warning and "random unparsed plans" not in warning
