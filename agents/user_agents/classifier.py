"""A classifier Commander: the PPDPP planner's encoder with a speak head and a dialogue-act head.

Philipov et al. (2024, arXiv 2410.23535) cast the user agent of TEACh (Padmakumar et al., AAAI 2022) as two
decisions per step: whether the Commander speaks, and with which dialogue acts. This agent reads the
history as the prompt lines of :mod:`simulators.household.prompts` (``Goal: ...`` and the last ``max_lines``
lines), encodes it with the PPDPP planner's encoder (:class:`agents.ppdpp.planner.StrategyPlanner`:
mean-pooled, truncated from the left so the end of the history is kept) and reads two heads off one
linear layer over the pooled state: column 0 is the speak logit (sigmoid, binary cross-entropy weighted by
the observe/speak ratio, since the Commander speaks at about one step in six), columns 1.. the act
logits over :data:`COMMANDER_ACTS` (multi-label sigmoid, binary cross-entropy on speaking steps only).

It speaks when p(speak) exceeds its ``threshold`` (the one that maximises speak F1 on the training
contexts, stored with the agent), with every act above 0.5, or the most likely act when none is.
The classifier has no words of its own: its utterance is one fixed line per act (:data:`UTTERANCES`,
the goal text for an ``Instruction``), so it is evaluated on its speak and act decisions only.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable, Sequence

import torch
from sklearn.metrics import f1_score, precision_recall_fscore_support
from tqdm.auto import tqdm

from agents.ppdpp.planner import StrategyPlanner
from agents.user_agents import CLASSIFIER_MARKER as META_FILE
from agents.user_agents import household_kit
from workbench.errors import WorkbenchError
from workbench.runs import atomic_dir, atomic_write

_KIT = household_kit()
COMMANDER_ACTS, Context, Decision, history_text = _KIT.COMMANDER_ACTS, _KIT.Context, _KIT.Decision, _KIT.history_text

SPEAK = "<speak>"
"""The planner "strategy" whose logit is the speak head."""
PLANNER_DIR = "planner"

UTTERANCES: dict[str, str] = {
    "Instruction": "{goal}",
    "InformationOnObjectDetails": "Look around the room for it; it is nearby.",
    "FeedbackPositive": "Good job.",
    "FeedbackNegative": "That is not right, try again.",
    "Greetings/Salutations": "Hello!",
    "InformationOther": "There is a little more to do.",
    "Affirm": "Yes.",
    "Deny": "No.",
    "Acknowledge": "Okay.",
    "Confirm": "Yes, that is right.",
    "MiscOther": "Hmm.",
    "OtherInterfaceComment": "One moment, let me check.",
    "RequestOtherInfo": "What do you see?",
    "AlternateQuestions": "Is it this one or another one?",
}
"""One generic line per Commander act (the classifier only chooses acts); ``{goal}`` is the game's goal."""


def act_targets(decisions: Sequence[Decision]) -> torch.Tensor:
    """Multi-hot Commander acts of each decision (acts outside :data:`COMMANDER_ACTS` are ignored)."""
    index = {act: i for i, act in enumerate(COMMANDER_ACTS)}
    targets = torch.zeros(len(decisions), len(COMMANDER_ACTS))
    for row, decision in enumerate(decisions):
        for act in decision.das:
            if act in index:
                targets[row, index[act]] = 1.0
    return targets


def best_threshold(probs: Sequence[float], gold: Sequence[bool]) -> tuple[float, float]:
    """The threshold t (speak when p > t) that maximises speak F1 on ``probs``, and that F1. Candidates are the
    midpoints between consecutive distinct probabilities (and half the lowest); ties go to the highest t."""
    positives = sum(gold)
    pairs = sorted(zip(probs, gold), key=lambda pair: -pair[0])
    best, tp, taken, i = (1.0, 0.0), 0, 0, 0
    while i < len(pairs):
        p = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == p:  # predict every step with this probability too
            tp += pairs[i][1]
            taken += 1
            i += 1
        f1 = 2 * tp / (taken + positives) if positives else 0.0
        if f1 > best[1]:
            best = ((p + pairs[i][0]) / 2 if i < len(pairs) else p / 2, f1)
    return best


