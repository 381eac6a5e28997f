"""The negotiation environment: cases, scripted seller, template buyer, prompts, critic parsing, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from simulators.negotiation import NegotiationEnv
from simulators.negotiation.cases import RESERVATION_HIGH, RESERVATION_LOW, sl_ratio
from simulators.negotiation.prices import buyer_offer, parse_prices, seller_ask
from simulators.negotiation.templates import REASONS, last_buyer_offer, last_seller_ask
from workbench.critics import GroundTruthCritic
from workbench.env import DialogueState, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from tests.helpers import play

NAMES = ["greet", "inquire", "inform", "propose", "counter", "counter-noprice", "confirm", "affirm", "deny",
         "agree", "disagree"]
RAPPORT = ("greet", "inquire", "inform")


def make_env(max_turns: int | None = None) -> NegotiationEnv:
    return NegotiationEnv(NegotiationEnv.scripted_simulator(), GroundTruthCritic(NegotiationEnv.ground_truth),
                          max_turns=max_turns)


def hand_case(reservation: float = 85.0, buyer: float = 80, seller: float = 100) -> Case:
    fields = {"item_name": "bike", "buyer_item_description": "A red bike.", "buyer_price": buyer,
              "seller_item_description": "A red bike, barely used.", "seller_price": seller, "dialog": [],
              "turns": []}
    return Case(id="hand:1", env="negotiation", fields=fields, hidden={"reservation": reservation})


def say(env: NegotiationEnv, state: DialogueState, text: str, strategy: str | None) -> Turn:
    """One buyer turn; returns the seller's reply."""
    env.advance([state], [Turn(role="Buyer", text=text, strategy=strategy)])
    return state.turns[-1]


# -- policies over the template buyer -------------------------------------------------------------
def fixed(name):
    return lambda state, rng: name


def uniform(state, rng):
    return rng.choice(NAMES)


def adaptive(state, rng):
    """Warm the seller up until it asks for a price, then justified counters, agree when close."""
    info = state.turns[-1].info
    if state.agent_turns >= state.max_turns - 1 or info.get("final"):
        return "agree"
    talked = [t.strategy for t in state.turns if t.role == "Buyer" and t.strategy]
    small = sum(s in RAPPORT for s in talked)
    if info.get("act") != "inquire" and "counter" not in talked and small < 3:
        return RAPPORT[small]
    ask, prev = last_seller_ask(state), last_buyer_offer(state)
    if prev is not None and ask - prev <= 0.06 * ask:
        return "agree"
    return "counter"


def mean_return(episodes):
    return sum(e.total_reward for e in episodes) / len(episodes)


# -- declaration ------------------------------------------------------------------------------------
def test_declaration():
    assert NegotiationEnv.name == "negotiation"
    assert (NegotiationEnv.agent_role, NegotiationEnv.user_role) == ("Buyer", "Seller")
    assert [s.name for s in NegotiationEnv.strategies] == NAMES
    assert all(s.instruction.startswith("Please ") and s.instruction.endswith(".") for s in NegotiationEnv.strategies)
    assert len({s.instruction for s in NegotiationEnv.strategies}) == 11
    assert NegotiationEnv.simulator_names == ("scripted", "llm")
    assert NegotiationEnv.metric_names == ("SR", "AT", "SL%")
    assert NegotiationEnv.default_max_turns == 8
    assert make_env().max_turns == 8
    assert NegotiationEnv.strategy("counter-noprice").name == "counter-noprice"
    with pytest.raises(WorkbenchError, match="unknown strategy 'haggle'"):
        NegotiationEnv.strategy("haggle")


