"""Parsing an LLM's tool calls: every accepted form, failures counted with their reason, the round trip."""

import pytest

from workbench import tool_calls as tc
from workbench.tool_calls import CallStats, ToolCall, format_calls, parse_calls

WEATHER = ToolCall("get_weather", {"city": "Paris", "days": 3})


@pytest.mark.parametrize("text", [
    '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}',
    '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}',
    '{"name": "get_weather", "args": {"city": "Paris", "days": 3}}',
    '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\", \\"days\\": 3}"}',
    '[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]',
    '{"tool_calls": [{"id": "c1", "type": "function", "function": '
    '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\", \\"days\\": 3}"}}]}',
    'Let me check.\n```json\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n```',
    '```\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n```',
    'I will look it up.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}',  # stopped at the tag
    'get_weather(city="Paris", days=3)',
    "[get_weather(city='Paris', days=3)]",
    "```python\n[get_weather(city='Paris', days=3)]\n```",
])
def test_each_accepted_form_gives_the_call(text):
    assert parse_calls(text) == tc.ParsedCalls(calls=[WEATHER])


def test_several_calls_in_each_form():
    two = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": "x"})]
    for text in ['[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {"b": "x"}}]',
                 '{"name": "f", "arguments": {"a": 1}}\n{"name": "g", "arguments": {"b": "x"}}',
                 '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>\n'
                 '<tool_call>{"name": "g", "arguments": {"b": "x"}}</tool_call>',
                 '[f(a=1), g(b="x")]', 'f(a=1)\ng(b="x")']:
        assert parse_calls(text).calls == two, text


def test_dotted_names_nested_literals_and_no_arguments():
    parsed = parse_calls('[math.factorial(n=5), f(b=[1, 2], c={"k": 1, "l": [None, True, -2.5]}), now()]')
    assert parsed.calls == [ToolCall("math.factorial", {"n": 5}),
                            ToolCall("f", {"b": [1, 2], "c": {"k": 1, "l": [None, True, -2.5]}}),
                            ToolCall("now", {})]
    assert parse_calls('{"name": "now"}').calls == [ToolCall("now", {})]


@pytest.mark.parametrize("text", [
    "The weather in Paris is sunny, 21 degrees.",
    "Sure (see below): it will rain.",
    "You could call get_weather(city='Paris') yourself.",
    "Here is some code:\n```python\ndef f(x):\n    return x\n```",
])
def test_plain_answers_are_neither_calls_nor_failures(text):
    assert parse_calls(text) == tc.ParsedCalls(answer=text.strip())


@pytest.mark.parametrize("text, reason", [
    ("", tc.EMPTY),
    ('{"name": "f", "arguments": {"a": 1}', tc.UNBALANCED),
    ("[f(a=1), g(b=2)", tc.UNBALANCED),
    ('f(a="x)', tc.UNBALANCED),
    ('{"name": "f", "arguments": {"a": 1},}', tc.BAD_JSON),
    ("```json\n{'name': 'f'}\n```", tc.BAD_JSON),
    ("<tool_call>{name: f}</tool_call>", tc.BAD_JSON),
    ("f(a=1 b=2)", tc.BAD_PYTHON),
    ('{"city": "Paris"}', tc.NOT_A_CALL),
    ("[1, 2]", tc.NOT_A_CALL),
    ("f(a=1); import os", tc.NOT_A_CALL),
    ('{"name": 3, "arguments": {}}', tc.BAD_NAME),
    ("f(a=1)(b=2)", tc.BAD_NAME),
    ('{"name": "f", "arguments": [1, 2]}', tc.BAD_ARGUMENTS),
    ('{"name": "f", "arguments": "not json"}', tc.BAD_ARGUMENTS),
    ("f(1, b=2)", tc.POSITIONAL),
    ("f(a=x)", tc.NON_LITERAL),
    ("f(**{'a': 1})", tc.NON_LITERAL),
    ("[]", tc.NO_CALLS),
])
def test_malformed_calls_fail_with_their_reason_and_never_raise(text, reason):
    assert parse_calls(text) == tc.ParsedCalls(failure=reason)


def test_one_bad_call_fails_the_whole_text():
    assert parse_calls("[f(a=1), g(b=y)]") == tc.ParsedCalls(failure=tc.NON_LITERAL)


def test_non_literal_arguments_are_never_evaluated(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setattr("os.system", lambda cmd: pytest.fail(f"evaluated {cmd!r}"))
    for text in [f'f(a=os.system("touch {marker}"))', f'f(a=open("{marker}", "w"))', "f(a=__import__('os'))",
                 "f(a=(lambda: 1)())", "f(a=[x for x in range(10**9)])", "f(a=2**10**10)"]:
        assert parse_calls(text).failure == tc.NON_LITERAL, text
    assert not marker.exists()


@pytest.mark.parametrize("style", ["json", "python"])
def test_format_then_parse_round_trips(style):
    for calls in ([WEATHER],
                  [ToolCall("math.factorial", {"n": 5}), ToolCall("now", {})],
                  [ToolCall("f", {"s": "it's \"quoted\"\nnewline", "xs": [1, 2.5, None, True],
                                  "d": {"k": [{"deep": "é"}]}})]):
        assert parse_calls(format_calls(calls, style)).calls == calls


def test_format_calls_shapes_and_refusals():
    assert format_calls([WEATHER]) == '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}'
    assert format_calls([WEATHER], "python") == "[get_weather(city='Paris', days=3)]"
    with pytest.raises(ValueError, match="at least one"):
        format_calls([])
    with pytest.raises(ValueError, match="not a Python identifier"):
        format_calls([ToolCall("get-weather", {})], "python")
    with pytest.raises(ValueError, match="not a Python identifier"):
        format_calls([ToolCall("f", {"class": 1})], "python")
    with pytest.raises(ValueError, match="unknown style"):
        format_calls([WEATHER], "xml")


def test_call_stats_count_outcomes_per_reason():
    stats = CallStats()
    texts = ["f(a=1)", "[f(a=1), g(b=2)]", "It is sunny.", "f(a=x)", "f(1)", "f(b=y)", "{"]
    results = [stats.add(parse_calls(t)) for t in texts]
    assert results[0].calls == [ToolCall("f", {"a": 1})]
    assert stats.as_dict() == {"parsed": 2, "calls": 3, "answers": 1, "failed": 4,
                               "failed: non-literal arguments": 2, "failed: positional arguments": 1,
                               "failed: unbalanced brackets": 1}
