"""The ``workbench`` command: ``envs``, ``chat``, ``selfplay``, ``train``, ``feedback``, ``evaluate``,
``hindsight``, ``app``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Sequence

from workbench.errors import WorkbenchError

COMMANDS = {
    "envs": "list environments with their strategies, simulators and metrics",
    "chat": "chat in the terminal as the user; the agent shows its strategy",
    "selfplay": "run agent-vs-simulator episodes into a run directory",
    "train": "train with a registered method: the chat model (TRL's trainers and the workbench's PPO, on "
             "episodes or TRL datasets), the PPDPP planner, a planner from stored dialogues, ...",
    "feedback": "verbal feedback as LoRA adapters (C3PO): add, list, enable, disable, remove, evaluate, combine",
    "evaluate": "compare planners on the same cases (--env E --planners ...), or summarise a run directory",
    "hindsight": "hindsight: regenerate finished dialogues (Hong et al. 2024), simulate consequences before "
                 "labelling preferences (RLHS)",
    "app": "the Gradio app: chat with agents, watch self-play, run training jobs, give verbal feedback",
}

def cmd_envs(argv: Sequence[str]) -> None:
    from workbench.registry import env_class, env_names

    parser = argparse.ArgumentParser(prog="workbench envs", description=COMMANDS["envs"], allow_abbrev=False)
    parser.add_argument("--counts", action="store_true",
                        help="also load each environment's data and print its dialogue counts")
    counts = parser.parse_args(argv).counts
    for name in env_names():
        env = env_class(name)
        print(f"{name}: {env.description}")
        if counts:
            print(f"  data: {data_counts(env)}")
        print(f"  roles: agent={env.agent_role} user={env.user_role}; max turns {env.default_max_turns}")
        print(f"  simulators: {', '.join(env.simulator_names)}")
        print(f"  metrics: {', '.join(env.metric_names)}")
        print(f"  strategies ({len(env.strategies)}):")
        width = max(len(s.name) for s in env.strategies)
        for s in env.strategies:
            print(f"    {s.name:<{width}}  {s.instruction}")


def cmd_selfplay(argv: Sequence[str]) -> None:
    from apps.selfplay import SelfPlayConfig, run_selfplay
    from workbench.config import parse_config
    from workbench.evaluate import format_table

    config = parse_config(SelfPlayConfig, argv, prog="workbench selfplay", description=COMMANDS["selfplay"])
    run, table = run_selfplay(config)
    print(format_table(table))
    print(f"run directory: {run.path}")


def data_counts(env) -> str:
    """How many cases the environment's default data hold, and how many annotated dialogues its SFT files."""
    cases = env.cases()
    if not env.sft_sources():
        return f"{len(cases):,} cases; no annotated dialogues"
    annotated = [c for f in env.sft_sources() for c in env.cases(f)]
    labels = len(env.planner_examples(annotated))
    return (f"{len(cases):,} cases in {env.default_source()}; {len(annotated):,} strategy-annotated dialogues "
            f"({labels:,} labelled agent turns) in {', '.join(str(f) for f in env.sft_sources())}")


def cmd_chat(argv: Sequence[str]) -> None:
    from apps.chat import ChatConfig, run_chat
    from workbench.config import parse_config

    run_chat(parse_config(ChatConfig, argv, prog="workbench chat", description=COMMANDS["chat"]))


def cmd_train(argv: Sequence[str]) -> None:
    from workbench.methods import get_method, methods

    trainer = pick(argv, "workbench train", COMMANDS["train"], {n: m.help for n, m in methods().items()}, "METHOD",
                   "`workbench train METHOD --help` shows its options.")
    if trainer is None:
        return
    from workbench.config import parse_config

    method = get_method(trainer)
    prog = f"workbench train {trainer}"
    config = parse_config(method.config_class(), argv[1:], prog=prog,
                          description=f"{method.help}. Trains on: {method.data}.")
    run, text = method.runner()(config)
    print(text)
    print(f"run directory: {run.path}")


def cmd_evaluate(argv: Sequence[str]) -> None:
    if argv and not argv[0].startswith("-"):
        return summarise_run(argv)
    from apps.compare import EvaluateConfig, run_comparison
    from workbench.config import parse_config

    config = parse_config(EvaluateConfig, argv, prog="workbench evaluate",
                          description="Play every planner on the same cases and seeds; write a table of SR, AT "
                          "(SL% for negotiation) and plots/sr_by_turn.png. (`workbench evaluate RUN_DIR` "
                          "summarises one run directory instead.)")
    run, text = run_comparison(config)
    print(text)
    print(f"run directory: {run.path}")


def summarise_run(argv: Sequence[str]) -> None:
    from workbench.evaluate import fallback_legend, format_table, metrics_table, plot_outcomes
    from workbench.registry import env_class
    from workbench.runs import Run

    parser = argparse.ArgumentParser(prog="workbench evaluate", description=COMMANDS["evaluate"], allow_abbrev=False)
    parser.add_argument("run_dir", help="a run directory written by `workbench selfplay`")
    args = parser.parse_args(argv)
    run = Run(args.run_dir)
    env = env_class(run.config().get("env", ""))
    episodes = run.episodes()
    table = metrics_table(env, episodes)
    print(format_table(table))
    if legend := fallback_legend(table):
        print(legend)
    print(f"plot: {plot_outcomes(episodes, env.agent_role, run.plot_path('outcomes.png'), str(run.path))}")


def cmd_feedback(argv: Sequence[str]) -> None:
    from apps.feedback import cmd_feedback as run

    run(argv)


def cmd_hindsight(argv: Sequence[str]) -> None:
    from apps.hindsight import cmd_hindsight as run

    run(argv)


def cmd_app(argv: Sequence[str]) -> None:
    from apps.app import AppConfig, run_app
    from workbench.config import parse_config

    run_app(parse_config(AppConfig, argv, prog="workbench app", description=COMMANDS["app"]))


HANDLERS = {"app": cmd_app, "envs": cmd_envs, "chat": cmd_chat, "selfplay": cmd_selfplay, "train": cmd_train,
            "feedback": cmd_feedback, "evaluate": cmd_evaluate, "hindsight": cmd_hindsight}


def pick(argv: Sequence[str], prog: str, description: str, choices: dict[str, str], metavar: str,
         footer: str) -> str | None:
    """The subcommand named by ``argv[0]`` (one of ``choices``, listed with their help in ``--help``), or
    None after printing the help when there is none."""
    width = max(map(len, choices)) + 2
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
        epilog=f"{metavar.lower()}s:\n" + "\n".join(f"  {k:<{width}}{v}" for k, v in choices.items())
        + f"\n\n{footer}")
    parser.add_argument("choice", choices=list(choices), metavar=metavar)
    if not argv or argv[0] in {"-h", "--help"}:
        parser.print_help()
        return None
    return parser.parse_args(argv[:1]).choice


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = pick(argv, "workbench", "Dialogue Workbench: train interactive LLM agents by simulation.", COMMANDS,
                   "COMMAND", "`workbench COMMAND --help` shows each command's options and defaults.")
    if command is None:
        return 0
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `workbench ... | head` ends quietly
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars for loading weights; ours stay
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        HANDLERS[command](argv[1:])
    except WorkbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished episodes are saved (continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
