"""Multi-trial episodes (``workbench.trials``): the reflection reward G(k+1) - G(k), memory truncation to K, solved
cases playing no more trials, the same persona every trial, the reflections reaching the actor's state (not the
simulator's hidden state), and a resumed run storing every trial and reflection exactly once."""

import pytest

from agents.policies import make_policy
from agents.retroformer.actor import ReflectionFollowingPolicy
from agents.template import TemplateAgent
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_env
from workbench.runs import Run
from workbench.splits import split_cases
from workbench.trials import (Reflection, TrialMemory, reflection_fallback_rate, reflection_reward, run_trials,
                              success_by_trial)

ENV = "negotiation"


def test_reflection_reward_is_the_next_trials_return_minus_this_ones():
    assert reflection_reward([0.2, 0.9, 0.4], 0) == pytest.approx(0.7)
    assert reflection_reward([0.2, 0.9, 0.4], 1) == pytest.approx(-0.5)
    with pytest.raises(WorkbenchError, match="no trial after trial 3"):
        reflection_reward([0.2, 0.9, 0.4], 2)


def test_memory_keeps_the_last_k_reflections():
    memory = TrialMemory(0, reflections=["r1", "r2", "r3", "r4"])
    assert memory.window(3) == ["r2", "r3", "r4"]
    assert memory.window(1) == ["r4"]
    assert memory.window(0) == []
    assert memory.window(9) == ["r1", "r2", "r3", "r4"]


class Scripted:
    """A reflector that writes a fixed text and records what it was shown."""

    def __init__(self, text):
        self.text, self.calls = text, []

    def reflect(self, episodes, memories):
        self.calls.append([(e.provenance["index"], e.provenance["trial"], list(m)) for e, m in zip(episodes, memories)])
        return [Reflection(f"{self.text} ({e.provenance['trial']})", {"fallback": "x"} if i == 0 else {})
                for i, e in enumerate(episodes)]


def actor():
    cls = env_class(ENV)
    return TemplateAgent(cls, ReflectionFollowingPolicy(make_policy("most-frequent", cls), cls.strategies, 1.0))


def cases(n=12):
    return split_cases(env_class(ENV).cases(), "heldout")[:n]


def test_trials_stop_at_success_and_reflections_steer_the_actor_through_its_memory(tmp_path):
    reflector = Scripted("Prefer agree.")
    with Run.open(tmp_path / "run", {}) as run:
        memories = run_trials(make_env(ENV), {"none": actor(), "reflect": actor()}, {"none": None, "reflect": reflector},
                              cases(), trials=3, memory_size=1, run=run, progress=False)
    none, reflect = success_by_trial(memories["none"], 3), success_by_trial(memories["reflect"], 3)
    assert none[0] == reflect[0]  # the same first trial: the same persona and seed, no memory yet
    assert none[0] < 1.0 and reflect[1] == 1.0  # "prefer agree" closes every deal the first trial missed
    for memory in memories["reflect"]:
        assert memory.trials == (1 if memory.successes[0] else 2)  # a solved case plays no more trials
        assert len(memory.reflections) == memory.trials - 1
    assert [len(c) for c in reflector.calls] == [round(12 * (1 - none[0]))]  # only trial 1 failed, one batched call
    episodes = Run(tmp_path / "run").episodes()
    second = [e for e in episodes if e.provenance["variant"] == "reflect" and e.provenance["trial"] == 2]
    assert second and all(e.provenance["memory"] == ["Prefer agree. (1)"] for e in second)
    rows = Run(tmp_path / "run").reflections()
    assert len(rows) == len(second) and reflection_fallback_rate(rows) == pytest.approx(1 / len(rows))


def test_memory_reaches_the_agent_state_and_the_same_persona_replays(tmp_path):
    seen = []

    class Recorder:
        def act(self, states):
            seen.extend((s.agent_turns, list(s.memory), dict(s.hidden)) for s in states if s.agent_turns == 0)
            return actor().act(states)

    run_trials(make_env(ENV), {"v": Recorder()}, {"v": Scripted("Avoid greet.")}, cases(4), trials=3, memory_size=2,
               progress=False)
    by_memory = {len(m): h for _, m, h in seen}
    assert set(by_memory) <= {0, 1, 2}
    assert all("Avoid greet." not in str(h) for _, _, h in seen)  # the simulator's hidden state holds no reflection
    firsts = [h for _, m, h in seen if not m]
    later = [h for _, m, h in seen if m]
    assert later and any(h == f for h in later for f in firsts)  # a case's persona is drawn again identically


def test_an_interrupted_evaluation_resumes_without_playing_or_reflecting_twice(tmp_path):
    def go(trials, resume, reflector):
        with Run.open(tmp_path / "run", {}, resume=resume) as run:
            return run_trials(make_env(ENV), {"r": actor()}, {"r": reflector}, cases(8), trials=trials, memory_size=3,
                              run=run, progress=False)

    first = go(2, False, Scripted("Prefer agree."))
    again = Scripted("Prefer greet.")
    resumed = go(2, True, again)
    assert again.calls == [] or all(c == [] for c in again.calls)  # every reflection was stored already
    assert [m.returns for m in resumed["r"]] == [m.returns for m in first["r"]]
    run = Run(tmp_path / "run")
    keys = [(e.provenance["index"], e.provenance["trial"]) for e in run.episodes()]
    assert len(keys) == len(set(keys))


def test_bad_trial_settings_are_refused():
    with pytest.raises(WorkbenchError, match="trials must be at least 1"):
        run_trials(make_env(ENV), {"a": actor()}, {"a": None}, cases(2), trials=0, memory_size=1, progress=False)
    with pytest.raises(WorkbenchError, match="no reflector entry"):
        run_trials(make_env(ENV), {"a": actor()}, {}, cases(2), trials=2, memory_size=1, progress=False)
