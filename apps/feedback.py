"""``workbench feedback``: verbal feedback to LoRA adapters (C3PO) and the adapter library."""

from __future__ import annotations

import argparse
from typing import Sequence

from agents.c3po.config import COMBINATIONS, DEFAULT_LIBRARY
from workbench.config import add_verbose
from workbench.errors import WorkbenchError

ACTIONS = {
    "add": "turn one feedback into a C3PO adapter: write data, train, evaluate S_in / S_out, store it enabled",
    "list": "list the adapters with their feedback, state and scores",
    "enable": "mark an adapter enabled (`--adapters enabled` of selfplay / evaluate gives the agent all of them)",
    "disable": "disable an adapter",
    "remove": "delete an adapter and its data",
    "evaluate": "score an adapter (or a combination) against the base model on its held-out prompts",
    "combine": "store several adapters as one: routed by scope (default) or summed (PEFT add_weighted_adapter, cat)",
}


def cmd_feedback(argv: Sequence[str]) -> None:
    """``workbench feedback ACTION ...``: dispatch to the action's parser."""
    from apps.cli import pick

    action = pick(argv, "workbench feedback", "Verbal feedback as LoRA adapters (RLVF / C3PO, Stephan et al. 2024)",
                  ACTIONS, "ACTION", "`workbench feedback ACTION --help` shows its options.")
    if action is None:
        return
    {"add": _add, "combine": _combine, "list": _list}.get(action, _named)(action, list(argv[1:]))


def _add(action: str, argv: list[str]) -> None:
    from apps.cli import config_class
    from workbench.config import parse_config

    usage = 'workbench feedback add "TEXT" [options]'
    if argv and argv[0] in {"-h", "--help"}:
        parse_config(config_class("feedback add"), ["--help"], prog=usage, description=ACTIONS["add"])
        return
    if not argv or argv[0].startswith("--"):
        raise WorkbenchError(f"feedback add needs the feedback text first: {usage}")
    config = parse_config(config_class("feedback add"), argv[1:], prog=usage, description=ACTIONS["add"])
    from agents.c3po.library import AdapterLibrary
    from agents.c3po.pipeline import add_feedback, dropped_note
    from workbench.evaluate import format_rows

    folder, table = add_feedback(argv[0], config)
    print(format_rows(table, "method"))
    print(dropped_note(AdapterLibrary(config.library).info(folder.name)["data"]))
    print(f"adapter: {folder.name} (enabled) in {folder}")


def _library_parser(action: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"workbench feedback {action}", description=ACTIONS[action],
                                     allow_abbrev=False)
    parser.add_argument("--library", default=DEFAULT_LIBRARY, help="adapter library folder (default: %(default)s)")
    add_verbose(parser)
    return parser


def _list(action: str, argv: list[str]) -> None:
    root = _library_parser(action).parse_args(argv).library
    from agents.c3po.library import AdapterLibrary

    library = AdapterLibrary(root)
    names = library.names()
    if not names:
        print(f"no adapters in {library.root}")
    for name in names:
        info = library.info(name)
        scores = info.get("scores", {}).get("c3po") or info.get("scores", {}).get(name) or {}
        score = f"  S_in {scores['S_in']}  S_out {scores['S_out']}" if scores else ""
        state = "enabled " if info.get("enabled") else "disabled"
        print(f"{name}  [{state}] {info.get('kind', 'c3po')}{score}\n    {info['feedback']}")


def _named(action: str, argv: list[str]) -> None:
    parser = _library_parser(action)
    parser.add_argument("name", help="adapter name (see `workbench feedback list`)")
    if action == "evaluate":
        parser.add_argument("--judge", default=None, help="judge model for feedback without checkable rules")
    args = parser.parse_args(argv)
    from agents.c3po.library import AdapterLibrary

    library = AdapterLibrary(args.library)
    if action == "evaluate":
        from agents.c3po.pipeline import evaluate_adapter
        from workbench.evaluate import format_rows

        print(format_rows(evaluate_adapter(library, args.name, args.judge), "method"))
    elif action == "remove":
        library.remove(args.name)
        print(f"removed {args.name}")
    else:
        library.set_enabled(args.name, action == "enable")
        print(f"{args.name}: {action}d")


def _combine(action: str, argv: list[str]) -> None:
    parser = _library_parser(action)
    parser.add_argument("names", nargs="+", help="adapters to combine")
    parser.add_argument("--name", required=True, help="name of the combined adapter")
    parser.add_argument("--kind", choices=COMBINATIONS, default=COMBINATIONS[0],
                        help="routed: each prompt gets the adapter whose scope it is in, or none; cat: the sum of "
                             "the adapters' updates on every prompt (default: %(default)s)")
    parser.add_argument("--weights", type=float, nargs="+", default=None,
                        help="cat only: one weight per adapter (default 1)")
    args = parser.parse_args(argv)
    from agents.c3po.library import AdapterLibrary
    from agents.c3po.pipeline import local_model

    library = AdapterLibrary(args.library)
    model = local_model(library.info(args.names[0])["model"]) if args.kind == "cat" else None
    folder = library.combine(model, args.names, args.name, args.weights, kind=args.kind)
    print(f"combined {', '.join(args.names)} into {args.name} ({args.kind}, {folder}); score it with "
          f"`workbench feedback evaluate {args.name}`")
