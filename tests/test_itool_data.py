"""iTool's warm-up rows: the expert's replies on tool-use cases as TRL prompt-completion rows, easy -> hard."""

import pytest

from agents.itool.data import CURRICULUM, curriculum, expert_rows
from simulators.tool_use.bfcl import load_items
from simulators.tool_use.cases import bfcl_case, load_cases
from workbench.errors import WorkbenchError
from workbench.registry import make_env
from workbench.tool_calls import parse_calls


def test_expert_rows_follow_the_curriculum_and_render_as_the_model_reads_them():
    env = make_env("tool_use")
    tasks = load_cases("tasks")
    cases = [tasks[2], tasks[0], tasks[1], bfcl_case(load_items("parallel_multiple")[0])]  # hard, easy, medium
    assert [env.difficulty(c) for c in cases[:3]] == ["hard", "easy", "medium"]  # load_cases interleaves levels
    rows = curriculum(expert_rows(env, cases))
    assert [r["difficulty"] for r in rows] == sorted((r["difficulty"] for r in rows), key=CURRICULUM.index)
    assert rows[0]["case"] == tasks[0].id and rows[-1]["difficulty"] == "hard"
    by_case = {}
    for row in rows:
        by_case.setdefault(row["case"], []).append(row)
        assert row["prompt"].endswith("\nAssistant:") and row["completion"].startswith(" ")
    easy = by_case[tasks[0].id]
    assert parse_calls(easy[0]["completion"]).calls and easy[-1]["completion"].startswith(" The answer is ")
    assert easy[-1]["prompt"].count("\nTool: ") >= 1 + easy[0]["prompt"].count("\nTool: ")  # results go back
    (bfcl,) = by_case[cases[3].id]
    assert len(parse_calls(bfcl["completion"]).calls) == len(cases[3].fields["ground_truth"])


def test_rows_need_a_tool_use_environment_and_known_levels():
    with pytest.raises(WorkbenchError, match="has no expert_reply"):
        expert_rows(make_env("negotiation"), [])
    with pytest.raises(WorkbenchError, match="unknown difficulty 'expert'"):
        curriculum([{"difficulty": "expert"}])
