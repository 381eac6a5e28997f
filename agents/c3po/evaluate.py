"""RLVF's scores on held-out prompts (Stephan et al., ICML 2024, Sec. 5.1).

- S_in: mean adherence to the feedback on in-scope prompts;
- S_out: mean |change| in adherence against the base model's reply on near- and out-of-scope prompts
  (overgeneralisation; 0 means the model behaves there exactly as before);
- S_overall = (S_in + 1 - S_out) / 2.

Adherence comes from the feedback's checkable rules where it has any; otherwise a judge model compares
the base model's reply with the new one ("does B follow the feedback more than A?", yes/no, several
samples; unparsable samples are skipped and counted, and a prompt with none parsed scores 0.5): S_in is
P(the new reply follows it more), |change| the larger of P(more) and P(less); an unchanged reply scores 0.
The judge always answers with its base weights.
Every method answers greedily, so the base model compared with itself scores S_out = 0.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Sequence

from agents.c3po.checks import Check, adherence
from agents.c3po.generate import FeedbackData, baselines
from agents.c3po.writer import few_shot, respond_batch
from workbench.env import Criterion
from workbench.episodes import Turn
from workbench.progress import Meter

log = logging.getLogger(__name__)

_JUDGE_SYSTEM = ("You compare two replies to the same conversation. Answer \"yes\" if reply B follows the feedback "
                 "more than reply A does, otherwise \"no\".")
_JUDGE_SHOTS = (("Feedback: Do not use emojis.\nReply A: Sure! Try Inception 🎬\nReply B: Sure! Try Inception.",
                 "yes"),
                ("Feedback: Do not use emojis.\nReply A: Sure, here it is.\nReply B: Sure, here it is!", "no"))
_YES_NO = re.compile(r"\b(yes|no)\b", re.I)


@dataclass
class Scores:
    """One method's scores (module docstring)."""

    s_in: float
    s_out: float
    s_out_near: float
    s_out_out: float
    changed: float
    """Share of near- and out-of-scope replies whose text differs from the base model's."""

    @property
    def overall(self) -> float:
        return (self.s_in + 1 - self.s_out) / 2

    def row(self) -> dict[str, float]:
        return {"S_in": round(self.s_in, 3), "S_out": round(self.s_out, 3),
                "S_overall": round(self.overall, 3), "S_out near": round(self.s_out_near, 3),
                "S_out out": round(self.s_out_out, 3), "changed": round(self.changed, 3)}


class Judge:
    """Pairwise adherence from a chat model: P(yes) over ``samples`` answers; a local model judges with
    its adapters off."""

    def __init__(self, model: Any, feedback: str, samples: int = 3):
        self.model, self.feedback, self.samples = model, feedback, samples

    def prefer(self, before: Sequence[str], after: Sequence[str]) -> list[float]:
        """Per pair, P(reply ``after`` follows the feedback more than ``before``)."""
        if not before:
            return []
        asks = [f"Feedback: {self.feedback}\nReply A: {a}\nReply B: {b}" for a, b in zip(before, after)]
        jobs = [few_shot(_JUDGE_SYSTEM, _JUDGE_SHOTS, ask) for ask in asks for _ in range(self.samples)]
        answers = respond_batch(self.model, jobs, "Writer", temperature=0.7, max_tokens=4, adapter=None)
        scores, unparsed = [], 0
        for i in range(len(asks)):
            votes = [m.group(1).lower() == "yes" for a in answers[i * self.samples:(i + 1) * self.samples]
                     if (m := _YES_NO.search(a))]
            unparsed += self.samples - len(votes)
            scores.append(sum(votes) / len(votes) if votes else 0.5)
        if unparsed:
            log.warning("judge: %d of %d answers were neither yes nor no and were skipped", unparsed, len(answers))
        return scores