# -- cases ------------------------------------------------------------------------------------------
def test_loads_all_shared_cases(cb_file):
    cases = NegotiationEnv.cases(cb_file)
    assert len(cases) == 188
    assert [c.id for c in cases[:2]] == ["cb-valid:1", "cb-valid:2"] and cases[-1].id == "cb-valid:188"
    assert all(c.env == "negotiation" for c in cases)
    first = cases[0]
    assert first.fields["item_name"] == "electronics"
    assert (first.fields["buyer_price"], first.fields["seller_price"]) == (243, 265)
    assert first.fields["turns"][0] == {"role": "Buyer", "text": "hi there", "strategy": "greet"}
    assert first.fields["turns"][1]["role"] == "Seller"
    assert sum(not c.fields["turns"] for c in cases) == 7  # empty human dialogues are valid cases
    below_target = 0
    for c in cases:
        b, l, r = c.fields["buyer_price"], c.fields["seller_price"], c.hidden["reservation"]
        assert b + RESERVATION_LOW * (l - b) - 0.01 <= r <= b + RESERVATION_HIGH * (l - b) + 0.01 and r < l
        below_target += r <= b
    assert 15 <= below_target <= 70  # some cases allow a deal at the target, most do not
    # the default source is the shared file; reservations are stable across loads
    assert [c.hidden for c in NegotiationEnv.cases()] == [c.hidden for c in cases]


GOOD = {"item_name": "bike", "buyer_item_description": "d", "buyer_price": 80, "seller_item_description": "d",
        "seller_price": 100, "dialog": [{"speaker": "sys", "text": "hi", "strategy": "greet"}]}


@pytest.mark.parametrize("bad, problem", [
    ("{not json", "malformed JSON"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "seller_price"}), "missing field 'seller_price'"),
    (json.dumps(dict(GOOD, buyer_price="cheap")), "'buyer_price'"),
    (json.dumps(dict(GOOD, buyer_price=True)), "'buyer_price'"),
    (json.dumps(dict(GOOD, seller_price=0)), "'seller_price' must be positive"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "bot", "text": "hi"}])), "speaker 'bot'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "sys"}])), "missing field 'text'"),
    ("[1, 2]", "expected a JSON object"),
])
def test_malformed_row_names_file_and_line(tmp_path: Path, bad, problem):
    path = tmp_path / "cb-bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n")
    with pytest.raises(WorkbenchError) as err:
        NegotiationEnv.cases(path)
    assert f"{path}:3" in str(err.value) and problem in str(err.value)


def test_missing_file_and_ids(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="not found"):
        NegotiationEnv.cases(tmp_path / "nope.jsonl")
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n")
    cases = NegotiationEnv.cases(str(path))
    assert [c.id for c in cases] == ["mine:1", "mine:2"]
    assert cases[0].hidden != cases[1].hidden  # drawn per case id


# -- opening, SL, outcome, metrics ---------------------------------------------------------------------
def test_opening_is_ppdpps(cb_file):
    env = make_env()
    state = env.begin(NegotiationEnv.cases(cb_file)[0], seed=0)
    assert [(t.role, t.text, t.strategy) for t in state.turns] == [
        ("Buyer", "Hi, how much is the electronics?", None),
        ("Seller", "Hi, this is a good electronics and its price is $265.", None)]
    housing = env.begin(NegotiationEnv.cases(cb_file)[1], seed=0)
    assert housing.turns[1].text == "Hi, this is a good housing and its price is $2,495."


def test_sl_ratio_and_ground_truth_deal():
    assert sl_ratio(253, 243, 265) == pytest.approx(12 / 22)
    assert sl_ratio(265, 243, 265) == 0.0 and sl_ratio(243, 243, 265) == 1.0
    assert sl_ratio(233, 243, 265) == pytest.approx(32 / 22)  # below the target: not clipped
    assert sl_ratio(275, 243, 265) == pytest.approx(-10 / 22)
    assert sl_ratio(50, 50, 50) == 1.0 and sl_ratio(60, 50, 50) == 0.0  # guarded
    env = make_env()
    state = env.begin(hand_case(), seed=0)
    reply = say(env, state, "Okay, $100 it is, deal.", "agree")
    assert reply.info == {"act": "agree", "offer": 100.0, "final": False,
                          "verdict": {"reward": 0.0, "done": True, "success": True, "deal": True, "price": 100.0,
                                      "raw": []}}
    assert state.done and state.rewards == [0.0]
    state = env.begin(hand_case(), seed=0)
    say(env, state, "I'll pay $90 for it.", "propose")  # below the no-rapport floor of $92.5: refused
    assert not state.done and state.rewards == [-0.1]


