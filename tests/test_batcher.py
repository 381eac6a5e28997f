"""BatchingChatModel: requests from several threads share one batched call of the shared model."""

import threading

import pytest
from langchain_core.messages import HumanMessage

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


def test_requests_with_other_options_get_their_own_call_and_a_request_is_never_split():
    inner = tiny_chat_model(temperature=0.0, max_tokens=4)
    model = BatchingChatModel(inner=inner, window_s=0.3, max_batch_size=3)
    out = {}
    threads = [threading.Thread(target=lambda: out.setdefault("a", model.batch(conversations(2)))),
               threading.Thread(target=lambda: out.setdefault("b", model.bind(max_tokens=2).batch(conversations(2)))),
               threading.Thread(target=lambda: out.setdefault("c", model.batch(conversations(2))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(model.batch_sizes) == [2, 2, 2]  # a, c share options but 4 > max_batch_size; b differs
    assert all(len(v) == 2 for v in out.values())


def test_an_error_reaches_every_caller_of_the_failed_batch_and_the_worker_goes_on():
    inner = tiny_chat_model(temperature=0.0, max_tokens=4)
    model = BatchingChatModel(inner=inner, window_s=0.0)
    with pytest.raises(Exception, match="unknown option"):
        model.invoke(conversations(1)[0], nonsense=1)
    assert model.invoke(conversations(1)[0]).content == inner.invoke(conversations(1)[0]).content
