"""The environments' ground-truth rules read from the text (``DialogueEnv.rule_verdict``) and the role briefs a
person in the user's seat is shown (``DialogueEnv.user_brief``)."""

from __future__ import annotations

import pytest

from simulators.emotional_support import rules as esc_rules
from simulators.marketplace import rules as market_rules
from simulators.negotiation import rules as cb_rules
from simulators.persuasion import rules as p4g_rules
from simulators.tutoring import rules as cima_rules
from workbench.env import DialogueState
from workbench.episodes import Case, Turn
from workbench.registry import env_class

ACCEPTS = ["Deal!", "Deal.", "It's a deal.", "Okay, you've got a deal at $12,000.", "Ok, $12,000 works.",
           "$12,000 works for me.", "Alright, I'll take it for $12,000.", "Sounds good, let's do $12,000.",
           "Deal, $12,000 it is.", "Ok", "Sure, $12,000.", "Yes!", "Sold!", "Great, $12,000 works for me. It's yours.",
           "That will work for me.", "Agreed.", "Deal! When can you pick it up?", "I can do that."]
NOT_ACCEPTS = ["Would you take $12,000?", "Deal?", "No deal.", "I can't do $12,000.", "ok, $12,500 is my lowest",
               "$12,000 doesn't work for me.", "That's not a deal.", "Sounds good, but I need $12,500.",
               "How about $12,000.", "Ok. How old is it?", "Lower it a bit and you have a deal.",
               "Maybe, let me think about it.", "Deal, if you pick it up today.", "I could do $12,500 instead.",
               "It's in great shape.", "I'd like more than that.", "Okay, I could do $12,500 as my final price."]


@pytest.mark.parametrize("line", ACCEPTS)
def test_negotiation_acceptances(line):
    assert cb_rules.accepts(line)


@pytest.mark.parametrize("line", NOT_ACCEPTS)
def test_negotiation_non_acceptances(line):
    assert not cb_rules.accepts(line)


def B(text: str) -> Turn:
    return Turn("Buyer", text)


def S(text: str) -> Turn:
    return Turn("Seller", text)


@pytest.mark.parametrize("turns, price", [
    ([S("It's $13,500."), B("Would you take $12,000?"), S("Deal.")], 12000.0),
    ([S("It's $13,500."), B("Would you take $12,000?"), S("Ok, $12,000 works.")], 12000.0),
    ([S("It's $13,500."), B("Would you take $12,000?"), S("Ok, $12,500 works.")], None),  # a counter
    ([S("It's $13,500."), B("Would you take $12,000?"), S("Would you take $12,500?")], None),
    ([S("I can do $12,500."), B("Alright, I'll take it for $12,500."), S("Great, when can you come?")], 12500.0),
    ([S("I can do $12,500."), B("Alright, I'll take it for $12,500."), S("Wait, actually I changed my mind.")], None),
    # an offer in the words of an acceptance: a deal only once the seller accepts it
    ([S("It's $13,500."), B("Alright, I'll take it for $12,000."), S("Let me think.")], None),
    ([S("It's $13,500."), B("Alright, I'll take it for $12,000."), S("Sure.")], 12000.0),
    ([B("Would you take $11,000?"), S("$12,500."), B("Is it in good shape?"), S("Sure.")], None),  # no offer to accept
    ([S("$70 is as low as I can go."), B("I have $65, please."), S("ok, deal")], 65.0),
    ([S("$4700, we could meet halfway."), B("4600 and you have a deal")], None),
])
def test_negotiation_agreed_price(turns, price):
    assert cb_rules.agreed_price(turns, "Buyer") == price


def state_of(env_name: str, turns: list[Turn], case: Case | None = None, max_turns: int = 8) -> DialogueState:
    cls = env_class(env_name)
    case = case or cls.cases()[0]
    return DialogueState(case=case, env=env_name, agent_role=cls.agent_role, user_role=cls.user_role,
                         max_turns=max_turns, seed=0, turns=turns)


def test_negotiation_rule_verdict_is_the_critics_reward_for_that_deal():
    cls = env_class("negotiation")
    case = cls.cases()[0]
    listed, target = float(case.fields["seller_price"]), float(case.fields["buyer_price"])
    state = state_of("negotiation", [S(f"It's ${listed:g}."), B(f"Would you take ${target:g}?"), S("Deal!")], case)
    verdict, critic = cls.rule_verdict(state), cls.aggregate_verdicts(state, [("deal", target)])
    assert (verdict.reward, verdict.done, verdict.success) == (critic.reward, critic.done, critic.success)
    assert verdict.done and verdict.success and verdict.reward == pytest.approx(1.0)  # SL ratio at the target
    assert verdict.info["source"] == "rule" and verdict.info["rule"] == f"price agreed at ${target:,.0f}"
    assert cls.rule_verdict(state_of("negotiation", [S("It's $265."), B("Would you take $243?")], case)) is None


@pytest.mark.parametrize("line, amount", [
    ("I'll donate $1.", 1.0), ("Okay, I will give 50 cents.", 0.5), ("I want to donate one dollar.", 1.0),
    ("I will not donate.", 0.0), ("I won't give anything, sorry.", 0.0), ("I'd rather not donate.", 0.0),
    ("I'll donate $5!", 2.0),  # capped at the payment, as the critic's parse
    ("Maybe I'll donate $1.", None), ("Should I donate $1?", None), ("I'll donate.", None),
    ("I might give 50 cents.", None), ("I'll donate $1 if you tell me more.", None), ("Tell me more.", None),
])
def test_persuasion_stated_donation(line, amount):
    assert p4g_rules.stated_donation(line) == amount