def test_outcome_and_metrics_exact():
    env = make_env()
    state = env.begin(hand_case(), seed=0)
    say(env, state, "Hello!", "greet")
    state.verdicts.append(Verdict(reward=0.75, done=True, success=True, info={"deal": True, "price": 85.0}))
    assert env.outcome(state) == {"success": True, "deal": True, "price": 85.0, "sl": 0.75, "turns": 1,
                                  "walked_away": False}
    fresh = env.begin(hand_case(), seed=0)
    assert env.outcome(fresh) == {"success": False, "deal": False, "price": None, "sl": 0.0, "turns": 0,
                                  "walked_away": False}

    def ep(success, sl, turns):
        return Episode(id="e", env="negotiation", case=hand_case(), turns=[],
                       outcome={"success": success, "sl": sl, "turns": turns})

    m = NegotiationEnv.metrics([ep(True, 0.5, 3), ep(True, 1.25, 5), ep(False, 0.0, 8), ep(False, 0.0, 2)])
    assert m == {"SR": 0.5, "AT": pytest.approx(4.5), "SL%": pytest.approx(100 * 1.75 / 4)}
    assert NegotiationEnv.metrics([]) == {"SR": 0.0, "AT": 0.0, "SL%": 0.0}


def test_truncates_after_max_turns_moves_not_counting_the_opening():
    env = make_env(max_turns=3)
    state = env.begin(hand_case(), seed=0)
    for i in range(3):
        assert not state.truncated
        say(env, state, "Could you go a bit lower?", "counter-noprice")
    assert state.truncated and not state.done and state.agent_turns == 3
    assert state.rewards == [-0.1] * 3 and env.outcome(state)["turns"] == 3
    with pytest.raises(WorkbenchError, match="finished"):
        say(env, state, "Hello?", "greet")


# -- scripted seller ------------------------------------------------------------------------------------
def test_justified_counter_moves_the_ask_more_than_a_bare_lowball():
    env = make_env()
    # L = 100, R = 85: the no-rapport floor is 92.5; $85 is below it but within 15% of L
    justified = env.begin(hand_case(), seed=3)
    reply_j = say(env, justified, "It has some wear and tear, so could you do $85?", "counter")
    bare = env.begin(hand_case(), seed=3)
    reply_b = say(env, bare, "How about $85?", "propose")
    assert reply_j.info["offer"] == 97.0  # 100 - 0.45 * (100 - 92.5), rounded up
    assert reply_b.info["offer"] == 100.0 and reply_b.strategy == "disagree"  # lowball: token concession
    assert justified.hidden["annoyance"] == 0 and bare.hidden["annoyance"] == 1
    assert seller_ask(reply_j.text) == 97.0 and "$85" in reply_b.text


def test_rapport_makes_later_concessions_larger():
    env = make_env()
    cold = env.begin(hand_case(), seed=5)
    cold_reply = say(env, cold, "It has some wear, so could you do $85?", "counter")
    warm = env.begin(hand_case(), seed=5)
    for text, act in [("Hi there!", "greet"), ("How old is it?", "inquire"), ("I need it to commute.", "inform")]:
        if warm.hidden["rapport"] < 1:
            say(env, warm, text, act)
    assert warm.turns[-1].strategy == "inquire" and "what" in warm.turns[-1].text.lower()  # asks for a price
    warm_reply = say(env, warm, "It has some wear, so could you do $85?", "counter")
    assert warm_reply.info["offer"] < cold_reply.info["offer"] - 5


@pytest.mark.parametrize("seed", range(8))
def test_repeated_lowballs_make_the_seller_walk_away(seed):
    env = make_env()
    state = env.begin(hand_case(), seed=seed)
    for _ in range(4):
        say(env, state, "I'll give you $40 for it.", "propose")
        if state.done:
            break
    assert state.done and state.hidden["status"] == "walked"
    assert state.turns[-1].strategy == "quit" and state.turns[-1].info["offer"] is None
    assert 2 <= state.hidden["lowballs"] <= 4
    verdict = state.verdicts[-1]
    assert not verdict.success and verdict.info == {"deal": False, "price": None, "walked_away": True}
    # walking out costs as much as running out of turns without a deal
    stall = env.begin(hand_case(), seed=seed)
    while not (stall.done or stall.truncated):
        say(env, stall, "Could you go a bit lower?", "counter-noprice")
    assert stall.truncated and not stall.done
    assert sum(stall.rewards) == pytest.approx(-0.1 * env.max_turns)
    assert sum(state.rewards) == pytest.approx(sum(stall.rewards))
    assert env.outcome(state)["walked_away"] is True


