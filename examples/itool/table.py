"""One Markdown table from the ``workbench evaluate --env tool_use`` runs of ``examples/itool/compare.sh``.

    python examples/itool/table.py runs/itool-compare/eval [--bfcl_n 20] [--tasks_n 6]

Each run folder is ``<model>-bfcl`` or ``<model>-tasks``; the table has one row per model (in the order the runs
were made): AST accuracy overall and per BFCL category, execution success overall and per difficulty, and the
parse-failure rate of each (percent), computed by the environment's own metrics from the stored episodes. With
``--bfcl_n`` / ``--tasks_n`` only each run's first episodes count (episode ``i`` plays held-out case ``i``), so
runs of different lengths compare on the same cases.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.registry import env_class
from workbench.runs import Run

COLUMNS = {"bfcl": ["AST", "AST simple_python", "AST multiple", "AST parallel", "AST parallel_multiple",
                    "AST irrelevance", "parse-failure rate"],
           "tasks": ["exec success", "exec success easy", "exec success medium", "exec success hard",
                     "valid-call rate", "parse-failure rate"]}


def metrics(folder: Path, limit: int | None) -> tuple[int, dict[str, float]]:
    """The number of episodes counted and the environment's metrics over them."""
    episodes = [e for e in Run(folder).episodes() if limit is None or e.provenance["index"] < limit]
    return len(episodes), env_class("tool_use").metrics(episodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="runs/itool-compare/eval")
    parser.add_argument("--bfcl_n", type=int, default=None, help="count only each BFCL run's first episodes")
    parser.add_argument("--tasks_n", type=int, default=None, help="count only each tasks run's first episodes")
    args = parser.parse_args()
    root, limits = Path(args.root), {"bfcl": args.bfcl_n, "tasks": args.tasks_n}
    runs = sorted((p for p in root.iterdir() if (p / "summary.md").is_file()), key=lambda p: p.stat().st_mtime)
    models = list(dict.fromkeys(p.name.rsplit("-", 1)[0] for p in runs))
    header = [f"{c} ({kind})" if c == "parse-failure rate" else c for kind, cols in COLUMNS.items() for c in cols]
    print("| model | episodes (bfcl / tasks) | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 2) + "|")
    for model in models:
        cells, counts = [], []
        for kind, columns in COLUMNS.items():
            folder = root / f"{model}-{kind}"
            n, row = metrics(folder, limits[kind]) if (folder / "summary.md").is_file() else (0, {})
            counts.append(str(n) if n else "-")
            cells += [f"{100 * row[c]:.0f}" if c in row else "-" for c in columns]
        print(f"| {model} | {' / '.join(counts)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
