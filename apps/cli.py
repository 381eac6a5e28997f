"""The ``workbench`` command: ``quickstart``, ``envs``, ``chat``, ``selfplay``, ``train``, ``feedback``, ``evaluate``,
``evaluate-user``, ``critique``, ``hindsight``, ``play``, ``app``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import warnings
from types import FrameType
from typing import Sequence, TextIO

from workbench.config import add_verbose
from workbench.errors import WorkbenchError

COMMANDS = {
    "quickstart": "train a PPDPP strategy planner by self-play, show it beat the baselines, hear the embedded Gemma "
                  "speak its strategies (a few minutes on a CPU)",
    "envs": "list environments with their strategies, simulators and metrics",
    "chat": "chat in the terminal as the user; the agent shows its strategy",
    "selfplay": "run agent-vs-simulator episodes into a run directory",
    "train": "train with a registered method: the chat model (TRL's trainers and the workbench's PPO, on "
             "episodes or TRL datasets), the PPDPP planner, a planner from stored dialogues, ...",
    "feedback": "verbal feedback as LoRA adapters (C3PO): add, list, enable, disable, remove, evaluate, combine",
    "evaluate": "compare planners on the same cases (--env E --planners ...), reflection variants by trial "
                "(--env E --reflection none reflexion retroformer:<run> --trials N), or summarise a run directory",
    "evaluate-user": "score user agents (Commander simulators) against the human Commander of real TEACh games: "
                     "when to speak and which dialogue acts (--simulators rule,scripted,llm ...)",
    "critique": "score critics on the ground-truth critique benchmark of scripted episodes (MultiCritique's ACUs: "
                "location and flaw accuracy): single, merged, critic:<run> ...",
    "hindsight": "hindsight: regenerate finished dialogues (Hong et al. 2024), simulate consequences before "
                 "labelling preferences (RLHS)",
    "play": "take the human hero's seat in the MOBA lane game beside the agent heroes (scripted, follow or trained)",
    "app": "the Gradio app: chat with agents, watch self-play, run training jobs, give verbal feedback",
}

CONFIGS = {
    "quickstart": "apps.quickstart:QuickstartConfig", "selfplay": "apps.selfplay:SelfPlayConfig", "chat": "apps.chat:ChatConfig", "evaluate": "apps.compare:EvaluateConfig",
    "evaluate --reflection": "apps.trials:TrialsConfig",
    "evaluate-user": "apps.evaluate_user:EvaluateUserConfig", "critique": "agents.multicritique.config:BenchmarkConfig",
    "app": "apps.app:AppConfig", "play": "apps.play:PlayConfig", "hindsight regenerate": "apps.hindsight:RegenerateConfig",
    "hindsight simulate": "apps.hindsight:SimulateConfig", "feedback add": "agents.c3po.config:FeedbackConfig",
}
"""The options (``module:Class``, a dataclass) of each command read by ``parse_config``; ``train``'s come from the
method registry (``workbench.methods``). Their modules import nothing heavy, so ``--help`` is quick."""


def config_class(command: str) -> type:
    """The options class of ``command`` (a key of :data:`CONFIGS`)."""
    from workbench.methods import load_object

    return load_object(CONFIGS[command])


LIBRARIES = ("transformers", "trl", "torch", "peft", "accelerate", "datasets", "huggingface_hub", "tokenizers",
             "safetensors", "langchain_core", "gradio", "gradio_client")
"""Libraries whose warnings and log lines below ERROR are hidden unless ``--verbose`` is given."""
QUIET_CATEGORIES = (FutureWarning, DeprecationWarning, UserWarning)
VERBOSE_ENV = "WORKBENCH_VERBOSE"
"""Set to 1 by ``--verbose``; jobs the app starts (``workbench`` subprocesses) inherit it."""


def is_library_warning(category: type[Warning], module: str) -> bool:
    """Whether a warning of ``category`` issued by the code of ``module`` is a library's note to its developers
    (deprecations, future changes), which says nothing to the user."""
    return issubclass(category, QUIET_CATEGORIES) and module.partition(".")[0] in LIBRARIES


def _issuer(frame: FrameType | None) -> str:
    """The module of the first frame at or above ``frame`` outside ``warnings``: the code that called
    ``warnings.warn`` (whatever its ``stacklevel`` blames)."""
    while frame is not None and frame.f_globals.get("__name__") == "warnings":
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


def quiet_libraries(verbose: bool) -> None:
    """Hide the libraries' (:data:`LIBRARIES`) warnings and their log lines below ERROR, unless ``verbose``
    (or ``$WORKBENCH_VERBOSE`` is 1). The workbench's own warnings and log lines always show."""
    if verbose or os.environ.get(VERBOSE_ENV) == "1":
        os.environ[VERBOSE_ENV] = "1"
        return
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_VERBOSITY"):
        os.environ.setdefault(name, "error")  # read when the library is imported
    if "transformers" in sys.modules:  # imported already (the app's tests, a Python session)
        sys.modules["transformers"].logging.set_verbosity_error()
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    show = warnings.showwarning
    if getattr(show, "quiet", False):  # installed already (the app started by the CLI)
        return

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: TextIO | None = None, line: str | None = None) -> None:
        if not is_library_warning(category, _issuer(sys._getframe(1))):
            show(message, category, filename, lineno, file, line)

    showwarning.quiet = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def cmd_envs(argv: Sequence[str]) -> None:
    from workbench.registry import env_class, env_names, game_class, game_names

    parser = argparse.ArgumentParser(prog="workbench envs", description=COMMANDS["envs"], allow_abbrev=False)
    parser.add_argument("--counts", action="store_true",
                        help="also load each environment's data and print its dialogue counts")
    add_verbose(parser)
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
    for name in game_names():
        game = game_class(name)
        print(f"{name} (game, `workbench play --env {name}`): {(game.__doc__ or '').strip().splitlines()[0]}")