class CritiqueJudge:
    """A critique model (``--judge critic:<folder>``, MultiCritique's trained critic) as the judge: each reply, as a
    one-turn dialogue, is critiqued with the feedback as the one criterion (:mod:`workbench.critique`); reply B
    follows the feedback more than A when its critique's score is higher (1.0), lower gives 0.0, equal 0.5. A critique
    without a parsable score counts as a tie and is counted (logged)."""

    samples = 1

    def __init__(self, model: Any, feedback: str):
        self.model, self.feedback = model, feedback
        self.rubric = SimpleNamespace(name="feedback", agent_role="Assistant", user_role="User",
                                      description=f"Reply to the user, following this feedback: {feedback}",
                                      criteria=(Criterion("ignores-feedback", f"the reply ignores: {feedback}"),))

    def prefer(self, before: Sequence[str], after: Sequence[str]) -> list[float]:
        from workbench.critique.critic import critique_many

        replies = [*before, *after]
        critiques = critique_many(self.model, self.rubric, [[Turn("Assistant", r)] for r in replies])
        scores = [c.score for c in critiques]
        unparsed = sum(s is None for s in scores)
        if unparsed:
            log.warning("judge: %d of %d critiques gave no score and count as ties", unparsed, len(scores))
        a, b = scores[:len(before)], scores[len(before):]
        return [0.5 if x is None or y is None or x == y else float(y > x) for x, y in zip(a, b)]


def score(base: Sequence[str], replies: Sequence[str], checks: list[Check], judge: Judge | CritiqueJudge | None,
          change: bool) -> list[float]:
    """Per prompt: adherence of the reply (``change`` False) or |change| of adherence against ``base``,
    the base model's reply to the same prompt."""
    if checks:
        new = [adherence(checks, r) for r in replies]
        return [abs(n - adherence(checks, b)) for n, b in zip(new, base)] if change else new
    if judge is None:
        raise ValueError("a feedback without checkable rules needs a judge")
    # identical replies neither follow the feedback more nor differ in adherence: only the others are judged
    differs = [i for i, (b, r) in enumerate(zip(base, replies)) if b != r]
    before, after = [base[i] for i in differs], [replies[i] for i in differs]
    judged = judge.prefer(before, after)
    if change:  # |change| either way: the larger of "follows more" and "follows less"
        judged = [max(more, less) for more, less in zip(judged, judge.prefer(after, before))]
    return [dict(zip(differs, judged)).get(i, 0.0) for i in range(len(base))]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate(model: Any, data: FeedbackData, methods: dict[str, dict[str, Any]], *, judge: Judge | CritiqueJudge | None,
             max_tokens: int) -> dict[str, dict[str, float]]:
    """The score table (``workbench.evaluate.format_rows`` prints it): one row per method; ``methods`` maps
    a name to its call (``{"adapter": NAME}``, ``{"adapter": None}`` for the base model, ``{"note": TEXT}``
    for in-context feedback). The base model's replies are generated here the same way (same batches), so
    the base model scores S_out = 0 exactly."""
    held = {scope: [e.prompt for e in data.splits[f"eval_{scope}"]] for scope in ("in", "near", "out")}

    def answer(call: dict[str, Any]) -> dict[str, list[str]]:
        call = dict(call)
        note = call.pop("note", None)
        return {scope: baselines(model, prompts, max_tokens, note, **call) if prompts else []
                for scope, prompts in held.items()}

    def judge_calls(replies: dict[str, list[str]]) -> int:
        """The judge's samples for these replies (only those that differ from the base model's are judged,
        near- and out-of-scope ones both ways)."""
        if data.checks or judge is None:
            return 0
        differs = {scope: sum(b != r for b, r in zip(base[scope], replies[scope])) for scope in held}
        return judge.samples * (differs["in"] + 2 * (differs["near"] + differs["out"]))

    per_method = sum(map(len, held.values()))
    others = [method for method, call in methods.items() if call != {"adapter": None}]
    # at most: every reply differs from the base model's and is judged
    judged = 0 if data.checks or judge is None else judge.samples * (
        len(held["in"]) + 2 * (len(held["near"]) + len(held["out"])))
    with Meter(per_method + len(others) * (per_method + judged), desc="evaluating", unit="call") as meter:
        meter.describe("base model")
        with meter.calls(per_method):
            base = answer({"adapter": None})
        rows = {}
        for method, call in methods.items():
            meter.describe(method)
            if call == {"adapter": None}:
                replies = base
            else:
                with meter.calls(per_method):
                    replies = answer(call)
                others.remove(method)
            calls = judge_calls(replies)
            meter.plan(meter.done + calls + len(others) * (per_method + judged))
            with meter.calls(calls):
                s_in = _mean(score(base["in"], replies["in"], data.checks, judge, change=False))
                near = score(base["near"], replies["near"], data.checks, judge, change=True)
                out = score(base["out"], replies["out"], data.checks, judge, change=True)
            changed = _mean([float(b != r) for s in ("near", "out") for b, r in zip(base[s], replies[s])])
            rows[method] = Scores(s_in, _mean(near + out), _mean(near), _mean(out), changed).row()
        meter.describe("done")
    return rows
