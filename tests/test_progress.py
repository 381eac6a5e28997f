"""Progress in model calls: a rollout's readings, local models' reports within a call, the batcher's sinks."""

import io
import re
import threading
from types import SimpleNamespace

import pytest

from agents.policies import RandomPolicy
from agents.template import TemplateAgent
from simulators.negotiation import NegotiationEnv
from workbench.critics import GroundTruthCritic
from workbench.llm.batcher import BatchingChatModel
from workbench.llm.tiny import tiny_chat_model
from workbench.progress import Meter, Progress
from workbench.registry import make_env
from workbench.rollout import Lengths, rollout


def check_readings(readings: list[Progress], planned: int) -> None:
    assert readings[0].done == 0 and readings[0].total == planned  # the total is known before any work
    assert all(a.done <= b.done for a, b in zip(readings, readings[1:]))
    assert all(r.done <= r.total for r in readings)
    assert readings[-1].done == readings[-1].total


def test_llm_selfplay_reports_calls_within_a_turn(cb_file):
    model = tiny_chat_model(seed=0)
    env = make_env("negotiation", simulator="llm", sim_model=model, critic="llm", critic_model=model,
                   critic_samples=2, max_turns=1)
    agent = TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies))
    readings: list[Progress] = []
    episodes = rollout(env, agent, NegotiationEnv.cases(cb_file), n=3, batch_size=3, progress=False,
                       on_progress=readings.append)
    check_readings(readings, 3 * 1 * (2 + 2))  # episodes x turns x (agent turn, user turn, 2 verdicts)
    assert [e.outcome["turns"] for e in episodes] == [1, 1, 1]
    # the model reported while it generated (the rollout itself reports no tokens): the user turns' and the
    # verdicts' generate calls each reported more than once
    growing = sum(b.tokens > a.tokens for a, b in zip(readings, readings[1:]))
    assert growing > 2 * 2


def test_scripted_selfplay_counts_calls_and_refines_the_total(cb_file):
    env = NegotiationEnv(NegotiationEnv.scripted_simulator(), GroundTruthCritic(NegotiationEnv.ground_truth),
                         max_turns=8)
    readings: list[Progress] = []
    episodes = rollout(env, TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies)),
                       NegotiationEnv.cases(cb_file), n=30, seed=1, batch_size=7, on_progress=readings.append)
    check_readings(readings, 30 * 8 * 3)
    assert readings[-1].done == sum(e.outcome["turns"] for e in episodes) * 3
    assert readings[-1].tokens == 0
    assert readings[-1].note.startswith("30/30 ep")


def test_meter_caps_reports_at_the_call_and_plans_never_below_done():
    readings: list[Progress] = []
    with Meter(10, desc="test", show=False, on_progress=readings.append) as meter:
        assert meter.reading().eta is None
        with meter.calls(4):
            meter.generated(3, 12)
            meter.generated(5, 1)  # more than the call planned: held at its 4
            assert meter.done == 4
        meter.generated(2, 0)  # outside a call: tokens only
        meter.plan(2)
    assert (meter.done, meter.total, meter.tokens) == (4, 4, 13)
    assert [r.done for r in readings] == [0, 3, 4, 4, 4, 4]


def test_the_bar_shows_an_eta_from_the_first_unit():
    out = io.StringIO()
    with Meter(10, desc="work", file=out, mininterval=0) as meter:
        assert re.search(r"0/10 \[[\d:]+<\?", out.getvalue())  # no rate yet
        meter.advance()
        assert re.search(r"1/10 \[[\d:]+<[\d:]+", out.getvalue().rsplit("\r", 1)[-1])  # elapsed<remaining


def test_lengths_count_live_episodes_like_kaplan_meier():
    lengths = Lengths(max_turns=3)
    a, b, c = (SimpleNamespace(agent_turns=1, done=False, truncated=False, max_turns=3) for _ in range(3))
    a.done = True  # a ends at turn 1, b at turn 2, c is still live after turn 2
    for state in (a, b, c):
        lengths.record(state)
    b.agent_turns, b.done, c.agent_turns = 2, True, 2
    for state in (b, c):
        lengths.record(state)
    # P(plays turn 2) = 2/3, P(plays turn 3) = 2/3 * 1/2 (no one reached turn 3: it is expected to be played)
    assert lengths.remaining([c], pending=0) == pytest.approx(1.0)
    assert lengths.remaining([], pending=1) == pytest.approx(1 + 2 / 3 + 1 / 3)


def test_batcher_reports_to_each_callers_meter():
    shared = BatchingChatModel(inner=tiny_chat_model(temperature=0, max_tokens=6), window_s=0.3)
    inside: dict[str, tuple[int, int]] = {}
    barrier = threading.Barrier(2)

    def caller(name: str, rows: int) -> None:
        with Meter(rows, desc=name, show=False, on_progress=lambda p: None) as meter:
            with meter.calls(rows):
                barrier.wait()
                shared.batch([f"{name} says hello {i}" for i in range(rows)])
                inside[name] = (meter.done, meter.tokens)  # reported by the model, before the block settles

    threads = [threading.Thread(target=caller, args=(name, rows)) for name, rows in (("a", 2), ("b", 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shared.batch_sizes == [5]  # one generate for both callers
    assert inside["a"][0] == 2 and inside["b"][0] == 3
    assert 0 < inside["a"][1] <= 2 * 6 and 0 < inside["b"][1] <= 3 * 6
