"""The app's chat session, feedback log, self-play stream and path confinement, without a browser."""

import json
import re

import pytest

from agents.policies import FixedPolicy, RandomPolicy
from agents.template import TemplateAgent
from apps.app import AppConfig, build_app
from apps.chat import pick_case
from apps.gui.chat import ChatSession, FeedbackLog, save_chat
from apps.gui.paths import RunsFolder
from apps.gui.selfplay import browse, stream_selfplay
from apps.gui.options import parse_options
from apps.gui.ui import bind, open_run, shown
from apps.selfplay import SelfPlayConfig
from workbench.llm.resolve import load_models
from simulators.negotiation import NegotiationEnv
from workbench.env import Verdict
from workbench.errors import WorkbenchError
from workbench.training.data import load_rows


class DealCritic:
    """Ends the dialogue with success when the person says "deal"; rewards 0.1 per turn before that."""

    def judge(self, states):
        return [Verdict(1.0, True, True, info={"deal": True}) if "deal" in s.turns[-1].text else
                Verdict(0.1, False, False, info={"deal": False}) for s in states]


@pytest.fixture
def session():
    case = pick_case(NegotiationEnv.cases(), "", seed=0)
    agent = TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies))
    return ChatSession.start(NegotiationEnv, agent, DealCritic(), case, seed=0, specs={"agent": None})


def test_a_chat_judges_each_turn_and_undo_and_retry_restore_and_redo(session):
    opening = len(session.state.turns)
    first = session.messages()[-1]
    assert first["role"] == "assistant" and "*strategy: " in first["content"] and "(p = 0.09)" in first["content"]  # 1 of 11
    session.send("  It is  $100. ")
    assert session.state.turns[-1].text == "It is $100."
    assert session.verdicts() == [[1, session.state.turns[opening].strategy, "going on: no deal · reward 0.10",
                                   "template", 0.1, 0.1]]  # no LLM critic: no samples; a template agent
    before = [t.text for t in session.turns()]
    session.send("No.")
    assert len(session.verdicts()) == 2 and session.verdicts()[-1][-1] == 0.2
    session.undo()
    assert [t.text for t in session.turns()] == before
    pending = session.pending
    for _ in range(20):
        session.retry()
        if session.pending.text != pending.text:
            break
    assert session.pending.text != pending.text and len(session.state.turns) == len(before) - 1
    session.send("Fine, deal.")
    assert session.finished and session.pending is None and session.outcome()["success"] is False  # no price
    with pytest.raises(WorkbenchError, match="has ended"):
        session.send("hello?")
    with pytest.raises(WorkbenchError, match="type a message"):
        session.send("   ")


def test_likes_dislikes_and_edits_become_trl_preference_data(session, tmp_path):
    log = FeedbackLog(tmp_path / "fb")
    index = len(session.turns()) - 1
    liked = session.pending.text
    assert log.add(session.feedback_record(index, rating="like")) == (0, 1)
    session.retry()
    while session.pending.text == liked:
        session.retry()
    assert log.add(session.feedback_record(index, rating="dislike")) == (1, 2)
    assert log.add(session.edit(index, "Would you take $80?")) == (2, 2)
    assert session.pending.text == "Would you take $80?"
    with pytest.raises(WorkbenchError, match="only the agent's own replies"):
        session.feedback_record(0, rating="like")  # the seller's opening
    pairs = [json.loads(line) for line in (tmp_path / "fb" / "preferences.jsonl").read_text().splitlines()]
    assert pairs[1]["chosen"] == [{"role": "assistant", "content": liked}]
    assert pairs[1]["prompt"][-1] == {"role": "user", "content": session.state.turns[-1].text}
    rows, _, _ = load_rows(str(tmp_path / "fb" / "preferences.jsonl"), "preference", agent_role=None)
    assert len(rows) == 2 and {"prompt", "chosen", "rejected"} <= set(rows.column_names)
    assert [r["rating"] for r in log.records()] == ["like", "dislike", None]


def test_a_finished_chat_is_saved_as_an_episode(session, tmp_path):
    session.send("deal")
    folder = save_chat(tmp_path, session)
    (episode,) = browse(folder, "all")
    assert episode.turns[-1].text == "deal" and episode.provenance["user"] == "human"


