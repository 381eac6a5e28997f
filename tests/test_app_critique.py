"""The app's Critique action: a critic's ACUs shown on a stored episode or a chat, each at its turn, texts escaped,
trained critics found in the runs folder and every path confined to it."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import apps.gui.critique as page_critique
from agents.policies import make_policy
from agents.template import TemplateAgent
from apps.app import AppConfig, build_app
from apps.gui.critique import critic_choices, critique
from apps.gui.ui import bind, critique_episode, shown
from workbench.llm.tiny import tiny_causal_lm
from workbench.registry import env_class, make_env
from workbench.rollout import rollout
from workbench.runs import Run

ANSWER = ("Verdict: failure\nScore: 2\nACU: turn 2 | lowball | severity 8 | flaw: offered <i>too</i> little | "
          "suggestion: counter near the ask\nACU: turn 7 | lowball | severity 9 | flaw: no such turn")


@pytest.fixture
def app(tmp_path):
    app, _ = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[], preload=False))
    cls = env_class("negotiation")
    with Run.open(app.runs.root / "play", {"env": "negotiation"}) as run:
        run.append_episodes(rollout(make_env("negotiation"), TemplateAgent(cls, make_policy("random", cls)),
                                    cls.cases()[:2], n=2, progress=False))
    trained = app.runs.root / "critics" / "c1"
    tiny_causal_lm(trained / "model", vocab_size=512)
    (trained / "critic.json").write_text(json.dumps({"format": "acu", "envs": ["negotiation"]}))
    return app


def test_trained_critics_in_the_runs_folder_are_offered(app):
    assert critic_choices(app) == ["critic:critics/c1"]


def test_an_episodes_acus_are_highlighted_at_their_turns(app, monkeypatch):
    asked = []
    monkeypatch.setattr(page_critique, "critic_model",
                        lambda app, choice: asked.append(choice) or FakeListChatModel(responses=[ANSWER]))
    episode = Run(app.runs.root / "play").episodes()[0]
    page, status = critique_episode(app, "play", episode.id, "critic:critics/c1")
    assert asked == ["critic:critics/c1"] and status == ""
    assert "verdict: failure; score: 2.0; 1 ACUs; 1 ACU lines unusable" in page
    assert page.count('class="criticised"') == 1
    assert '<div class="criticised" style="background:#fde2e1"><b>[Turn 2] Buyer:' in page
    assert "offered &lt;i&gt;too&lt;/i&gt; little" in page and "<i>too</i>" not in page
    assert "Suggestion:</i> counter near the ask" in page


def test_a_trained_critic_loads_from_its_run_and_paths_stay_in_the_runs_folder(app):
    episode = Run(app.runs.root / "play").episodes()[0]
    page, _ = critique_episode(app, "play", episode.id, "critic:critics/c1")  # the tiny random model's critique
    assert page.startswith('<div id="critique"><p id="critique-summary"><b>Critique by critic:critics/c1</b>')
    *_, status = shown(2)(bind(app, critique_episode))("play", episode.id, "critic:../../etc")
    assert status.startswith("**Error:** refused '../../etc'")
    *_, status = shown(2)(bind(app, critique_episode))("../elsewhere", episode.id, "critic:critics/c1")
    assert status.startswith("**Error:** refused '../elsewhere'")
    *_, status = shown(2)(bind(app, critique_episode))("play", episode.id, "embedded:gemma-3-270m")
    assert "is not offered by this app" in status


def test_a_chat_so_far_can_be_critiqued_and_nothing_to_critique_is_said(app, monkeypatch):
    monkeypatch.setattr(page_critique, "critic_model", lambda app, choice: FakeListChatModel(responses=[ANSWER]))
    cls = env_class("negotiation")
    state = make_env("negotiation").begin(cls.cases()[0], 0)
    with pytest.raises(Exception, match="the agent has not spoken"):
        critique(app, cls, state.turns, "critic:critics/c1")
    with pytest.raises(Exception, match="no critique criteria"):
        critique(app, env_class("household"), state.turns, "critic:critics/c1")


def test_a_jobs_critic_options_name_critics_inside_the_runs_folder(app):
    from agents.multicritique.config import CriticConfig
    from agents.ppdpp.config import PPDPPConfig
    from apps.gui.options import parse_options
    from workbench.errors import WorkbenchError

    argv = parse_options(app, "--critic llm --critic_model critic:critics/c1", PPDPPConfig, "workbench train ppdpp")
    assert argv[-1] == f"critic:{app.runs.root / 'critics' / 'c1'}"
    with pytest.raises(WorkbenchError, match="refused '../../etc'"):
        parse_options(app, "--critic_model critic:../../etc", PPDPPConfig, "workbench train ppdpp")
    argv = parse_options(app, "--meta_critic llm --reviser embedded:gemma-3-270m@llamacpp", CriticConfig,
                         "workbench train critic")
    assert argv == ["--meta_critic", "llm", "--reviser", "embedded:gemma-3-270m@llamacpp"]
    with pytest.raises(WorkbenchError, match="not a model this app serves"):
        parse_options(app, "--critic_models /etc", CriticConfig, "workbench train critic")
