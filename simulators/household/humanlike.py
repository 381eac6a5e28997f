"""How human-like is a user agent? The evaluation of Philipov et al. (2024, arXiv 2410.23535), Section 5.

At every turn of a real TEACh game (Padmakumar et al., AAAI 2022) the agent sees the goal and the history
and decides whether the Commander speaks; it is scored against what the human Commander did:

- **when to speak**: speak is the positive class; precision, recall, F1 and the confusion matrix
  ``[[TP, FN], [FP, TN]]`` over all steps (:func:`speak_f1`);
- **what to say**: on the steps where the human spoke, multi-label per-act F1 of the predicted dialogue
  acts against the human's, averaged weighted by each act's frequency and as a plain (macro) mean
  (:func:`act_f1`). It is reported twice: ``acts`` uses the acts of the agent's own decision (none when it
  observed), ``acts_given_speech`` the acts the agent would use if it spoke there (agents with
  ``decide_acts``, :class:`~.games.ActPredictor`), which is the paper's dialogue-act prediction task.

Baselines: :class:`AlwaysObserve`; :class:`RuleAfterDriverSpeaks`, the paper's rule (speak right after the
Driver speaks, with an Instruction); :class:`MajorityAct` (the rule for when to speak and, on the steps where
the human spoke, the most frequent act of the training games); the habits of :mod:`.habits`; and
:class:`LLMUserAgent`, the prompted LLM of :mod:`.prompts`. User agents are built from spec strings by
:func:`make_user_agent`; :data:`USER_AGENTS` maps each spec prefix to its :class:`UserAgentKind`, and other
packages add kinds (a trained classifier, a LoRA) with :func:`register_user_agent`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench.errors import WorkbenchError

from .acts import ALL_ACTS
from .games import Context, Decision, Game, UserAgent, contexts
from .habits import HabitsUserAgent
from .parse import DEFAULT_ACT, parse_response
from .prompts import commander_prompt, few_shot_examples

PAPER_REFERENCE = {
    "speak_f1_zero_shot": 0.42,
    "speak_f1_few_shot": 0.434,
    "act_f1_prompted": 0.511,
    "act_f1_fine_tuned": 0.625,
}
"""Numbers reported by Philipov et al. (2024) for the prompted and fine-tuned LLM Commander."""


# ----------------------------------------------------------------------------------------------- baselines

def _driver_just_spoke(context: Context) -> bool:
    return bool(context.history) and context.history[-1].role == "DRIVER" and context.history[-1].action == "dialogue"


class AlwaysObserve:
    """Never speaks (the majority class of when-to-speak)."""

    def __init__(self) -> None:
        self.fallbacks: dict[str, int] = {}

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        return [Decision(False) for _ in contexts]


class RuleAfterDriverSpeaks:
    """The paper's rule: speak (an Instruction restating the goal) exactly when the Driver has just spoken."""

    def __init__(self) -> None:
        self.fallbacks: dict[str, int] = {}

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        return [
            Decision(True, (DEFAULT_ACT,), context.goal) if _driver_just_spoke(context) else Decision(False)
            for context in contexts
        ]