def cmd_selfplay(argv: Sequence[str]) -> None:
    from apps.selfplay import run_selfplay
    from workbench.config import parse_config

    config = parse_config(config_class("selfplay"), argv, prog="workbench selfplay", description=COMMANDS["selfplay"])
    from workbench.evaluate import format_table

    run, table = run_selfplay(config)
    print(format_table(table))
    print(f"run directory: {run.path}")


def cmd_quickstart(argv: Sequence[str]) -> None:
    from apps.quickstart import run_quickstart
    from workbench.config import parse_config

    print(run_quickstart(parse_config(config_class("quickstart"), argv, prog="workbench quickstart",
                                      description=COMMANDS["quickstart"])))


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
    from apps.chat import run_chat
    from workbench.config import parse_config

    run_chat(parse_config(config_class("chat"), argv, prog="workbench chat", description=COMMANDS["chat"]))


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
    if game_argument(argv):
        return evaluate_game(argv)
    if any(a == "--reflection" or a.startswith("--reflection=") for a in argv):
        return evaluate_trials(argv)
    from apps.compare import run_comparison
    from workbench.config import parse_config

    config = parse_config(config_class("evaluate"), argv, prog="workbench evaluate",
                          description="Play every planner on the same cases and seeds; write a table of SR, AT "
                          "(SL% for negotiation) and plots/sr_by_turn.png. (`workbench evaluate RUN_DIR` "
                          "summarises one run directory instead.)")
    run, text = run_comparison(config)
    print(text)
    print(f"run directory: {run.path}")


def game_argument(argv: Sequence[str]) -> bool:
    """Whether ``--env`` names a vector game (``workbench evaluate --env moba``) rather than a dialogue environment."""
    from workbench.registry import game_names

    for i, arg in enumerate(argv):
        value = arg.partition("=")[2] if arg.startswith("--env=") else (
            argv[i + 1] if arg == "--env" and i + 1 < len(argv) else None)
        if value is not None:
            return value in game_names()
    return False


def evaluate_game(argv: Sequence[str]) -> None:
    from apps.evaluate_game import GameEvaluateConfig, run_game_evaluation
    from workbench.config import parse_config

    config = parse_config(GameEvaluateConfig, argv, prog="workbench evaluate --env GAME",
                          description="Play agent teams with the game's scripted human partners on the same "
                          "matches; write a table of the win rate and each human goal and plots/human_goals.png.")
    run, text = run_game_evaluation(config)
    print(text)
    print(f"run directory: {run.path}")


def evaluate_trials(argv: Sequence[str]) -> None:
    from apps.trials import run_trial_evaluation
    from workbench.config import parse_config

    config = parse_config(config_class("evaluate --reflection"), argv, prog="workbench evaluate --reflection ...",
                          description="Play every reflection variant's trials on the same cases (the actor frozen, "
                          "reflections written after each failed trial); write the success rate by trial and "
                          "plots/sr_by_trial.png.")
    run, text = run_trial_evaluation(config)
    print(text)
    print(f"run directory: {run.path}")


def cmd_play(argv: Sequence[str]) -> None:
    from apps.play import run_play
    from workbench.config import parse_config

    run_play(parse_config(config_class("play"), argv, prog="workbench play", description=COMMANDS["play"]))


def cmd_evaluate_user(argv: Sequence[str]) -> None:
    from apps.evaluate_user import run_evaluate_user
    from workbench.config import parse_config

    config = parse_config(config_class("evaluate-user"), argv, prog="workbench evaluate-user",
                          description=COMMANDS["evaluate-user"])
    run, text = run_evaluate_user(config)
    print(text)
    print(f"run directory: {run.path}")


def cmd_critique(argv: Sequence[str]) -> None:
    from apps.critique import run_benchmark
    from workbench.config import parse_config

    config = parse_config(config_class("critique"), argv, prog="workbench critique", description=COMMANDS["critique"])
    run, text = run_benchmark(config)
    print(text)
    print(f"run directory: {run.path}")


def summarise_run(argv: Sequence[str]) -> None:
    from workbench.evaluate import fallback_legend, format_table, metrics_table, plot_outcomes
    from workbench.registry import env_class
    from workbench.runs import Run

    parser = argparse.ArgumentParser(prog="workbench evaluate", description=COMMANDS["evaluate"], allow_abbrev=False)
    parser.add_argument("run_dir", help="a run directory written by `workbench selfplay`")
    add_verbose(parser)
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
    from apps.app import run_app
    from workbench.config import parse_config

    run_app(parse_config(config_class("app"), argv, prog="workbench app", description=COMMANDS["app"]))


HANDLERS = {"quickstart": cmd_quickstart, "app": cmd_app, "envs": cmd_envs, "chat": cmd_chat, "selfplay": cmd_selfplay, "train": cmd_train,
            "feedback": cmd_feedback, "evaluate": cmd_evaluate, "evaluate-user": cmd_evaluate_user, "play": cmd_play, "hindsight": cmd_hindsight,
            "critique": cmd_critique}


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
    add_verbose(parser)
    if not argv or argv[0] in {"-h", "--help"}:
        parser.print_help()
        return None
    return parser.parse_args(argv[:1]).choice


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv  # taken before or after the command, by every command
    argv = [a for a in argv if a != "--verbose"]
    quiet_libraries(verbose)
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