@pytest.mark.parametrize("seed", range(4))
def test_rudeness_and_repeated_disagreement_end_the_talk(seed):
    env = make_env()
    rude = env.begin(hand_case(), seed=seed)
    for _ in range(3):
        if not rude.done:
            say(env, rude, "That's a ridiculous price, what a scam.", "inquire")
    assert rude.hidden["status"] == "walked"
    grumpy = env.begin(hand_case(), seed=seed)
    for _ in range(4):
        if not grumpy.done:
            say(env, grumpy, "No, that's too much.", "disagree")
    assert grumpy.hidden["status"] == "walked"


def test_agree_deals_at_the_current_ask():
    env = make_env()
    state = env.begin(hand_case(), seed=3)
    say(env, state, "It has some wear and tear, so could you do $85?", "counter")
    assert state.hidden["ask"] == 97.0
    reply = say(env, state, env.realise(state, env.strategy("agree")), "agree")
    assert "$97" in state.turns[-2].text
    assert state.done and reply.info["offer"] == 97.0 and reply.strategy == "agree"
    assert state.rewards[-1] == pytest.approx(sl_ratio(97, 80, 100))
    assert env.outcome(state) == {"success": True, "deal": True, "price": 97.0, "sl": pytest.approx(0.15),
                                  "turns": 2, "walked_away": False}


@pytest.mark.parametrize("offer, price", [(100, 100.0), (120, 120.0)])
def test_offers_at_or_above_the_ask_are_accepted(offer, price):
    env = make_env()
    state = env.begin(hand_case(), seed=0)
    say(env, state, f"I can offer ${offer}.", "propose")
    assert state.done and state.hidden["price"] == price
    assert state.rewards == [pytest.approx(sl_ratio(price, 80, 100))]


def test_offer_close_to_the_ask_is_accepted_or_met_in_the_middle():
    env, outcomes = make_env(), set()
    for seed in range(20):
        state = env.begin(hand_case(), seed=seed)
        say(env, state, "Would you take $97?", "propose")  # above the floor, within 4% of the ask
        outcomes.add("deal" if state.done else state.hidden["ask"])
        if state.done:
            assert state.hidden["price"] == 97.0
    assert outcomes == {"deal", 99.0}  # (100 + 97) / 2 rounded up


def test_unknown_or_missing_strategy_reads_the_text():
    env = make_env()
    labelled = env.begin(hand_case(), seed=3)
    say(env, labelled, "It has some wear and tear, so could you do $85?", "counter")
    for strategy in ("bogus", None):
        state = env.begin(hand_case(), seed=3)
        say(env, state, "It has some wear and tear, so could you do $85?", strategy)
        assert state.hidden["ask"] == labelled.hidden["ask"] == 97.0
    state = env.begin(hand_case(), seed=3)
    say(env, state, "Sounds good, I'll take it!", "not-a-strategy")
    assert state.done and state.hidden["price"] == 100.0
    state = env.begin(hand_case(), seed=3)
    say(env, state, "Hello, how are you?", None)
    assert state.hidden["rapport"] > 0 and not state.done


def test_prices_are_read_from_text():
    assert parse_prices("$123, $1,200.50, 45 dollars, 30 bucks, 1,500 and a 2015 model") == [123, 1200.5, 45, 30, 1500]
    assert buyer_offer("Not $265, but I could do $230.") == 230
    assert seller_ask("I can't do $200, but $230 works.") == 230
    assert buyer_offer("It is 3 years old.") is None