class ClassifierUserAgent:
    """The classifier Commander (see the module docstring); a ``UserAgent`` of :mod:`simulators.household`."""

    def __init__(self, planner: StrategyPlanner, *, threshold: float = 0.5, max_lines: int = 12,
                 batch_size: int = 64):
        if planner.strategies != (SPEAK, *COMMANDER_ACTS):
            raise WorkbenchError(f"a user classifier needs the heads {[SPEAK, *COMMANDER_ACTS]}, "
                                 f"got {list(planner.strategies)}")
        self.planner, self.threshold, self.max_lines, self.batch_size = planner, threshold, max_lines, batch_size
        self.fallbacks: dict[str, int] = {}  # it always answers in the protocol's terms: nothing to replace

    @classmethod
    def from_encoder(cls, encoder: str = "embedded:minilm", *, max_length: int = 256,
                     max_lines: int = 12) -> "ClassifierUserAgent":
        """A fresh (untrained) agent on ``encoder`` (``embedded:minilm`` or an encoder folder)."""
        return cls(StrategyPlanner.from_encoder((SPEAK, *COMMANDER_ACTS), encoder, max_length), max_lines=max_lines)

    def text(self, context: Context) -> str:
        """What the encoder reads: the goal and the last ``max_lines`` prompt lines."""
        return history_text(context.goal, context.history, self.max_lines)

    def logits(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(speak logits ``[n]``, act logits ``[n, acts]``) of rendered histories."""
        out = self.planner(list(texts))
        return out[:, 0], out[:, 1:]

    def head_logits(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same from pooled encoder features (training on a frozen encoder)."""
        out = self.planner.head(self.planner.standardise(features))
        return out[:, 0], out[:, 1:]

    @torch.no_grad()
    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(p(speak) ``[n]``, p(act) ``[n, acts]``), in batches of ``batch_size``."""
        was_training = self.planner.training
        self.planner.eval()
        speak, acts = [], []
        for start in range(0, len(texts), self.batch_size):
            s, a = self.logits(texts[start:start + self.batch_size])
            speak.append(s.sigmoid())
            acts.append(a.sigmoid())
        self.planner.train(was_training)
        if not speak:
            return torch.zeros(0), torch.zeros(0, len(COMMANDER_ACTS))
        return torch.cat(speak), torch.cat(acts)

    @staticmethod
    def chosen_acts(p_acts: Sequence[float]) -> tuple[str, ...]:
        """The acts above 0.5, most likely first, or the most likely act when none is."""
        order = sorted(range(len(p_acts)), key=lambda i: -p_acts[i])
        return tuple(COMMANDER_ACTS[i] for i in order if p_acts[i] > 0.5) or (COMMANDER_ACTS[order[0]],)

    def decisions(self, contexts: Sequence[Context], speak: torch.Tensor, acts: torch.Tensor) -> list[Decision]:
        """Decisions from probabilities (see the module docstring)."""
        decisions = []
        for context, p_speak, p_acts in zip(contexts, speak.tolist(), acts.tolist()):
            if p_speak <= self.threshold:
                decisions.append(Decision(False))
                continue
            chosen = self.chosen_acts(p_acts)
            decisions.append(Decision(True, chosen, UTTERANCES[chosen[0]].format(goal=context.goal)))
        return decisions

    def decide(self, contexts: Sequence[Context]) -> list[Decision]:
        """One decision per context, one encoder pass per ``batch_size`` contexts."""
        speak, acts = self.probabilities([self.text(c) for c in contexts])
        return self.decisions(contexts, speak, acts)

    def decide_acts(self, contexts: Sequence[Context]) -> list[tuple[str, ...]]:
        """The acts the agent would speak with at each context (the paper's dialogue-act prediction task)."""
        return [self.chosen_acts(p) for p in self.probabilities([self.text(c) for c in contexts])[1].tolist()]

    def save(self, path: str | Path) -> Path:
        """Write the agent folder atomically: the planner (encoder, heads) and ``user_classifier.json``."""
        with atomic_dir(path) as tmp:
            self.planner.save(tmp / PLANNER_DIR)
            atomic_write(tmp / META_FILE, json.dumps({"kind": "classifier", "acts": list(COMMANDER_ACTS),
                                                      "threshold": self.threshold, "max_lines": self.max_lines},
                                                     indent=2))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "ClassifierUserAgent":
        path = Path(path)
        meta_file = path / META_FILE
        if not meta_file.is_file():
            raise WorkbenchError(f"{path}: no user classifier here (missing {META_FILE})")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as err:
            raise WorkbenchError(f"{meta_file}:{err.lineno}: not valid JSON ({err.msg})") from None
        if meta.get("acts") != list(COMMANDER_ACTS):
            raise WorkbenchError(f"{meta_file}:1: trained on acts {meta.get('acts')}, not the Commander's")
        return cls(StrategyPlanner.load(path / PLANNER_DIR), threshold=float(meta["threshold"]),
                   max_lines=int(meta["max_lines"]))


def scores(speak: torch.Tensor, acts: torch.Tensor, gold: Sequence[Decision], threshold: float) -> dict[str, float]:
    """Speak precision / recall / F1 at ``threshold``, and the micro F1 of the act head (acts above 0.5, else the
    argmax) on the steps where the human spoke."""
    gold_speak = [d.speak for d in gold]
    p, r, f1, _ = precision_recall_fscore_support(gold_speak, (speak > threshold).tolist(), average="binary",
                                                  zero_division=0)
    rows = [i for i, d in enumerate(gold) if d.speak]
    act_f1 = 0.0
    if rows:
        chosen = acts[rows] > 0.5
        chosen[torch.arange(len(rows)), acts[rows].argmax(-1)] = True
        act_f1 = float(f1_score(act_targets([gold[i] for i in rows]).bool().numpy(), chosen.numpy(),
                                average="micro", zero_division=0))
    return {"speak_precision": float(p), "speak_recall": float(r), "speak_f1": float(f1), "act_f1": act_f1}


def _loss(speak_logits: torch.Tensor, act_logits: torch.Tensor, speak: torch.Tensor,
          acts: torch.Tensor, pos_weight: torch.Tensor, act_weight: float) -> torch.Tensor:
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    loss = bce(speak_logits, speak, pos_weight=pos_weight)
    spoke = speak.bool()
    if act_weight and spoke.any():
        loss = loss + act_weight * bce(act_logits[spoke], acts[spoke])
    return loss


def train_classifier(agent: ClassifierUserAgent, train: Sequence[tuple[Context, Decision]],
                     valid: Sequence[tuple[Context, Decision]], *, epochs: int = 30, lr: float = 1e-3,
                     batch_size: int = 64, act_weight: float = 1.0, finetune_encoder: bool = False,
                     encoder_lr: float = 2e-5, seed: int = 0, log: Callable[[dict], None] = lambda record: None,
                     progress: bool = True) -> dict[str, float]:
    """Train ``agent``'s heads (and with ``finetune_encoder`` its encoder) on the (context, human decision)
    pairs of ``train``; keep the epoch with the lowest validation loss (the last epoch without ``valid``),
    then set the threshold that maximises speak F1 on ``train``. Returns the kept epoch's scores (validation
    scores at the final threshold, prefixed ``val_``, and the threshold's training F1)."""
    if not any(d.speak for _, d in train) or all(d.speak for _, d in train):
        raise WorkbenchError("the training contexts need both speaking and observing steps")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    planner = agent.planner
    texts = {name: [agent.text(c) for c, _ in pairs] for name, pairs in (("train", train), ("valid", valid))}
    speak = {name: torch.tensor([float(d.speak) for _, d in pairs]) for name, pairs in
             (("train", train), ("valid", valid))}
    acts = {name: act_targets([d for _, d in pairs]) for name, pairs in (("train", train), ("valid", valid))}
    positives = speak["train"].sum()
    pos_weight = (len(train) - positives) / positives  # observe / speak: both classes weigh the same in total
    features: dict[str, torch.Tensor] = {}
    if finetune_encoder:
        planner.train()
        optimizer = torch.optim.AdamW([{"params": planner.encoder.parameters(), "lr": encoder_lr},
                                       {"params": planner.head.parameters(), "lr": lr}])
    else:
        planner.freeze_encoder()
        planner.eval()  # no dropout in the frozen features
        for name in ("train", "valid"):  # memoised by the planner: deciding on these contexts later reuses them
            features[name] = _encode(agent, texts[name], progress, f"encoding {name} contexts")
        optimizer = torch.optim.AdamW(planner.head.parameters(), lr=lr)

    def forward(name: str, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if features:
            return agent.head_logits(features[name][rows])
        return agent.logits([texts[name][i] for i in rows])

    @torch.no_grad()
    def logits(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """All of a split's logits, in eval mode."""
        if features:
            return agent.head_logits(features[name])
        was_training = planner.training
        planner.eval()
        parts = [agent.logits(texts[name][i:i + agent.batch_size]) for i in range(0, len(texts[name]),
                                                                               agent.batch_size)]
        planner.train(was_training)
        return torch.cat([s for s, _ in parts]), torch.cat([a for _, a in parts])

    best: dict[str, float] = {}
    best_state: dict[str, torch.Tensor] | None = None
    steps = epochs * -(-len(train) // batch_size)
    with tqdm(total=steps, desc="user classifier", unit="step", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            order = list(range(len(train)))
            rng.shuffle(order)
            total = 0.0
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                s, a = forward("train", rows)
                loss = _loss(s, a, speak["train"][rows], acts["train"][rows], pos_weight, act_weight)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
                bar.update()
            record = {"event": "classifier", "epoch": epoch, "train_loss": total / len(train)}
            if valid:
                s, a = logits("valid")
                record["val_loss"] = _loss(s, a, speak["valid"], acts["valid"], pos_weight, act_weight).item()
                record.update({f"val_{k}": v for k, v in
                               scores(s.sigmoid(), a.sigmoid(), [d for _, d in valid], agent.threshold).items()})
            improved = not valid or not best or record["val_loss"] < best["val_loss"]
            if improved:
                best = record
                best_state = {k: v.detach().clone() for k, v in planner.state_dict().items()}
            log({**record, "best": improved})
    planner.load_state_dict(best_state)
    planner.eval()
    train_speak, train_acts = (x.sigmoid() for x in logits("train"))
    agent.threshold, train_f1 = best_threshold(train_speak.tolist(), [bool(x) for x in speak["train"].tolist()])
    result = {"epoch": best["epoch"], "threshold": agent.threshold, "train_speak_f1": train_f1,
              **{f"train_{k}": v for k, v in scores(train_speak, train_acts, [d for _, d in train],
                                                     agent.threshold).items() if k != "speak_f1"}}
    if valid:
        p_speak, p_acts = (x.sigmoid() for x in logits("valid"))
        result.update({f"val_{k}": v for k, v in
                       scores(p_speak, p_acts, [d for _, d in valid], agent.threshold).items()})
    return result


def _encode(agent: ClassifierUserAgent, texts: list[str], progress: bool, desc: str) -> torch.Tensor:
    """Pooled features of the frozen encoder, in batches of ``agent.batch_size`` texts of similar length (less
    padding), returned in the order of ``texts``."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows = []
    with torch.no_grad():
        for start in tqdm(range(0, len(texts), agent.batch_size), desc=desc, unit="batch", disable=not progress):
            rows.append(agent.planner.encode([texts[i] for i in order[start:start + agent.batch_size]]))
    if not rows:
        return torch.zeros(0, agent.planner.head.in_features)
    features = torch.empty(len(texts), agent.planner.head.in_features)
    features[order] = torch.cat(rows)
    return features
