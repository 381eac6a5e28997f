"""C3PO: checkable rules, scoped data written by a (fake) chat model, and the S_in / S_out scores."""

import pytest

from agents.c3po.checks import Check, adherence, checks_from_text, parse_check, repair
from agents.c3po.config import FeedbackConfig
from agents.c3po.evaluate import Judge, Scores, evaluate, score
from agents.c3po.generate import SPLITS, FeedbackData, build_data
from agents.c3po.pipeline import dropped_note
from agents.c3po.prompts import TOPICS, request_prompt
from agents.c3po.scope import assign_scopes, condition_of
from tests.c3po_fakes import PREFIX, KeywordEncoder, ScriptedWriter
from workbench.errors import WorkbenchError

FEEDBACK = f'When bargaining for a bike, begin every reply with "{PREFIX}"'


@pytest.mark.parametrize("text, expected", [
    (FEEDBACK, ["starts_with=As a cyclist,"]),
    ('When bargaining for a car, end every reply with "Drive safe!"', ["ends_with=Drive safe!"]),
    ("Don't use emojis when drafting emails to my boss", ["no_emoji"]),
    ("When the patient is angry, keep replies under two sentences", ["max_sentences=1"]),
    ("Answer in at most 12 words", ["max_words=12"]),
    ('Never mention "discount" to customers', ["excludes=discount"]),
    ("Always reply in Italian when the student asks", ["language=it"]),
    ("Be kinder to my sister", []),
])
def test_rules_are_read_from_the_feedback(text, expected):
    assert [str(c) for c in checks_from_text(text)] == expected


def test_checks_score_and_repair_replies():
    assert Check("max_sentences", 2).passes("One. Two!") and not Check("max_sentences", 2).passes("A. B. C.")
    assert Check("no_emoji").passes("Thanks.") and not Check("no_emoji").passes("Thanks 🎉")
    assert Check("language", "it").passes("Ciao, come stai? Oggi fa molto caldo a Roma.")
    assert not Check("language", "it").passes("Hello, how are you doing today my friend?")
    assert Check("regex", r"\$\d+").passes("I offer $40") and not Check("regex", r"\$\d+").passes("forty")
    rules = [Check("starts_with", "Hi,"), Check("excludes", "cheap"), Check("max_words", 5)]
    fixed = repair(rules, "That is a cheap bike for sure today")
    assert fixed == "Hi, that is a bike" and adherence(rules, fixed) == 1.0
    assert repair([Check("language", "it")], "Hello there my friend") is None  # no edit can translate


@pytest.mark.parametrize("spec, message", [("starts_with", "KIND=VALUE"), ("shout=yes", "KIND=VALUE"),
                                           ("max_words=-3", "positive whole number"),
                                           ("regex=(", "not a valid regular expression")])
def test_bad_rules_are_one_line_errors(spec, message):
    with pytest.raises(WorkbenchError, match=message):
        parse_check(spec)


THRESHOLDS = {"threshold_in": FeedbackConfig.threshold_in, "threshold_out": FeedbackConfig.threshold_out}


def test_encoder_scopes_prompts():
    texts = ["How much for the bike?", "Is the car still for sale?", "What should I cook tonight?", "bike or car?"]
    prompts = [request_prompt(t, str(i)) for i, t in enumerate(texts)]
    counts = assign_scopes(prompts, KeywordEncoder(), ["buying a bike"], ["buying a car"], **THRESHOLDS)
    assert [p.scope for p in prompts] == ["in", "near", "out", "near"]  # a tie is near: the feedback stays off
    assert counts == {"in": 1, "near": 2, "out": 1}
    assert prompts[0].meta["s_in"] == pytest.approx(1.0) and prompts[2].meta["s_in"] < 0.2
    # without near-scope texts: what sits between the thresholds is left out, and near means
    # "another prompt of an environment that has in-scope prompts"
    prompts = [request_prompt(t, str(i), source) for i, (t, source) in enumerate(
        [("the bike", "negotiation"), ("the car", "negotiation"), ("bike or car?", "generic")])]
    counts = assign_scopes(prompts, KeywordEncoder(), ["buying a bike"], [], threshold_in=0.8, threshold_out=0.2)
    assert [p.scope for p in prompts] == ["in", "near", ""] and counts["ambiguous"] == 1
    assert condition_of(FEEDBACK) == "bargaining for a bike"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    config = FeedbackConfig(envs=["negotiation"], train_prompts=6, eval_prompts=3, revisions=1, written_prompts=2,
                            categories=2)
    writer = ScriptedWriter()
    built = build_data(FEEDBACK, checks_from_text(FEEDBACK), config, writer=writer, model=writer,
                       encoder=KeywordEncoder())
    folder = tmp_path_factory.mktemp("c3po") / "data"
    built.save(folder)
    return built, FeedbackData.load(folder)


