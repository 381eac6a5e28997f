"""HotpotQA's answer normalisation, exact match and F1 (the official rules) on hand-checked cases, and the local
document store's Search and Lookup."""

import pytest

from simulators.hotpotqa.answers import exact_match, f1, normalize_answer
from simulators.hotpotqa.docstore import DocStore


@pytest.mark.parametrize("text, normal", [
    ("The  Eiffel Tower!", "eiffel tower"),
    ("an Apple a day", "apple day"),
    ("U.S.A.", "usa"),
    ("  Yes. ", "yes"),
    ("Theater", "theater"),  # "the" only as a word
])
def test_normalize_answer(text, normal):
    assert normalize_answer(text) == normal


@pytest.mark.parametrize("prediction, truth, em, score", [
    ("the Eiffel Tower", "Eiffel Tower.", True, 1.0),
    ("Eiffel Tower in Paris", "the Eiffel Tower", False, 2 * 0.5 * 1.0 / 1.5),  # precision 2/4, recall 2/2
    ("Paris", "Eiffel Tower", False, 0.0),
    ("yes", "no", False, 0.0),
    ("no", "No.", True, 1.0),
    ("yes it is", "yes", False, 0.0),  # a yes/no answer scores only when equal
    ("1995 film", "1995", False, 2 * 0.5 * 1.0 / 1.5),
])
def test_exact_match_and_f1(prediction, truth, em, score):
    assert exact_match(prediction, truth) is em
    assert f1(prediction, truth) == pytest.approx(score)


def store():
    return DocStore(["Alpha Band", "Beta City"],
                    [["Alpha Band is a rock band.", "It formed in 1990.", "The band toured Beta City in 1995.",
                      "Its singer left in 1995."],
                     ["Beta City is a port.", "It has a river."]])


def test_search_finds_the_title_then_the_most_shared_words_and_lists_titles_when_nothing_matches():
    docs = store()
    assert docs.search("beta city") == "Beta City is a port. It has a river."
    assert docs.search("the alpha").startswith("Alpha Band is a rock band.")
    assert docs.search("river port") == "Beta City is a port. It has a river."  # by the text, not the title
    assert docs.search("Gamma") == "Could not find [Gamma]. Similar: ['Alpha Band', 'Beta City']."


def test_lookup_walks_the_matching_sentences_of_the_current_page():
    docs = store()
    assert docs.lookup("1995") == "No page to look up in: Search[entity] first."
    docs.search("Alpha Band")
    assert docs.lookup("1995") == "(Result 1 / 2) The band toured Beta City in 1995."
    assert docs.lookup("1995") == "(Result 2 / 2) Its singer left in 1995."
    assert docs.lookup("1995") == "No more results."
    assert docs.lookup("ROCK") == "(Result 1 / 1) Alpha Band is a rock band."  # a new keyword starts again
