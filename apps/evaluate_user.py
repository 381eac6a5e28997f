"""``workbench evaluate-user``: how human-like are user agents? (Philipov et al. 2024, arXiv 2410.23535)

Every user agent (a Commander simulator) decides, at each step of real TEACh games (Padmakumar et al.,
AAAI 2022), whether to speak and with which dialogue acts; it is scored against the human Commander
(:mod:`simulators.household.humanlike`). The run folder holds ``config.yaml``, ``metrics.json``,
``summary.md`` (the table and the paper's reference numbers) and ``plots/confusion.png``.

User agents are named by specs; :data:`EXTENSIONS` lists ``module:function`` hooks (each called once with
no argument) that register more kinds with ``simulators.household.humanlike.register_user_agent``, e.g. the
trained classifier and LoRA user agents of ``agents/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.runs import Run

EXTENSIONS: tuple[str, ...] = ("agents.user_agents:register_user_agents",)
"""``module:function`` hooks that register more user-agent kinds (``register_user_agent``) before specs are read."""
DEFAULT_AGENTS = ["always-observe", "rule", "majority", "scripted"]


@dataclass
class EvaluateUserConfig:
    env: str = field(default="household", metadata={
        "help": "environment whose user agents are evaluated", "choices": ("household",)})
    simulators: list[str] = field(default_factory=lambda: list(DEFAULT_AGENTS), metadata={
        "help": "user agents, comma- or space-separated: always-observe, rule, majority, scripted, "
                "llm[:<model spec>] (default model embedded:gemma-3-270m), and registered kinds"})
    data: str | None = field(default=None, metadata={
        "help": "TEACh turn-level games file; default: the shared valid_seen_turn.dev.json", "path": "in"})
    split: str = field(default="valid", metadata={
        "help": "games to evaluate on: valid (held out from the few-shot and majority-act games), train or all",
        "choices": ("valid", "train", "all")})
    valid_fraction: float = field(default=0.3, metadata={
        "help": "share of games held out as valid", "min": 0, "max": 1})
    few_shot: int = field(default=0, metadata={"help": "examples from the training games in each LLM prompt",
                                               "min": 0})
    max_games: int = field(default=0, metadata={"help": "evaluate on the first N games of the split; 0: all",
                                                "min": 0})
    seed: int = field(default=0, metadata={"help": "seed of the game split and of the few-shot examples"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})
    out: str | None = out_field("evaluate-user")


def agent_specs(items: list[str]) -> list[str]:
    """The specs of ``--simulators`` (each item may hold several, comma-separated), without repeats."""
    specs = [spec.strip() for item in items for spec in item.split(",") if spec.strip()]
    if not specs:
        raise WorkbenchError("give at least one user agent (--simulators rule,scripted,...)")
    return list(dict.fromkeys(specs))


def run_evaluate_user(config: EvaluateUserConfig) -> tuple[Run, str]:
    """Evaluate every user agent on the chosen games; write the run folder; return it and the Markdown table."""
    from simulators.household.games import load_games, split_games
    from simulators.household.humanlike import (PAPER_REFERENCE, AgentOptions, check_user_agent_spec,
                                                confusion_png, evaluate, make_user_agent, table)
    from workbench.methods import load_object
    from workbench.runs import Run, atomic_write

    for hook in EXTENSIONS:
        load_object(hook)()
    specs = agent_specs(config.simulators)
    for spec in specs:
        check_user_agent_spec(spec)
    games = load_games(config.data)
    train, valid = split_games(games, config.valid_fraction, config.seed)
    chosen = {"valid": valid, "train": train, "all": games}[config.split]
    chosen = chosen[: config.max_games] if config.max_games else chosen
    if not chosen:
        raise WorkbenchError(f"no {config.split} games (valid_fraction {config.valid_fraction}, {len(games)} games)")
    options = AgentOptions(few_shot=config.few_shot, seed=config.seed)
    agents = {spec: make_user_agent(spec, train, options) for spec in specs}  # loads models before the run folder
    config.out = resolve_out(config.out, False, "evaluate-user")
    settings = asdict(config)
    with Run.open(config.out, settings) as run:
        rows = [(spec, evaluate(agent, chosen, name=spec, progress=config.progress)) for spec, agent in agents.items()]
        text = table(rows)
        atomic_write(run.path / "metrics.json", json.dumps(
            {"config": settings, "games": len(chosen), "train_games": len(train), "paper": PAPER_REFERENCE,
             "agents": dict(rows)}, indent=2))
        plot = confusion_png(rows, run.plot_path("confusion.png"))
        run.write_summary(_summary(config, rows, text, len(chosen), len(train), PAPER_REFERENCE)
                          + f"\nConfusion matrices: {plot.relative_to(run.path)}\n")
    return run, text


def _summary(config: EvaluateUserConfig, rows: list[tuple[str, dict[str, Any]]], text: str, games: int,
             train_games: int, paper: dict[str, float]) -> str:
    steps = rows[0][1]["steps"]
    speaks = rows[0][1]["human_speaks"]
    leak = (" (includes the training games the few-shot examples and the majority act come from)"
            if config.split != "valid" else "")
    return (
        f"# Human-likeness of user agents: {config.env}\n\n"
        f"{games} {config.split} games{leak}, {steps} steps, the human Commander speaks at {speaks}; "
        f"{train_games} training games; few-shot {config.few_shot}.\n\n"
        f"{text}\n\n"
        "Numbers in percent. *speak*: when to speak, speak = positive class, over all steps. *acts*: multi-label "
        "dialogue-act F1 on the steps where the human spoke, from the agent's own decision (no acts when it "
        "observed); *acts given speech*: the acts the agent would use if it spoke there (the paper's dialogue-act "
        "prediction). (w) weighted by act frequency; (macro) plain mean over acts.\n\n"
        "Reference (Philipov et al. 2024, TEACh): when-to-speak F1 "
        f"{100 * paper['speak_f1_zero_shot']:.1f}% zero-shot and {100 * paper['speak_f1_few_shot']:.1f}% few-shot "
        f"prompted LLM; dialogue-act F1 {100 * paper['act_f1_prompted']:.1f}% prompted, "
        f"{100 * paper['act_f1_fine_tuned']:.1f}% after fine-tuning.\n"
    )