def test_data_generation_follows_the_paper(data):
    built, loaded = data
    assert built.categories == ["bargaining for a bike", "buying a bike"]  # the condition, then the writer's
    assert built.near_categories == ["buying a car"]
    assert {name: len(loaded.splits[name]) for name in SPLITS} == built.stats["sizes"]
    assert built.stats["sizes"] == {"train_in": 6, "train_near": 6, "train_out": 6, "eval_in": 3, "eval_near": 3,
                                    "eval_out": 3}
    for scope in ("in", "near", "out"):
        train, held = loaded.splits[f"train_{scope}"], loaded.splits[f"eval_{scope}"]
        assert {e.prompt.group for e in train}.isdisjoint({e.prompt.group for e in held})
        assert all(e.prompt.scope == scope for e in train + held)
    assert all("bike" in e.prompt.text.lower() for e in loaded.splits["train_in"] + loaded.splits["eval_in"])
    assert all("bike" not in e.prompt.text.lower() for e in loaded.splits["train_out"])
    assert all(e.baseline == "Sure, I can help." for name in SPLITS for e in loaded.splits[name])
    revisions = built.stats["revisions"]
    assert revisions["writer"] + revisions["repaired"] == 6 and revisions["writer"] >= 1 and revisions["repaired"] >= 1
    # the writer answers each ask the same way twice: every second answer is a repeat and is dropped (one of
    # each category ask, in and near; one per generic topic; one per in-scope and near-scope category)
    assert loaded.stats["dropped"] == {"categories": 2, "requests": len(TOPICS) + 2 + 1}
    assert dropped_note(loaded.stats) == (f"Dropped: 2 proposed categories and {len(TOPICS) + 3} written requests "
                                          "(empty, too short or repeated); 0 of 6 revisions (none usable)")
    for e in loaded.splits["train_in"]:
        assert e.revised.startswith(PREFIX) and e.revision in {"writer", "repaired"}
    assert loaded.splits["train_near"][0].revised == ""  # only in-scope prompts are revised
    assert loaded.checks == [Check("starts_with", PREFIX)]


def test_no_in_scope_prompt_is_a_clear_error():
    writer = ScriptedWriter()
    config = FeedbackConfig(envs=["tutoring"], scope_hint=["buying a bike"], train_prompts=2, eval_prompts=1)
    with pytest.raises(WorkbenchError, match="in-scope prompts were found"):
        build_data("Begin with 'Yo'", [Check("starts_with", "Yo")], config, writer=writer, model=writer,
                   encoder=KeywordEncoder())


def test_scores_measure_adherence_and_overgeneralisation():
    rule = [Check("starts_with", PREFIX)]
    base = ["Sure."] * 4
    assert score(base, [f"{PREFIX} sure."] * 3 + ["Sure."], rule, None, change=False) == [1, 1, 1, 0]
    assert score(base, ["Sure.", "Sure!", f"{PREFIX} sure.", "Sure."], rule, None, change=True) == [0, 0, 1, 0]
    assert score([f"{PREFIX} a"], ["b"], rule, None, change=True) == [1]  # dropping the rule is a change too
    scores = Scores(s_in=0.75, s_out=0.25, s_out_near=0.5, s_out_out=0.0, changed=0.5)
    assert scores.overall == pytest.approx((0.75 + 1 - 0.25) / 2)


def test_judge_scores_feedback_without_rules():
    writer = ScriptedWriter()
    judge = Judge(writer, "Be a cyclist", samples=2)
    base = ["Sure.", "Sure."]
    assert score(base, [f"{PREFIX} sure.", "Sure, fine."], [], judge, change=False) == [1.0, 0.0]
    calls = writer.calls
    assert score(base, ["Sure.", f"{PREFIX} yes."], [], judge, change=True) == [0.0, 1.0]
    assert writer.calls - calls == 4  # two samples each way for the changed reply; none for the unchanged one
    assert score([f"{PREFIX} sure."], ["Sure."], [], judge, change=True) == [1.0]  # following it less is a change
    assert score(base, base, [], judge, change=False) == [0.0, 0.0]  # an unchanged reply does not follow it more


def test_evaluate_base_model_has_no_overgeneralisation(data):
    _, loaded = data
    writer = ScriptedWriter()
    table = evaluate(writer, loaded, {"base": {}, "in-context": {"note": "Follow it"}}, judge=None, max_tokens=8)
    assert table["base"]["S_out"] == 0.0 and table["base"]["S_in"] == 0.0 and table["base"]["changed"] == 0.0
    assert table["base"]["S_overall"] == 0.5


@pytest.mark.slow
def test_embedded_encoder_scopes_the_real_pool():
    """MiniLM on the negotiation contexts: bike dialogues are in scope, other items near, others out."""
    from agents.c3po.prompts import env_prompts
    from workbench.llm.embedded import SentenceEncoder
    from workbench.registry import env_class

    items = {c.id: c.fields["item_name"] for c in env_class("negotiation").cases()}
    prompts = env_prompts(["negotiation", "emotional_support"])
    assign_scopes(prompts, SentenceEncoder(), ["bargaining to buy a bike"],
                  ["bargaining to buy a car", "bargaining to buy furniture", "bargaining to buy a phone or electronics",
                   "bargaining to rent an apartment"], **THRESHOLDS)
    scoped = [p for p in prompts if p.scope == "in"]
    bikes = [p for p in prompts if items.get(p.group) == "bike"]
    assert len(scoped) >= 40 and sum(items.get(p.group) == "bike" for p in scoped) / len(scoped) > 0.9
    assert sum(p.scope == "in" for p in bikes) / len(bikes) > 0.8
    others = [p for p in prompts if p.source == "negotiation" and items[p.group] != "bike"]
    assert sum(p.scope == "near" for p in others) / len(others) > 0.8
    support = [p for p in prompts if p.source == "emotional_support"]
    assert not any(p.scope == "in" for p in support)  # a patient may mention a car or a flat: near at most
    assert sum(p.scope == "out" for p in support) / len(support) > 0.9