class MajorityAct(RuleAfterDriverSpeaks):
    """The rule for when to speak; as acts, always the most frequent act set of the training games' Commander."""

    def __init__(self, train_games: Sequence[Game]) -> None:
        super().__init__()
        counts = Counter(d.das for game in train_games for _, d in contexts(game) if d.speak)
        self.acts: tuple[str, ...] = counts.most_common(1)[0][0] if counts else (DEFAULT_ACT,)

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        return [Decision(True, self.acts, d.utterance) if d.speak else d for d in super().decide(contexts)]

    def decide_acts(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        return [self.acts for _ in contexts]


class LLMUserAgent:
    """The prompted LLM Commander (zero-shot, or ``few_shot`` examples from the training games).

    Prompts come from :func:`.prompts.commander_prompt`, answers go through :func:`.parse.parse_response`
    in batches of ``batch_size`` (one ``chat_model.batch`` call each); every fallback reason is counted in
    ``fallbacks``. ``decide_acts`` asks the same model for the acts of an utterance it makes now (the prompt
    ends with ``<<``); an answer without a known act counts as ``"no-act"`` and predicts Instruction.
    """

    STOP = ["\nDRIVER", "\nCOMMANDER", "\nGoal:", "\n\n"]

    def __init__(self, chat_model: Any, few_shot: int = 0, train_games: Sequence[Game] = (), seed: int = 0,
                 batch_size: int = 32) -> None:
        self.model = chat_model
        self.examples = few_shot_examples(train_games, few_shot, seed)
        if len(self.examples) < few_shot:
            raise WorkbenchError(f"few_shot={few_shot} needs training games with that many steps, "
                                 f"found {len(self.examples)}")
        self.batch_size = batch_size
        self.fallbacks: dict[str, int] = {}
        self.reasons: list[str | None] = []
        """The fallback reason of each decision of the latest ``decide`` call (None: parsed cleanly)."""

    def prompt(self, context: Context, speaking: bool = False) -> str:
        return commander_prompt(context.goal, context.history, self.examples, speaking=speaking)

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        decisions, self.reasons = [], []
        for text in self._answers([self.prompt(c) for c in contexts]):
            decision, reason = parse_response(text)
            self._count(reason)
            decisions.append(decision)
            self.reasons.append(reason)
        return decisions

    def decide_acts(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        acts = []
        for text in self._answers([self.prompt(c, speaking=True) for c in contexts]):
            decision, reason = parse_response("<<" + text)
            if not decision.speak or reason == "unknown-act":
                self._count("no-act")
                acts.append((DEFAULT_ACT,))
            else:
                acts.append(decision.das)
        return acts

    def _answers(self, prompts: list[str]) -> list[str]:
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            replies = self.model.batch(prompts[start:start + self.batch_size], stop=self.STOP)
            texts.extend(str(reply.content) for reply in replies)
        return texts

    def _count(self, reason: str | None) -> None:
        if reason is not None:
            self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1


# ----------------------------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class AgentOptions:
    """Options every user-agent factory receives (a factory ignores those it has no use for)."""

    few_shot: int = 0
    seed: int = 0


@dataclass(frozen=True)
class UserAgentKind:
    """How to build one kind of user agent from ``<prefix>[:<argument>]``.

    ``build(argument, train_games, options)`` makes the agent; ``check(argument)``, if given, refuses a bad
    argument with a one-line :class:`WorkbenchError` before anything is loaded.
    """

    build: Callable[[str, Sequence[Game], AgentOptions], UserAgent]
    help: str
    check: Callable[[str], None] | None = None


def _no_argument(prefix: str) -> Callable[[str], None]:
    def check(argument: str) -> None:
        if argument:
            raise WorkbenchError(f"user agent '{prefix}' takes no argument, got '{prefix}:{argument}'")
    return check


def _check_llm(argument: str) -> None:
    from workbench.llm.resolve import check_spec

    check_spec(argument or DEFAULT_LLM)


def _build_llm(argument: str, train_games: Sequence[Game], options: AgentOptions) -> UserAgent:
    from workbench.llm.resolve import chat_model, frozen_role_spec

    model = chat_model(frozen_role_spec(argument or DEFAULT_LLM)).bind(temperature=0.0, max_tokens=48)
    return LLMUserAgent(model, options.few_shot, train_games, options.seed)


DEFAULT_LLM = "embedded:gemma-3-270m"

USER_AGENTS: dict[str, UserAgentKind] = {
    "always-observe": UserAgentKind(lambda a, g, o: AlwaysObserve(), "never speaks", _no_argument("always-observe")),
    "rule": UserAgentKind(lambda a, g, o: RuleAfterDriverSpeaks(), "speaks (Instruction) right after the Driver speaks",
                          _no_argument("rule")),
    "majority": UserAgentKind(lambda a, g, o: MajorityAct(g), "the rule, with the training games' majority act",
                              _no_argument("majority")),
    "scripted": UserAgentKind(lambda a, g, o: HabitsUserAgent(), "TEACh Commander habits (simulators.household.habits)",
                              _no_argument("scripted")),
    "llm": UserAgentKind(_build_llm, f"prompted LLM, llm[:<model spec>] (default {DEFAULT_LLM})", _check_llm),
}
"""Spec prefix -> user-agent kind. Extension point: :func:`register_user_agent`."""


def register_user_agent(prefix: str, kind: UserAgentKind) -> None:
    """Add (or replace) the kind of user agent that specs ``<prefix>[:<argument>]`` build."""
    USER_AGENTS[prefix] = kind


def _split_spec(spec: str) -> tuple[str, UserAgentKind, str]:
    prefix, _, argument = spec.strip().partition(":")
    kind = USER_AGENTS.get(prefix)
    if kind is None:
        raise WorkbenchError(f"unknown user agent '{spec}' (known: {', '.join(USER_AGENTS)})")
    return prefix, kind, argument


def check_user_agent_spec(spec: str) -> None:
    """Refuse an unknown or malformed spec with one line, loading nothing."""
    _, kind, argument = _split_spec(spec)
    if kind.check is not None:
        kind.check(argument)


def make_user_agent(spec: str, train_games: Sequence[Game], options: AgentOptions = AgentOptions()) -> UserAgent:
    """Build the user agent a spec names, e.g. ``rule``, ``scripted``, ``llm:embedded:gemma-3-270m``."""
    _, kind, argument = _split_spec(spec)
    if kind.check is not None:
        kind.check(argument)
    return kind.build(argument, train_games, options)


# ----------------------------------------------------------------------------------------------- metrics

def speak_f1(pred: Sequence[Decision], gold: Sequence[Decision]) -> dict[str, Any]:
    """When-to-speak scores, speak being the positive class; ``confusion`` is ``[[TP, FN], [FP, TN]]``."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} steps")
    tp = sum(p.speak and g.speak for p, g in zip(pred, gold))
    fp = sum(p.speak and not g.speak for p, g in zip(pred, gold))
    fn = sum(not p.speak and g.speak for p, g in zip(pred, gold))
    tn = len(gold) - tp - fp - fn
    precision, recall, f1 = _prf(tp, fp, fn)
    return {"precision": precision, "recall": recall, "f1": f1, "confusion": [[tp, fn], [fp, tn]],
            "tp": tp, "fn": fn, "fp": fp, "tn": tn}


def act_f1(pred: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Multi-label dialogue-act F1 over steps (each a set of acts): per act, weighted by the act's gold
    frequency (support), and macro (plain mean over the acts that occur in gold or predictions)."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} steps")
    per_act = {}
    acts = [a for a in ALL_ACTS if any(a in g for g in gold) or any(a in p for p in pred)]
    for act in acts:
        tp = sum(act in p and act in g for p, g in zip(pred, gold))
        fp = sum(act in p and act not in g for p, g in zip(pred, gold))
        fn = sum(act not in p and act in g for p, g in zip(pred, gold))
        precision, recall, f1 = _prf(tp, fp, fn)
        per_act[act] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    support = sum(s["support"] for s in per_act.values())
    weighted = sum(s["f1"] * s["support"] for s in per_act.values()) / support if support else 0.0
    macro = sum(s["f1"] for s in per_act.values()) / len(per_act) if per_act else 0.0
    return {"weighted_f1": weighted, "macro_f1": macro, "steps": len(gold), "per_act": per_act}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# ----------------------------------------------------------------------------------------------- evaluation

def evaluate(agent: UserAgent, games: Sequence[Game], limit_steps: int | None = None, *, name: str = "user agent",
             progress: bool = False, chunk: int = 64) -> dict[str, Any]:
    """Score ``agent`` on every step of ``games`` (the first ``limit_steps`` steps if given), asking it ``chunk``
    steps at a time under a progress bar (``progress``)."""
    from workbench.progress import Meter

    steps = [pair for game in games for pair in contexts(game)][:limit_steps]
    if not steps:
        raise WorkbenchError("no game steps to evaluate the user agent on")
    before = dict(agent.fallbacks)
    step_contexts = [context for context, _ in steps]
    gold = [decision for _, decision in steps]
    pred: list[Decision] = []
    with Meter(len(step_contexts), desc=name, unit="step", show=progress) as meter:
        for start in range(0, len(step_contexts), chunk):
            part = step_contexts[start:start + chunk]
            with meter.calls(len(part)):
                pred.extend(agent.decide(part))
    spoken = [i for i, g in enumerate(gold) if g.speak]
    gold_acts = [gold[i].das for i in spoken]
    result: dict[str, Any] = {
        "games": len({c.game_id for c in step_contexts}),
        "steps": len(steps),
        "human_speaks": len(spoken),
        "agent_speaks": sum(d.speak for d in pred),
        "speak": speak_f1(pred, gold),
        "acts": act_f1([pred[i].das if pred[i].speak else () for i in spoken], gold_acts),
        "acts_given_speech": None,
    }
    decide_acts = getattr(agent, "decide_acts", None)
    if decide_acts is not None:
        result["acts_given_speech"] = act_f1(decide_acts([step_contexts[i] for i in spoken]), gold_acts)
    result["fallbacks"] = {k: v - before.get(k, 0) for k, v in agent.fallbacks.items() if v != before.get(k, 0)}
    return result


def table(rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """Markdown table of (agent name, :func:`evaluate` result) rows; numbers in percent."""
    lines = [
        "| user agent | speak P | speak R | speak F1 | acts F1 (w) | acts F1 (macro) "
        "| acts given speech F1 (w) | acts given speech F1 (macro) | fallbacks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows:
        given = r["acts_given_speech"]
        cells = [
            name, _pct(r["speak"]["precision"]), _pct(r["speak"]["recall"]), _pct(r["speak"]["f1"]),
            _pct(r["acts"]["weighted_f1"]), _pct(r["acts"]["macro_f1"]),
            _pct(given["weighted_f1"]) if given else "-", _pct(given["macro_f1"]) if given else "-",
            ", ".join(f"{k}: {v}" for k, v in sorted(r["fallbacks"].items())) or "none",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def confusion_png(rows: Sequence[tuple[str, dict[str, Any]]], path: str | Path) -> Path:
    """One when-to-speak confusion matrix panel per agent, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.2), squeeze=False)
    for ax, (name, result) in zip(axes[0], rows):
        matrix = result["speak"]["confusion"]
        ax.imshow(matrix, cmap="Blues")
        top = max(max(row) for row in matrix)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center",
                        color="white" if matrix[i][j] > top / 2 else "black")
        ax.set_xticks([0, 1], ["speak", "observe"])
        ax.set_yticks([0, 1], ["speak", "observe"])
        ax.set_xlabel("agent")
        ax.set_ylabel("human")
        ax.set_title(f"{name}\nF1 {_pct(result['speak']['f1'])}%", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
