"""iTool's fast node value for MCTS (Zeng et al. 2025, arXiv 2501.09766, Sec. 3.2): how well a response so far
agrees with the reference calls, cheap enough to score every node; the leaves get the environment's full check.

value = ``FORMAT_WEIGHT`` · format validity + (1 − ``FORMAT_WEIGHT``) · call overlap, where

- format validity is 1 when the response so far reads as calls (a prefix of a call list is first closed: the
  trailing separator dropped and the open ``[`` closed), else 0;
- a response that does not read as calls yet (a call cut mid-arguments, or malformed) earns only
  ``NAME_SHARE`` of the overlap share for the reference's function names it calls, so a sample with the right
  function but unreadable arguments is worth more than one with the wrong function (both would be 0 otherwise,
  and equal siblings give no preference pair);
- a finished reply (an MCTS leaf) is worth 1 when it passes the environment's check, else
  ``FAILED_LEAF_SHARE`` of its fast value (:func:`leaf_value`);
- call overlap matches predicted and reference calls one to one (greedily, best pair first): a pair scores the
  share of the union of their argument names on which both agree, 0 for different function names; the sum is
  divided by the larger of the two counts, so missing and extra calls both cost.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.tool_calls import CodeScanner, ToolCall, parse_calls

FORMAT_WEIGHT = 0.2
NAME_SHARE = 0.5
FAILED_LEAF_SHARE = 0.5
_NAMED = re.compile(r'([A-Za-z_][\w.]*)\s*\(|"name"\s*:\s*"([^"]+)"')


def close_prefix(text: str) -> str:
    """A response cut after a whole call made readable: ``[f(a=1),`` -> ``[f(a=1)]``."""
    stack: list[str] = []
    for _, ch in CodeScanner(text):
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}" and stack:
            stack.pop()
    if stack == ["["]:
        return text.rstrip().rstrip(",") + "]"
    return text


def call_score(predicted: ToolCall, reference: ToolCall) -> float:
    """The share of the two calls' argument names on which both give the same value (0 for another function)."""
    if predicted.name != reference.name:
        return 0.0
    names = set(predicted.arguments) | set(reference.arguments)
    if not names:
        return 1.0
    same = sum(name in predicted.arguments and name in reference.arguments
               and _same(predicted.arguments[name], reference.arguments[name]) for name in names)
    return same / len(names)


def overlap(predicted: list[ToolCall], reference: list[ToolCall]) -> float:
    """Greedy one-to-one matching of calls by :func:`call_score`, summed over the larger count."""
    if not predicted and not reference:
        return 1.0
    pairs = sorted(((call_score(p, r), i, j) for i, p in enumerate(predicted) for j, r in enumerate(reference)),
                   reverse=True)
    used_p: set[int] = set()
    used_r: set[int] = set()
    total = 0.0
    for score, i, j in pairs:
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            total += score
    return total / max(len(predicted), len(reference))


def named_functions(text: str) -> list[str]:
    """The function names a text that does not read as calls yet is calling: ``name(`` or ``"name": "name"``."""
    return [a or b for a, b in _NAMED.findall(text)]


def fast_reward(response: str, reference: str) -> float:
    """The fast value of ``response`` (a prefix of a reply) against the expert's ``reference`` reply."""
    truth = parse_calls(reference).calls
    parsed = parse_calls(close_prefix(response))
    if parsed.failure is not None:  # not readable yet: the right function names earn half of the overlap share
        names, wanted = named_functions(response), [c.name for c in truth]
        if not names or not wanted:
            return 0.0
        hits = sum(min(names.count(n), wanted.count(n)) for n in set(wanted))
        return (1 - FORMAT_WEIGHT) * NAME_SHARE * hits / max(len(names), len(wanted))
    if not truth:  # the right reply calls nothing (BFCL irrelevance, a final answer)
        return FORMAT_WEIGHT + (1 - FORMAT_WEIGHT) * (not parsed.calls)
    return FORMAT_WEIGHT * bool(parsed.calls) + (1 - FORMAT_WEIGHT) * overlap(parsed.calls, truth)


def leaf_value(passed: bool, fast: float) -> float:
    """A finished reply's value: 1 when it passes the environment's check (AST or execution), else
    ``FAILED_LEAF_SHARE`` of its fast value, so among wrong replies the one closer to the reference still ranks
    higher (a right function with unquoted dates above a wrong function) and never above a right one."""
    return 1.0 if passed else FAILED_LEAF_SHARE * fast


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b
