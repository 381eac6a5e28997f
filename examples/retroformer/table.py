"""The by-trial table of ``workbench evaluate --reflection`` runs of one environment over several evaluation seeds.

    python examples/retroformer/table.py runs/retroformer-mustshow/eval-negotiation-{0,1,2}

One row per variant: the mean SR@k over the runs, SR at the last trial per run, and the means of the environment's
last-trial metrics and of the shares of reflections that stand in for an empty output ("reflection fallbacks") or
name no strategy (the strategy actor's "no directive"), all read from each run's ``evaluate`` rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.runs import Run


def rows(folder: Path) -> dict[str, dict]:
    """A finished evaluation's table rows by variant."""
    if not (folder / "metrics.jsonl").is_file():
        raise SystemExit(f"error: {folder} is not a finished run folder (no metrics.jsonl)")
    found = {r["variant"]: r for r in Run(folder).metrics() if r.get("event") == "evaluate"}
    if not found:
        raise SystemExit(f"error: {folder} holds no finished trial evaluation")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="evaluation run folders (one per seed)")
    args = parser.parse_args()
    tables = [rows(folder) for folder in args.runs]
    shapes = {(tuple(t), tuple(c for r in t.values() for c in r if c.startswith("SR@"))) for t in tables}
    if len(shapes) > 1:
        raise SystemExit("error: the runs differ in their variants or trials; give runs of one comparison")
    first = tables[0][next(iter(tables[0]))]
    trials = sum(c.startswith("SR@") for c in first)
    extra = [c for c in first if c.endswith("(last trial)")] + ["reflection fallbacks", "no directive"]
    head = ["variant", *(f"SR@{k}" for k in range(1, trials + 1)), f"SR@{trials} per seed", *extra]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for variant in tables[0]:
        runs = [t[variant] for t in tables]
        mean = [sum(r[f"SR@{k}"] for r in runs) / len(runs) for k in range(1, trials + 1)]
        others = [f"{sum(r[c] for r in runs) / len(runs):.3f}" if all(c in r for r in runs) else "n/a" for c in extra]
        print(f"| {variant} | " + " | ".join(f"{v:.3f}" for v in mean) + " | "
              + " / ".join(f"{r[f'SR@{trials}']:.3f}" for r in runs) + " | " + " | ".join(others) + " |")
    print(f"\n{first['cases']} cases, {len(args.runs)} evaluation run(s): " + ", ".join(str(f) for f in args.runs))


if __name__ == "__main__":
    main()
