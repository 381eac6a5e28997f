"""The BFCL AST checker against the shared BFCL items: every ground truth must pass, every mutated call must fail.

    python examples/itool/bfcl_checker.py            # all five categories of ../shared/data/bfcl

Prints how many reference answers pass per category, then one row per mutation kind (wrong function name, missing
required argument, wrong type, value not allowed, extra call, a call where none fits): the items it applies to, how
many could be mutated, how many the checker rejected and how many with the expected error kind.
"""

from __future__ import annotations

from simulators.tool_use.ast_checker import check, mutation_table, reference_calls
from simulators.tool_use.bfcl import CATEGORIES, load_items


def main() -> None:
    items = [item for category in CATEGORIES for item in load_items(category)]
    print("| category | items | ground truth passes |\n|---|---|---|")
    for category in CATEGORIES:
        mine = [i for i in items if i.category == category]
        passed = sum(check(reference_calls(i), i.functions, i.ground_truth, i.category).valid for i in mine)
        print(f"| {category} | {len(mine)} | {passed} |")
    print("\n| mutation | items | mutated | rejected | with the expected error kind |\n|---|---|---|---|---|")
    for kind, row in mutation_table(items).items():
        print(f"| {kind} | {row['items']} | {row['mutated']} | {row['failed']} | {row['expected_kind']} |")


if __name__ == "__main__":
    main()