# -- template buyer ---------------------------------------------------------------------------------
def test_template_buyer_offers_follow_its_concession_schedule():
    env = make_env()
    state = env.begin(hand_case(), seed=11)
    for name in NAMES:
        assert env.realise(state, env.strategy(name)).strip()
    assert buyer_offer(env.realise(state, env.strategy("counter-noprice"))) is None
    assert buyer_offer(env.realise(state, env.strategy("disagree"))) is None
    first_text = env.realise(state, env.strategy("counter"))
    assert any(r.lower()[:12] in first_text.lower() for r in REASONS)
    first = buyer_offer(first_text)
    assert 77 <= first <= 81.6  # near the target of $80
    prev = first
    say(env, state, first_text, "counter")
    for _ in range(4):
        if state.done:
            break
        ask = last_seller_ask(state)
        text = env.realise(state, env.strategy("propose"))
        offer = buyer_offer(text)
        assert f"${offer:g}" in text and prev <= offer <= ask
        prev = offer
        say(env, state, text, "propose")
    assert env.realise(state, env.strategy("agree")).count("$") == 1 or state.done
    with pytest.raises(WorkbenchError):
        env.realise(state, type(env.strategy("greet"))("haggle", "Please haggle."))


# -- the point of the dynamics ------------------------------------------------------------------------
def test_no_fixed_strategy_and_no_random_policy_is_optimal(cb_file):
    env = make_env()
    cases = NegotiationEnv.cases(cb_file)[:100]
    best = play(env, cases, adaptive)
    best_return, best_metrics = mean_return(best), NegotiationEnv.metrics(best)
    assert best_metrics["SR"] >= 0.95 and best_metrics["SL%"] >= 50
    others = {name: play(env, cases, fixed(name)) for name in NAMES}
    others["random"] = play(env, cases, uniform)
    for name, episodes in others.items():
        assert mean_return(episodes) < best_return - 0.2, name
        assert NegotiationEnv.metrics(episodes)["SL%"] < best_metrics["SL%"] - 30, name
    assert NegotiationEnv.metrics(others["agree"]) == {"SR": 1.0, "AT": 1.0, "SL%": 0.0}
    assert NegotiationEnv.metrics(others["greet"])["SR"] == 0.0
    assert sum(e.outcome["walked_away"] for e in others["propose"]) >= 30
    assert all(e.outcome["walked_away"] for e in others["disagree"])
    # rapport matters: the same play without small talk does clearly worse
    no_talk = play(env, cases, lambda s, rng: "agree" if s.turns[-1].info.get("final") or s.agent_turns >= s.max_turns - 1
                   else ("agree" if (last_buyer_offer(s) or 0) >= 0.94 * last_seller_ask(s) else "counter"))
    assert mean_return(no_talk) < best_return - 0.2


def test_rollouts_are_deterministic_under_a_seed(cb_file):
    env = make_env()
    cases = NegotiationEnv.cases(cb_file)[:30]

    def trace(seed):
        return [[(t.role, t.text, t.strategy, t.reward) for t in e.turns] for e in play(env, cases, uniform, seed)]

    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


# -- LLM prompts and critic ------------------------------------------------------------------------
def test_user_prompt_is_the_sellers_roleplay(cb_file):
    env = make_env()
    case = NegotiationEnv.cases(cb_file)[0]
    state = env.begin(case, seed=0)
    say(env, state, "It has some wear and tear, so could you do $240?", "counter")
    messages = NegotiationEnv.user_prompt(state)
    assert isinstance(messages[0], SystemMessage)
    system = messages[0].content
    assert "Seller" in system and "$265" in system and "electronics" in system and "one short" in system
    assert str(case.hidden["reservation"]) not in system and "248" not in system  # no reservation
    dialogue = messages[1:]
    assert [(type(m), m.name, m.content) for m in dialogue] == [
        (HumanMessage if t.role == "Buyer" else AIMessage, t.role, t.text) for t in state.turns]
    assert isinstance(dialogue[-1], AIMessage)  # the seller's reply is the last turn so far
    state.turns.append(Turn(role="Buyer", text="How about $245?"))
    last = NegotiationEnv.user_prompt(state)[-1]
    assert isinstance(last, HumanMessage) and last.name == "Buyer" and last.content == "How about $245?"


