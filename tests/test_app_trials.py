"""The run browser's view of a multi-trial run: a case's trials side by side with the reflections between them,
texts escaped, every trial its own episode, and paths confined to the runs folder."""

from agents.policies import make_policy
from agents.retroformer.actor import ReflectionFollowingPolicy
from agents.template import TemplateAgent
from apps.app import AppConfig, build_app
from apps.gui.ui import bind, find_episode, open_run, show_trials, shown
from workbench.registry import env_class, make_env
from workbench.runs import Run
from workbench.splits import split_cases
from workbench.trials import Reflection, run_trials


class Writer:
    def reflect(self, episodes, memories):
        return [Reflection("Prefer agree <b>now</b>.") for _ in episodes]


def test_a_cases_trials_show_side_by_side_with_the_reflection_between(tmp_path):
    app, _ = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[], preload=False))
    cls = env_class("negotiation")
    actor = TemplateAgent(cls, ReflectionFollowingPolicy(make_policy("most-frequent", cls), cls.strategies, 1.0))
    with Run.open(app.runs.root / "trials", {"env": "negotiation"}) as run:
        memories = run_trials(make_env("negotiation"), {"reflexion": actor}, {"reflexion": Writer()},
                              split_cases(cls.cases(), "heldout")[:6], trials=3, memory_size=3, run=run,
                              progress=False)
    failed = next(m.index for m in memories["reflexion"] if m.trials > 1)
    *_, box, variant, case, status = open_run(app, "trials", "all")
    assert box["visible"] and variant["value"] == "reflexion" and case["choices"]
    page, _ = show_trials(app, "trials", "reflexion", str(failed))
    assert page.index("Trial 1: failure") < page.index("Reflection on trial 1") < page.index("Trial 2: success")
    assert "Prefer agree &lt;b&gt;now&lt;/b&gt;." in page and "<b>now</b>" not in page
    ids = [e.id for e in Run(app.runs.root / "trials").episodes()]
    assert len(ids) == len(set(ids))  # every trial is its own episode
    assert find_episode(app, "trials", ids[-1]).id == ids[-1]
    *_, status = shown(2)(bind(app, show_trials))("../../etc", "reflexion", "0")
    assert status.startswith("**Error:** refused '../../etc'")
