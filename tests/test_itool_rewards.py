"""iTool's fast MCTS node value: format validity plus call overlap with the reference, on hand-worked examples."""

import pytest

from agents.itool.rewards import FORMAT_WEIGHT, NAME_SHARE, call_score, close_prefix, fast_reward, overlap
from workbench.tool_calls import ToolCall

REF = "[area(base=10, height=5), perimeter(side=3)]"


def test_close_prefix_makes_a_cut_call_list_readable():
    assert close_prefix("[area(base=10, height=5),") == "[area(base=10, height=5)]"
    assert close_prefix("[area(base=10") == "[area(base=10"  # an unfinished call stays unreadable
    assert close_prefix('[f(s="a,[")') == '[f(s="a,[")]'  # brackets inside strings do not count


def test_call_score_and_overlap():
    a, b = ToolCall("area", {"base": 10, "height": 5}), ToolCall("area", {"base": 10, "height": 6})
    assert call_score(a, a) == 1 and call_score(a, b) == 0.5 and call_score(a, ToolCall("p", {})) == 0
    assert call_score(ToolCall("area", {"base": 10.0, "height": 5}), a) == 1  # 10.0 == 10
    assert overlap([a], [a, ToolCall("perimeter", {"side": 3})]) == 0.5  # a missing call costs
    assert overlap([a, a], [a]) == 0.5  # so does an extra one
    assert overlap([], []) == 1


@pytest.mark.parametrize("response, value", [
    (REF, 1.0),
    ("[area(base=10, height=5),", FORMAT_WEIGHT + (1 - FORMAT_WEIGHT) * 0.5),  # one of two calls so far
    ("[area(base=10, height=6), perimeter(side=3)]", FORMAT_WEIGHT + (1 - FORMAT_WEIGHT) * 0.75),
    ("[area(base=10", (1 - FORMAT_WEIGHT) * NAME_SHARE * 0.5),  # not readable yet: the right name, one of two
    ('{"name": "perimeter", "arguments": {"side": 3,', (1 - FORMAT_WEIGHT) * NAME_SHARE * 0.5),
    ("[volume(base=10", 0.0),  # the wrong function
    ("The area is 25.", 0.0),  # a plain answer where calls are due: no format credit, no overlap
])
def test_fast_reward(response, value):
    assert fast_reward(response, REF) == pytest.approx(value)


def test_fast_reward_when_the_right_reply_calls_nothing():
    no_fit = "None of these functions can do that."
    assert fast_reward("I cannot do that with these tools.", no_fit) == 1.0
    assert fast_reward("[area(base=1, height=1)]", no_fit) == pytest.approx(FORMAT_WEIGHT)


def test_a_leaf_is_worth_one_when_it_passes_else_a_share_of_its_fast_value():
    from agents.itool.rewards import FAILED_LEAF_SHARE, leaf_value

    assert leaf_value(True, 0.0) == 1.0
    close, far = fast_reward("[area(base=10", REF), fast_reward("[volume(base=10", REF)
    assert leaf_value(False, close) == pytest.approx(FAILED_LEAF_SHARE * close) and close > 0
    assert leaf_value(False, far) == 0.0