def test_agent_prompt_carries_the_strategy_instruction(cb_file):
    env = make_env()
    state = env.begin(NegotiationEnv.cases(cb_file)[0], seed=0)
    counter = env.strategy("counter")
    messages = NegotiationEnv.agent_prompt(state, counter)
    system = messages[0].content
    assert isinstance(messages[0], SystemMessage) and "Buyer" in system and "$243" in system
    assert f"Now: {counter.instruction}" in system
    assert [(type(m), m.name) for m in messages[1:]] == [(AIMessage, "Buyer"), (HumanMessage, "Seller")]
    assert "Now:" not in NegotiationEnv.agent_prompt(state, None)[0].content


def test_critic_prompt_has_fixed_answers_and_few_shots(cb_file):
    env = make_env()
    state = env.begin(NegotiationEnv.cases(cb_file)[0], seed=0)
    messages = NegotiationEnv.critic_prompt(state)
    assert isinstance(messages[0], SystemMessage)
    assert "They have reached a deal at $[price]." in messages[0].content
    answers = [m.content for m in messages if isinstance(m, AIMessage)]
    assert [NegotiationEnv.parse_verdict(a) for a in answers] == [("deal", 80.0), ("no deal", None)]
    last = messages[-1]
    assert isinstance(last, HumanMessage) and last.content.startswith(state.history())
    assert last.content.endswith("Have they reached a deal? If they have, at what price?")


@pytest.mark.parametrize("text, parsed", [
    ("They have reached a deal at $15.", ("deal", 15.0)),
    ("They have reached a deal at $1,250.50 for the couch", ("deal", 1250.5)),
    (" they HAVE reached a deal at 99 dollars", ("deal", 99.0)),
    ("Deal at $40, both agreed.", ("deal", 40.0)),
    ("They have not reached a deal.", ("no deal", None)),
    ("They haven't reached a deal at $15 yet.", ("no deal", None)),
    ("No deal.", ("no deal", None)),
    ("They have reached a deal.", None),  # a deal needs a price
    ("The seller likes the bike.", None),
    ("", None),
])
def test_parse_verdict(text, parsed):
    assert NegotiationEnv.parse_verdict(text) == parsed


def test_aggregate_verdicts_majority_and_mode_price():
    env = make_env()
    state = env.begin(hand_case(), seed=0)  # target 80, list 100
    state.turns += [Turn("Buyer", "Would you take $85? It has a scratch."), Turn("Seller", "I could do $90.")]
    deal, no = ("deal", None), ("no deal", None)
    v = NegotiationEnv.aggregate_verdicts(state, [("deal", 90.0), ("deal", 85.0), ("deal", 85.0), no, no])
    assert (v.reward, v.done, v.success, v.info) == (pytest.approx(0.75), True, True,
                                                     {"deal": True, "price": 85.0, "dropped_votes": 0})
    v = NegotiationEnv.aggregate_verdicts(state, [("deal", 90.0), ("deal", 85.0)])  # tie -> first seen
    assert v.info["price"] == 90.0 and v.reward == pytest.approx(0.5)
    for parsed in ([("deal", 90.0), no], [no, no, ("deal", 90.0)], []):
        v = NegotiationEnv.aggregate_verdicts(state, parsed)
        assert (v.reward, v.done, v.success, v.info) == (-0.1, False, False,
                                                         {"deal": False, "price": None, "dropped_votes": 0})
    # unparsable samples never reach aggregate: parse -> None is dropped by the LLM critic
    raw = ["They have reached a deal at $85.", "gibberish", "They have reached a deal.",
           "They have not reached a deal."]
    parsed = [p for p in map(NegotiationEnv.parse_verdict, raw) if p is not None]
    assert parsed == [("deal", 85.0), no]
    assert deal not in parsed
    # a price nobody named is the critic's invention: ignored, and counted as a dropped vote
    v = NegotiationEnv.aggregate_verdicts(state, [("deal", 80.0), ("deal", 80.0), ("deal", 85.0)])
    assert v.info["price"] == 85.0 and v.info["dropped_votes"] == 2
    v = NegotiationEnv.aggregate_verdicts(state, [("deal", 80.0), no])
    assert not v.done and v.info["dropped_votes"] == 1