def test_selfplay_streams_the_dialogue_and_metrics_as_episodes_finish(tmp_path):
    config = SelfPlayConfig(env="negotiation", n=3, batch_size=2, out=str(tmp_path / "sp"), progress=False)
    snaps = list(stream_selfplay(config, load_models))
    assert [s.finished for s in snaps] == sorted(s.finished for s in snaps) and snaps[-1].done
    assert any("in play" in s.watching for s in snaps) and "**Buyer** *[" in snaps[-1].watching
    assert snaps[-1].metrics["episodes"] == 3 and snaps[-1].run_dir == tmp_path / "sp"
    assert {"SR", "AT"} <= set(next(s for s in snaps if s.finished).metrics)
    success = browse(tmp_path / "sp", "success")
    failure = browse(tmp_path / "sp", "failure")
    assert len(success) + len(failure) == 3
    assert all(e.outcome["success"] for e in success) and not any(e.outcome["success"] for e in failure)


def test_paths_outside_the_runs_folder_are_refused(tmp_path):
    runs = RunsFolder(tmp_path / "runs")
    (tmp_path / "secret").mkdir()
    (runs.root / "link").symlink_to(tmp_path / "secret")
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../secret", "link", str(tmp_path / "secret")):
        with pytest.raises(WorkbenchError, match="refused .*inside the runs folder"):
            runs.resolve(bad)
    assert runs.resolve("a/../b") == runs.root / "b"
    assert runs.resolve(str(runs.root / "c")) == runs.root / "c"
    with pytest.raises(WorkbenchError, match="no such file"):
        runs.resolve("missing", must_exist=True)
    app, _ = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[], preload=False))
    *_, status = shown(3)(bind(app, open_run))("../../etc/passwd", "all")
    assert status.startswith("**Error:** refused '../../etc/passwd'")
    from agents.ppdpp.run import PPDPPConfig

    (runs.root / "sub").mkdir()
    (runs.root / "sub/x.jsonl").write_text("{}\n")
    assert parse_options(app, "--rl_lr 1e-3 --data sub/x.jsonl", PPDPPConfig, "workbench train ppdpp") == \
        ["--rl_lr", "1e-3", "--data", str(runs.root / "sub/x.jsonl")]
    for bad, match in (("--data ../../etc/passwd", "refused"), ("--out /tmp/x", "set by the app"),
                       ("--data 'open", "options")):
        with pytest.raises(WorkbenchError, match=match):
            parse_options(app, bad, PPDPPConfig, "workbench train ppdpp")


def test_uploads_are_checked_before_they_are_stored(tmp_path):
    runs = RunsFolder(tmp_path / "runs")
    good = tmp_path / "prefs.jsonl"
    good.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    stored = runs.store_upload(good, "preference")
    assert stored == runs.root / "uploads" / "prefs.jsonl" and stored.read_text() == good.read_text()
    cases = {"bad.jsonl": ('{"prompt": "p"}\n', "needs columns chosen/rejected"),
             "broken.jsonl": ('{"prompt": \n', "broken.jsonl:1: malformed JSON"),
             "list.jsonl": ("[1, 2]\n", "expected a JSON object"),
             "empty.jsonl": ("\n", "no rows"),
             "notes.txt": ("hello\n", "expected a .jsonl file")}
    for name, (text, match) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(WorkbenchError, match=match):
            runs.store_upload(tmp_path / name, "preference")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\n")
    with pytest.raises(WorkbenchError, match="not UTF-8"):
        runs.store_upload(tmp_path / "bin.jsonl", "preference")


def test_verdicts_read_as_words_in_every_environment():
    from apps.gui.chat import describe

    llm = {"samples": 5, "parsed": 3, "unparsable": 2}
    assert describe(Verdict(-0.1, False, False, info={"deal": False, "price": None, "dropped_votes": 0, **llm})) == \
        "going on: no deal · reward -0.10 · 3 of 5 critic samples parsed"
    assert describe(Verdict(0.4242, True, True, info={"deal": True, "price": 12000.0, "dropped_votes": 1,
                                                      "samples": 5, "parsed": 5, "unparsable": 0})) == \
        "success: deal, price 12,000 · reward 0.42 · 5 of 5 critic samples parsed · 1 of the parsed votes dropped"
    assert describe(Verdict(-0.3, True, False, info={"deal": False, "price": None, "walked_away": True})) == \
        "failure: no deal, walked away · reward -0.30"
    assert describe(Verdict(0.5, True, True, info={"donation": 0.5, "samples": 2, "parsed": 0, "unparsable": 2})) \
        == "success: donation 0.5 · reward 0.50 · 0 of 2 critic samples parsed"
    assert describe(Verdict(0.25, False, False)) == "going on · reward 0.25"  # tutoring's critic finds nothing else


