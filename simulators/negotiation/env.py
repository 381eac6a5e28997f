"""The price-negotiation environment (CraigslistBargain as processed by PPDPP).

The agent is the Buyer, the user the Seller. PPDPP (Deng et al., ICLR 2024) opens every
dialogue with a fixed exchange, lets the buyer's dialogue agent follow one of 11 dialogue acts per
turn, and rewards a deal with the sale-to-list ratio and every turn without a deal with -0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from workbench.env import DialogueEnv, DialogueState, Strategy, UserSimulator, Verdict
from workbench.episodes import Case, Episode, Turn

from . import flaws, prompts, rules
from .cases import ENV_NAME, default_source, load_cases, sl_ratio
from .prices import fmt
from .seller import ScriptedSeller
from .strategies import STRATEGIES
from .templates import buyer_utterance


class NegotiationEnv(DialogueEnv):
    """Buyer-side price bargaining over CraigslistBargain items (PPDPP's CB setting)."""

    name = ENV_NAME
    description = "Bargain as the buyer for a Craigslist item against a seller (PPDPP's CraigslistBargain)."
    agent_role = "Buyer"
    user_role = "Seller"
    strategies: tuple[Strategy, ...] = STRATEGIES
    simulator_names = ("scripted", "llm")
    metric_names = ("SR", "AT", "SL%")
    default_max_turns = 8
    criteria = flaws.CRITERIA
    turn_flaw = staticmethod(flaws.turn_flaw)

    # -- cases and episode shape --------------------------------------------------------------
    @classmethod
    def cases(cls, source: str | Path | None = None) -> list[Case]:
        """Cases from a CB JSONL file; default ``data_dir()/ppdpp/cb-valid.jsonl`` (see :mod:`.cases`)."""
        return load_cases(source)

    default_source = staticmethod(default_source)

    def opening(self, state: DialogueState) -> list[Turn]:
        """PPDPP's fixed opening: the buyer asks the price, the seller names the list price."""
        f = state.case.fields
        item, listed = f["item_name"], float(f["seller_price"])
        return [Turn(role=self.agent_role, text=f"Hi, how much is the {item}?", info={"opening": True}),
                Turn(role=self.user_role, text=f"Hi, this is a good {item} and its price is {fmt(listed)}.",
                     info={"opening": True, "act": "inform", "offer": listed, "final": False})]

    def outcome(self, state: DialogueState) -> dict[str, Any]:
        """``success`` (a deal), ``deal``, ``price`` (None without a deal), ``sl`` (SL ratio, 0.0
        without a deal), ``turns`` (the agent's moves after the fixed opening) and
        ``walked_away`` (scripted seller only)."""
        info = state.verdicts[-1].info if state.verdicts else {}
        deal = bool(info.get("deal", False))
        price = float(info["price"]) if deal and info.get("price") is not None else None
        f = state.case.fields
        sl = sl_ratio(price, float(f["buyer_price"]), float(f["seller_price"])) if price is not None else 0.0
        return {"success": price is not None, "deal": price is not None, "price": price, "sl": sl,
                "turns": state.agent_turns, "walked_away": bool(info.get("walked_away", False))}

    @classmethod
    def metrics(cls, episodes: Sequence[Episode]) -> dict[str, float]:
        """PPDPP's CB metrics over ``episodes`` (all 0.0 for none):

        * ``SR``: success rate, the share of episodes that end in a deal;
        * ``AT``: average turns, the mean number of buyer (agent) turns per episode, counting
          every episode (a walk-away ends an episode early);
        * ``SL%``: 100 x the mean sale-to-list ratio over ALL episodes, where an episode without
          a deal counts 0 and a deal counts ``(price - list) / (target - list)`` unclipped.
        """
        sl = sum(float(e.outcome.get("sl", 0.0)) for e in episodes if e.outcome.get("success"))
        return {**super().metrics(episodes), "SL%": 100.0 * sl / len(episodes) if episodes else 0.0}

    # -- a person in the seller's seat ---------------------------------------------------------
    @classmethod
    def user_brief(cls, case: Case) -> str:
        """The seller's listing: the item, its description and the list price, the seller's target in
        CraigslistBargain (the buyer's target stays hidden)."""
        f = case.fields
        description = " ".join(str(f.get("seller_item_description", "")).split())
        return (f"You are the {cls.user_role}; the agent is the {cls.agent_role}. You are selling an item listed "
                f"under {f['item_name']} at {fmt(float(f['seller_price']))}, your target price."
                + (f" Your listing: \"{description}\"." if description else "")
                + ' Sell it for as much as you can; a deal ends the chat ("Deal.", "Ok, $N works.").')

    @classmethod
    def rule_answer(cls, state: DialogueState) -> tuple[tuple[str, float], str] | None:
        """A price agreed in the last turns, read from the text (:mod:`.rules`)."""
        return rules.rule_answer(state.turns, cls.agent_role)

    # -- simulators and critics ---------------------------------------------------------------
    @classmethod
    def scripted_simulator(cls) -> UserSimulator:
        """The scripted seller (hidden reservation price; dynamics in :mod:`.seller`)."""
        return ScriptedSeller()

    @classmethod
    def ground_truth(cls, state: DialogueState) -> Verdict:
        """The exact verdict from the scripted seller's state.

        Deal: reward = SL ratio (unclipped, as in PPDPP), done, success. Walk-away: done, no
        success, and reward ``-0.1 x`` (turns left including this one), so every episode without a
        deal returns ``-0.1 x max_turns`` whether the seller walks out or the turns run out
        (walking out must not be a cheap way to end a dialogue). Otherwise: reward -0.1
        (PPDPP's per-turn no-deal reward), not done.
        """
        h = state.hidden
        status = h.get("status", "open")
        if status == "deal":
            f = state.case.fields
            price = float(h["price"])
            return Verdict(reward=sl_ratio(price, float(f["buyer_price"]), float(f["seller_price"])), done=True,
                           success=True, info={"deal": True, "price": price})
        if status == "walked":
            left = max(1, state.max_turns - state.agent_turns + 1)
            return Verdict(reward=prompts.NO_DEAL_REWARD * left, done=True, success=False,
                           info={"deal": False, "price": None, "walked_away": True})
        return Verdict(reward=prompts.NO_DEAL_REWARD, done=False, success=False, info={"deal": False, "price": None})

    user_prompt = staticmethod(prompts.user_prompt)
    agent_prompt = staticmethod(prompts.agent_prompt)

    @classmethod
    def realise(cls, state: DialogueState, strategy: Strategy) -> str:
        """The template buyer's utterance (see :mod:`.templates`)."""
        return buyer_utterance(state, cls.strategy(strategy.name).name)

    critic_prompt = staticmethod(prompts.critic_prompt)
    parse_verdict = staticmethod(prompts.parse_verdict)
    aggregate_verdicts = staticmethod(prompts.aggregate_verdicts)