def test_persuasion_rule_verdict():
    cls = env_class("persuasion")
    verdict = cls.rule_verdict(state_of("persuasion", [Turn("Persuader", "Would you donate?"),
                                                       Turn("Persuadee", "Ok, I'll donate $0.50.")]))
    assert verdict.done and verdict.success and verdict.reward == 0.5 and verdict.info["donation"] == 0.5
    refused = cls.rule_verdict(state_of("persuasion", [Turn("Persuader", "Would you donate?"),
                                                       Turn("Persuadee", "No, I will not donate.")]))
    assert refused.done and not refused.success and refused.reward == 0.0
    assert cls.rule_verdict(state_of("persuasion", [Turn("Persuader", "I'll donate $1.")])) is None  # the agent's line


NAMES = ["Brio 5X", "Corvo 70", "Aster 3S"]


@pytest.mark.parametrize("line, bought", [
    ("Great, I'll buy the Brio 5X.", "Brio 5X"), ("Perfect, I'll take the Corvo 70 then.", "Corvo 70"),
    ("I'm going to get the aster 3s.", "Aster 3S"), ("Alright, I won't buy anything then.", ""),
    ("Okay, thanks for being honest. I'll look elsewhere.", ""),
    ("Should I buy the Brio 5X?", None), ("Maybe I'll buy the Brio 5X.", None),
    ("I'll buy the Brio 5X or the Corvo 70.", None), ("I won't buy the Brio 5X.", None),
    ("Does the Brio 5X have HDR?", None), ("I'll leave it for now.", None),
])
def test_marketplace_stated_purchase(line, bought):
    assert market_rules.stated_purchase(line, NAMES) == bought


def test_marketplace_rule_verdict_scores_the_true_utility():
    cls = env_class("marketplace")
    case = cls.cases()[0]
    name = case.fields["options"][0]["name"]
    verdict = cls.rule_verdict(state_of("marketplace", [Turn("Assistant", "Hi."),
                                                        Turn("Customer", f"I'll buy the {name}.")], case))
    assert verdict.done and verdict.info["bought"] == name
    assert verdict.reward == cls.aggregate_verdicts(state_of("marketplace", [], case), [name.lower()]).reward


@pytest.mark.parametrize("line, whole", [
    ("E di fronte alla scatola rosa.", True), ("Great, so it's \"e di fronte alla scatola rosa\".", True),
    ("I think it's \"è di fronte alla scatola rosa\".", True),
    ("Is it \"e di fronte alla scatola rosa\"?", False), ("Maybe \"e di fronte alla scatola rosa\".", False),
    ("e di fronte alla scatola", False), ("e di fronte alla scatola rossa", False), ("I don't know.", False),
])
def test_tutoring_whole_phrase(line, whole):
    assert cima_rules.says_whole(line, "e di fronte alla scatola rosa") is whole


def test_tutoring_elided_article():
    assert cima_rules.says_whole("It's e vicino all'albero verde!", "e vicino all'albero verde")
    assert not cima_rules.says_whole("It's e vicino all'albero", "e vicino all'albero verde")


def test_tutoring_rule_verdict_is_a_success():
    cls = env_class("tutoring")
    case = cls.cases()[0]
    verdict = cls.rule_verdict(state_of("tutoring", [Turn("Teacher", "Try it."),
                                                     Turn("Student", f"It's {case.fields['target']}.")], case))
    assert verdict.done and verdict.success and verdict.reward == 1.0


@pytest.mark.parametrize("line, level", [
    ("Thank you so much, I feel much better and I know what to do now.", 1.0),
    ("My problem is solved, thanks.", 1.0), ("I feel a lot better, I think I can handle the job crisis now.", 1.0),
    ("Thank you, that actually makes me feel a little better.", 0.5), ("I feel even worse now.", -1.0),
    ("I don't feel better.", None), ("Will I ever feel better?", None), ("I hope I feel better soon.", None),
    ("My boss yelled at me again.", None),
])
def test_emotional_support_clear_statements(line, level):
    read = esc_rules.rule_answer(line)
    assert (read[0] if read else None) == level


def test_emotional_support_only_solved_ends():
    cls = env_class("emotional_support")
    better = cls.rule_verdict(state_of("emotional_support", [Turn("Therapist", "I hear you."),
                                                             Turn("Patient", "I feel better.")]))
    assert better.reward == 0.5 and not better.done
    solved = cls.rule_verdict(state_of("emotional_support", [Turn("Therapist", "Try a walk."),
                                                             Turn("Patient", "I know what to do now.")]))
    assert solved.done and solved.success


@pytest.mark.parametrize("env_name, facts", [
    ("negotiation", ["You are the Seller; the agent is the Buyer.", "listed under", "your target price",
                     "Your listing"]),
    ("emotional_support", ["You are the Patient", "the agent is the Therapist", "You feel", "Your situation"]),
    ("tutoring", ["You are the Student", "the agent is the Teacher", "You are translating"]),
    ("persuasion", ["You are the Persuadee; the agent is the Persuader.", "$2", "Save the Children"]),
    ("marketplace", ["You are the Customer; the agent is the shop Assistant.", "your budget is", "You see the"]),
])
def test_user_briefs(env_name, facts):
    cls = env_class(env_name)
    case = cls.cases()[0]
    brief = cls.user_brief(case)
    assert all(fact in brief for fact in facts), brief
    if env_name == "marketplace":
        assert all(o["name"] in brief and f"${o['price']}" in brief for o in case.fields["options"])
        assert not any(feature in brief for o in case.fields["options"] for feature in o["features"]
                       if feature != case.fields["need"])
    if env_name == "negotiation":
        assert f"${case.fields['buyer_price']}" not in brief  # the buyer's target stays hidden