def test_numbers_are_rounded_where_the_page_shows_them(tmp_path):
    from apps.gui.selfplay import run_metrics
    from apps.gui.ui import outcome_words
    from workbench.evaluate import rounded

    assert outcome_words({"success": True, "turns": 3, "deal": True, "price": 262.0, "sl": 0.13636363636363635,
                          "walked_away": False}) == "turns 3, deal yes, price 262, sl 0.136, walked away no"
    assert (rounded(0.13636363636363635), rounded(0.000123456), rounded(-0.1), rounded(7), rounded(None)) == \
        (0.136, 0.000123, -0.1, 7, None)
    config = SelfPlayConfig(env="negotiation", n=3, out=str(tmp_path / "sp"), progress=False)
    table = dict(run_metrics(browse(list(stream_selfplay(config, load_models))[-1].run_dir, "all")))
    assert table["episodes"] == 3 and {"SR", "AT", "return"} <= set(table)
    assert all(v == round(v, 3) for v in table.values())


def test_selfplay_plots_outcomes_and_returns_and_the_loss_plot_marks_every_step(tmp_path):
    from apps.gui.selfplay import outcome_figure
    from apps.gui.ui import metrics_figure, metrics_frame

    config = SelfPlayConfig(env="negotiation", n=3, out=str(tmp_path / "sp"), progress=False)
    snaps = list(stream_selfplay(config, load_models))
    first = next(s for s in snaps if s.episodes)
    bars, returns = outcome_figure(first.episodes, first.total).axes
    labels = [t.get_text() for t in bars.get_xticklabels()]
    assert labels[:2] == ["success", "failure"] and ("to play" in labels) == (len(first.episodes) < 3)
    assert sum(p.get_height() for p in bars.patches) == 3 and returns.get_title() == "Episode return"
    assert sum(p.get_height() for p in returns.patches) == len(first.episodes)
    assert outcome_figure([]) is None and re.match(r"\d/3 episodes · model calls \d+% · \d+/\d+", first.progress.text())
    assert snaps[-1].progress.text().startswith("episodes 100% · 3/3 · took ")
    (line,) = metrics_figure(metrics_frame([{"step": 1, "train_loss": 2.0}])).axes[0].get_lines()
    assert line.get_marker() == "o" and list(line.get_xdata()) == [1.0]  # one logged step is a visible point
    assert metrics_figure(metrics_frame([])) is None


def test_the_apps_runs_are_named_as_the_cli_names_them_and_never_nest(tmp_path):
    runs = RunsFolder(tmp_path / "runs")
    first = runs.new_run("", "selfplay")
    assert first.parent == runs.root and first.name.startswith("selfplay-20")
    config = SelfPlayConfig(env="negotiation", n=1, out=str(first), progress=False)
    list(stream_selfplay(config, load_models))
    second = runs.new_run("", "selfplay")
    assert second != first and second.name.startswith("selfplay-20") and not second.exists()  # -2 within a minute
    with pytest.raises(WorkbenchError, match=f"inside the run {first.name}"):
        runs.new_run(f"{first.name}/app", "selfplay")
    assert runs.new_run("mine", "selfplay") == runs.root / "mine"
    (runs.root / "link").symlink_to(first)
    assert runs.run_dirs() == [first.name]  # each run once, by its own path


def test_the_live_plot_shows_loss_and_reward_series_by_step():
    from apps.gui.ui import metrics_frame

    frame = metrics_frame([{"step": 1, "loss": 2.0, "learning_rate": 1e-3, "epoch": 0.1},
                           {"step": 2, "loss": 1.5, "rewards/chosen": 0.2, "done": True},
                           {"update": 3, "mean_return": -0.4}])
    assert frame.values.tolist() == [[1.0, 2.0, "loss"], [2.0, 1.5, "loss"], [2.0, 0.2, "rewards/chosen"],
                                     [3.0, -0.4, "mean_return"]]
    assert metrics_frame([]).empty


def test_a_turn_whose_critic_fails_leaves_the_dialogue_as_it_was(session):
    class BrokenCritic:
        def judge(self, states):
            raise RuntimeError("critic server down")

    before, pending = [t.text for t in session.state.turns], session.pending
    session.env.critic = BrokenCritic()
    with pytest.raises(RuntimeError, match="down"):
        session.send("Hello")
    assert [t.text for t in session.state.turns] == before and session.pending == pending
    assert session.history == []


def test_a_chat_without_a_critic_model_is_judged_by_the_environments_rules():
    agent = TemplateAgent(NegotiationEnv, FixedPolicy(NegotiationEnv.strategy("propose")))  # names a price
    session = ChatSession.start(NegotiationEnv, agent, None, pick_case(NegotiationEnv.cases(), "", 0), seed=0)
    session.send("It is in great shape.")  # the rules read nothing here: the no-answer verdict
    session.send("Deal, it's yours.")
    first, second = session.verdicts()
    assert first[2] == "going on: no deal · reward -0.10 · judged by the rules"
    assert second[2].startswith("success: deal, price ") and "by the rule: price agreed at $" in second[2]
    assert session.outcome()["success"]
