"""The scripted persuadee: a hidden willingness to donate, driven by the persona's profile.

Traits are the case's ``profile`` (PersuasionForGood's pre-task survey), each scaled to [-1, 1] around
its scale's midpoint (``z``; a missing answer is 0). Drawn in :meth:`ScriptedPersuadee.start`:

* willingness ``w = sigmoid(W0 + z(care) + 0.8 z(authority) + 0.6 z(rational) - 0.6 z(power) + 0.3 z(agreeable)
  + N(0, 0.4))`` in [0, 1], from the traits that go with larger donations in the data (their sum correlates
  0.18 with the real donation); ``W0`` puts the median near 0.29, so about one persona in seven would give
  at once and about half need persuading before they give anything;
* susceptibility to each strategy, ``s_k = clip(0.5 + sum_t c_kt z(t), 0.05, 1)`` with the trait weights
  of ``SUSCEPTIBILITY`` (logical appeal: rational, open, conscientious; emotion appeal: care, intuitive,
  agreeable; credibility: authority, security, conscientious; ...), so which arguments work differs
  from persona to persona;
* patience ``P = 1.6 + 0.6 z(agreeable) - 0.4 z(neurotic)``; whether the persona already knows the charity
  (``z(universalism) > 0.3``).

State: ``w``; engagement ``e`` in [0, 1] (starts 0.2); fatigue ``f`` (starts 0); how often each act was used.

*Reading the agent's turn.* The act is ``Turn.strategy`` when it names one of the 15 acts, otherwise it is
classified from the text by keywords (:func:`classify`).

*Effects.* A persuasion strategy moves ``w += 0.12 s_k (0.5 + e) 0.5^n`` (``n`` earlier uses of it) and adds
0.15 fatigue (0.4 when repeated). Credibility appeals count 1.5 times for a persona who does not know the
charity and has said so (after a source-related inquiry); donation information only helps once ``w >= 0.3``
(before that it reads as pressure: +0.3 fatigue); foot-in-the-door helps a persona in two minds
(0.3 <= w < 0.6) and is otherwise a weak appeal. Inquiries and a first greeting raise engagement by
``0.25 / (1 + n)`` and lower fatigue by 0.1. Thanks and other acts do nothing.

*Decision.* An ask (proposition of donation, ask of the amount) is answered with a commitment when
``w >= ACCEPT``: ``donation(w)`` dollars, ending the dialogue. Below it, the persona declines for now (+0.4
fatigue); a second refusal with ``w < GIVE_UP`` is final (no donation). Fatigue reaching the patience ends
the dialogue with ``donation(w - 0.15)``. At the last turn, an undecided persona who was never asked gives
``donation(w - 0.1)``, one who was gives ``donation(w)``.
``donation(w) = 0`` below ``GIVE_UP``, else ``$2 * min(1, (w - GIVE_UP) / 0.5)`` rounded to $0.10.

Every reply says how the turn landed (a warm, neutral or cool line by the change in ``w``), so a planner that
reads the dialogue can tell which arguments work on this persona. Deterministic given ``state.rng``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from workbench.env import DialogueState
from workbench.episodes import Turn

from .cases import PAYMENT
from .strategies import ACTS, ASKS, STRATEGY_NAMES
from .templates import persuadee_line

W0 = -1.9
ACCEPT, GIVE_UP = 0.5, 0.3
STEP, FATIGUE, FATIGUE_REPEAT, FATIGUE_REFUSE = 0.12, 0.15, 0.4, 0.4
SCALES = {"extrovert": (1, 5), "agreeable": (1, 5), "conscientious": (1, 5), "neurotic": (1, 5), "open": (1, 5),
          "care": (1, 6), "fairness": (1, 6), "loyalty": (1, 6), "authority": (1, 6), "purity": (1, 6),
          "freedom": (1, 6), "conform": (1, 6), "tradition": (1, 6), "benevolence": (1, 6), "universalism": (1, 6),
          "self_direction": (1, 6), "stimulation": (1, 6), "hedonism": (1, 6), "achievement": (1, 6),
          "power": (1, 6), "security": (1, 6), "rational": (1, 5), "intuitive": (1, 5)}
"""Each survey trait's answer scale (Big Five, moral foundations, Schwartz values, decision style)."""
SUSCEPTIBILITY: dict[str, dict[str, float]] = {
    "logical-appeal": {"rational": 0.35, "open": 0.2, "conscientious": 0.15, "intuitive": -0.15},
    "emotion-appeal": {"care": 0.35, "intuitive": 0.2, "agreeable": 0.15, "rational": -0.2},
    "credibility-appeal": {"authority": 0.3, "security": 0.2, "conscientious": 0.15, "freedom": -0.15},
    "foot-in-the-door": {"conform": 0.3, "agreeable": 0.2},
    "self-modeling": {"conform": 0.25, "loyalty": 0.2, "extrovert": 0.15},
    "personal-story": {"intuitive": 0.3, "care": 0.2, "extrovert": 0.15, "rational": -0.15},
    "donation-information": {"conscientious": 0.25, "rational": 0.2},
}
INQUIRIES = frozenset({"source-related-inquiry", "task-related-inquiry", "personal-related-inquiry"})


