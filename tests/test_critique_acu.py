"""ACU critiques: their text form, robust parsing of model text (malformed, partial, extra text), merging and MARV
pairs."""

from __future__ import annotations

import pytest

from workbench.critique.acu import ACU, Critique, format_critique, parse_critique
from workbench.critique.marv import Validated, marv_pairs
from workbench.critique.merge import Rating, merge_critiques
from workbench.critique.prompts import parse_meta

CRITERIA = ["lowball", "rude-language", "premature-acceptance"]


def test_a_formatted_critique_parses_back_unchanged():
    critique = Critique([ACU(2, "lowball", 8, "offered $5", "justify a price"), ACU(4, "rude-language", 3, "", "")],
                        "failure", 4.0)
    back = parse_critique(format_critique(critique), CRITERIA, 5)
    assert (back.acus, back.verdict, back.score) == (critique.acus, "failure", 4.0)
    assert back.info == {"dropped": 0, "partial": 0, "acus": 2, "no_verdict": False, "no_score": False,
                         "failed": False}


def test_extra_text_other_spellings_and_order_are_read():
    text = ("Sure! Here is my critique of the buyer.\n**Score**: 7/10\n"
            "- ACU 1: Turn #3 (Premature_Acceptance, severity: 9) flaw: took the first price | suggestion: counter\n"
            "The verdict: SUCCESSFUL, mostly.\nThanks for reading.")
    critique = parse_critique(text, CRITERIA, 4)
    assert critique.acus == [ACU(3, "premature-acceptance", 9, "took the first price", "counter")]
    assert (critique.verdict, critique.score) == ("success", 7.0)


def test_partial_acus_count_and_take_the_default_severity():
    critique = parse_critique("ACU: turn 1 | lowball | flaw: too low", CRITERIA, 2)
    assert critique.acus == [ACU(1, "lowball", 5, "too low", "")]
    assert critique.info["partial"] == 1 and critique.info["no_verdict"] and critique.info["no_score"]


@pytest.mark.parametrize("line", [
    "ACU: turn 9 | lowball | severity 3",          # no such agent turn
    "ACU: turn 0 | lowball | severity 3",
    "ACU: turn 2 | shouting | severity 3",         # no such criterion
    "ACU: lowball | severity 3",                   # no location
])
def test_malformed_acus_are_dropped_and_counted(line):
    critique = parse_critique(f"Verdict: failure\n{line}", CRITERIA, 4)
    assert critique.acus == [] and critique.info["dropped"] == 1 and not critique.failed


def test_nothing_usable_is_a_failed_critique_and_duplicates_count_once():
    assert parse_critique("I think the buyer did fine overall.", CRITERIA, 3).failed
    assert parse_critique("", CRITERIA, 3).failed
    twice = parse_critique("ACU: turn 1 | lowball | severity 2\nACU: turn 1 | lowball | severity 9", CRITERIA, 3)
    assert twice.acus == [ACU(1, "lowball", 2)]


def test_the_most_severe_acu_is_the_first_written_among_equals():
    critique = Critique([ACU(1, "lowball", 4), ACU(3, "rude-language", 8), ACU(2, "lowball", 8)])
    assert critique.top() == ACU(3, "rude-language", 8)
    assert Critique().top() is None


def test_meta_critic_answers_parse():
    assert parse_meta("yes 7") == (True, 7)
    assert parse_meta("No, importance 2.") == (False, 2)
    assert parse_meta("Correct") == (True, None)
    assert parse_meta("I'm not sure") is None


def test_merging_keeps_what_the_meta_critic_rates_correct_by_importance_then_agreement():
    a = Critique([ACU(2, "lowball", 6, "too low"), ACU(4, "rude-language", 9, "insult")], "failure", 3.0)
    b = Critique([ACU(2, "lowball", 8, ""), ACU(1, "premature-acceptance", 2, "early")], "failure", 5.0)
    c = Critique([ACU(3, "rude-language", 4, "x"), ACU(1, "premature-acceptance", 4, "")], "success", 4.0)
    ratings = [[Rating(True, 7), Rating(False, 9)],        # the insult ACU is rejected
               [Rating(True, 9), None],                    # lowball: importance median of 7 and 9
               [None, None]]                               # turn 3 found once, unrated: dropped
    merged = merge_critiques([a, b, c], ratings)
    # premature-acceptance at turn 1: two critics, no parsable rating: kept on agreement, severity median(2, 4)
    assert merged.acus == [ACU(2, "lowball", 8, "too low"), ACU(1, "premature-acceptance", 3, "early")]
    assert (merged.verdict, merged.score) == ("failure", 4.0)
    assert merged.info == {"critics": 3, "proposed": 6, "clusters": 4, "kept": 2, "unrated": 1}
    assert merge_critiques([a, b, c], ratings, max_acus=1).acus == [ACU(2, "lowball", 8, "too low")]
    known = merge_critiques([a], [[Rating(False), Rating(False)]], verdict="ongoing", score=9.0)
    assert (known.acus, known.verdict, known.score) == ([], "ongoing", 9.0)


def test_marv_keeps_a_pair_only_when_the_chosen_critiques_revisions_score_higher_on_average():
    group = Validated("P", ["good", "bad", "even", "unvalidated"],
                      [[1.0, 0.2], [0.4, 0.4], [0.6, 0.6], []])
    pairs = marv_pairs([group])
    # means: good 0.6, bad 0.4, even 0.6: good and even tie (no pair); the unvalidated critique never pairs
    assert pairs == [{"prompt": "P", "chosen": "good", "rejected": "bad"},
                     {"prompt": "P", "chosen": "even", "rejected": "bad"}]
    assert marv_pairs([group], margin=0.25) == []
    assert marv_pairs([group], max_pairs=1) == pairs[:1]
    assert marv_pairs([Validated("Q", ["same", "same"], [[1.0], [0.0]])]) == []
