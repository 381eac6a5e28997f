"""BatchingChatModel: requests from several threads share one batched call of the shared model."""

import threading

import pytest
from langchain_core.messages import HumanMessage

from workbench.errors import WorkbenchError
from workbench.llm.batcher import BatchingChatModel
from workbench.llm.tiny import tiny_chat_model


def conversations(n):
    return [[HumanMessage(f"Would you take {10 * (i + 1)} dollars for the bike?")] for i in range(n)]


def test_concurrent_requests_are_answered_in_one_batch_with_the_replies_they_get_alone():
    inner = tiny_chat_model(temperature=0.0, max_tokens=6)
    alone = [inner.invoke(c).content for c in conversations(4)]
    model = BatchingChatModel(inner=inner, window_s=0.3)
    replies = [None] * 4
    barrier = threading.Barrier(4)

    def ask(i):
        barrier.wait()
        replies[i] = model.invoke(conversations(4)[i]).content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert replies == alone
    assert model.batch_sizes == [4]


def run_together(calls):
    out = {}
    threads = [threading.Thread(target=lambda k=k, f=f: out.setdefault(k, f())) for k, f in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_requests_with_other_stops_get_their_own_call_and_a_request_is_never_split():
    inner = tiny_chat_model(temperature=0.0, max_tokens=4)
    model = BatchingChatModel(inner=inner, window_s=0.3, max_batch_size=3)
    out = run_together({"a": lambda: model.batch(conversations(2)),
                        "b": lambda: model.bind(stop=["\n"]).batch(conversations(1)),
                        "c": lambda: model.batch(conversations(2))})
    assert sorted(model.batch_sizes) == [1, 2, 2]  # a, c share options but 4 > max_batch_size; b differs
    assert [len(out[k]) for k in "abc"] == [2, 1, 2]


def test_sampled_requests_at_other_temperatures_and_budgets_share_one_generate():
    inner = tiny_chat_model(max_tokens=8)
    greedy = [inner.generate_messages([c], temperature=0.0, max_tokens=n)[0].content
              for c, n in zip(conversations(2), (3, 8))]
    model = BatchingChatModel(inner=inner, window_s=0.3)
    cold = {"a": lambda: model.bind(temperature=1e-6, max_tokens=3).invoke(conversations(2)[0]),  # ~greedy
            "b": lambda: model.bind(temperature=2e-6, max_tokens=8).invoke(conversations(2)[1])}
    out = run_together(cold)
    assert model.batch_sizes == [2]
    assert [out["a"].content, out["b"].content] == greedy
    assert out["a"].usage_metadata["output_tokens"] <= 3
    with pytest.raises(WorkbenchError, match="cannot mix greedy"):
        inner.generate_messages(conversations(2), temperature=[0.0, 0.7])
    with pytest.raises(WorkbenchError, match="max_tokens has 1 values for 2"):
        inner.generate_messages(conversations(2), max_tokens=[3])


def test_an_error_reaches_every_caller_of_the_failed_batch_and_the_worker_goes_on():
    inner = tiny_chat_model(temperature=0.0, max_tokens=4)
    model = BatchingChatModel(inner=inner, window_s=0.0)
    with pytest.raises(Exception, match="unknown option"):
        model.invoke(conversations(1)[0], nonsense=1)
    assert model.invoke(conversations(1)[0]).content == inner.invoke(conversations(1)[0]).content