def z(profile: dict[str, Any], trait: str) -> float:
    value = profile.get(trait)
    if not isinstance(value, (int, float)) or trait not in SCALES:
        return 0.0
    low, high = SCALES[trait]
    return max(-1.0, min(1.0, (2 * float(value) - low - high) / (high - low)))


def donation(w: float) -> float:
    """Dollars given at willingness ``w`` (module docstring)."""
    if w < GIVE_UP:
        return 0.0
    return round(PAYMENT * min(1.0, (w - GIVE_UP) / 0.5), 1)


_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((act, re.compile(pattern, re.I)) for act, pattern in (
    ("self-modeling", r"\bi('m| am|'ll| will| also)( going to)? donat"),
    ("ask-donation-amount", r"\bhow much\b.*\bdonat|\bwhat amount\b"),
    ("proposition-of-donation", r"\bwould you (like to |be willing to |consider )?donat|\bdonate (some|part|a)\b"),
    ("foot-in-the-door", r"\b(just|only|even) (a few cents|\$?0?\.\d+|a little|a dollar)\b"),
    ("personal-story", r"\b(i remember|when i was|my (friend|sister|brother|mother|father|family))\b"),
    ("source-related-inquiry", r"\b(heard of|know about|familiar with) save the children\b"),
    ("task-related-inquiry", r"\b(do you|have you) (ever )?(donated?|give|given|support)\b.*\?"),
    ("personal-related-inquiry", r"\bdo you have (any )?(kids|children)\b|\bare you a (parent|mom|dad)\b"),
    ("donation-information", r"\b(from|out of) (your|the) (task )?payment\b|\bdirectly to save the children\b"),
    ("credibility-appeal", r"\b(founded|since 19\d\d|rated|transparen|reputable|accredit|percent of)\b"),
    ("emotion-appeal", r"\b(imagine|heartbreak|suffer|starv|dying|hungry|scared|alone)\b"),
    ("logical-appeal", r"\b(because|research|evidence|statistic|every dollar|helps? (provide|fund))\b"),
    ("greeting", r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b"),
    ("thank", r"\bthank"),
))


def classify(text: str) -> str:
    """The act of an unlabelled persuader turn, by keywords (the first matching rule wins); else ``other``."""
    return next((act for act, pattern in _KEYWORDS if pattern.search(text)), "other")


def read_act(turn: Turn) -> str:
    return turn.strategy if turn.strategy in ACTS else classify(turn.text)


class ScriptedPersuadee:
    """The programmatic persuadee (module docstring)."""

    name = "scripted"

    def start(self, state: DialogueState) -> None:
        profile, rng = state.case.fields.get("profile") or {}, state.rng
        logit = (W0 + z(profile, "care") + 0.8 * z(profile, "authority") + 0.6 * z(profile, "rational")
                 - 0.6 * z(profile, "power") + 0.3 * z(profile, "agreeable") + rng.gauss(0.0, 0.4))
        susceptibility = {act: min(1.0, max(0.05, 0.5 + sum(c * z(profile, t) for t, c in weights.items())))
                          for act, weights in SUSCEPTIBILITY.items()}
        state.hidden.update(
            w=1 / (1 + math.exp(-logit)), s=susceptibility, e=0.2, f=0.0, used={}, refusals=0, asked=False,
            patience=1.6 + 0.6 * z(profile, "agreeable") - 0.4 * z(profile, "neurotic"),
            knows_charity=z(profile, "universalism") > 0.3, said_unknown=False, status="open", donation=None,
        )

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        return [self.react(state) for state in states]

    def react(self, state: DialogueState) -> Turn:
        h, act = state.hidden, read_act(state.turns[-1])
        n = h["used"].get(act, 0)
        h["used"][act] = n + 1
        before = h["w"]
        if act in ASKS:
            return self._ask(state)
        if act in STRATEGY_NAMES - INQUIRIES:
            self._persuade(h, act, n)
        elif act in INQUIRIES or (act == "greeting" and n == 0):
            h["e"] = min(1.0, h["e"] + 0.25 / (1 + n))
            h["f"] = max(0.0, h["f"] - 0.1)
            if act == "source-related-inquiry" and not h["knows_charity"]:
                h["said_unknown"] = True
        if h["f"] >= h["patience"]:
            return self._end(state, h["w"] - 0.15, "tired")
        if state.agent_turns >= state.max_turns:
            return self._end(state, h["w"] - (0.0 if h["asked"] else 0.1), "last")
        gain = h["w"] - before
        mood = "warm" if gain > 0.04 else "cool" if act in STRATEGY_NAMES - INQUIRIES and gain < 0.015 else "neutral"
        key = {"source-related-inquiry": "knows" if h["knows_charity"] else "unknown"}.get(act, act)
        return self._turn(state, act, mood, key)

    def _persuade(self, h: dict[str, Any], act: str, n: int) -> None:
        w = h["w"]
        strength = h["s"][act]
        if act == "credibility-appeal" and h["said_unknown"]:
            strength *= 1.5
        if act == "donation-information" and w < GIVE_UP:
            strength, h["f"] = 0.0, h["f"] + 0.3
        if act == "foot-in-the-door" and not GIVE_UP <= w < 0.6:
            strength *= 0.4
        h["w"] = min(1.0, w + STEP * strength * (0.5 + h["e"]) * 0.5 ** n)
        h["f"] += FATIGUE_REPEAT if n else FATIGUE

    def _ask(self, state: DialogueState) -> Turn:
        h = state.hidden
        h["asked"] = True
        if h["w"] >= ACCEPT:
            return self._end(state, h["w"], "commit")
        h["refusals"] += 1
        h["f"] += FATIGUE_REFUSE
        if (h["refusals"] >= 2 and h["w"] < GIVE_UP) or state.agent_turns >= state.max_turns:
            return self._end(state, h["w"] if h["w"] >= GIVE_UP else 0.0, "refuse")
        return self._turn(state, "ask", "cool", "not-yet")

    def _end(self, state: DialogueState, w: float, why: str) -> Turn:
        h = state.hidden
        h["status"], h["donation"] = "decided", donation(w)
        key = "donate" if h["donation"] > 0 else f"no-{why}"
        return self._turn(state, "decide", "neutral", key, amount=h["donation"])

    @staticmethod
    def _turn(state: DialogueState, act: str, mood: str, key: str, amount: float | None = None) -> Turn:
        text = persuadee_line(state.rng, key, mood, amount)
        info = {"act": act, "mood": mood, **({"donation": amount} if amount is not None else {})}
        return Turn(role=state.user_role, text=text, info=info)
