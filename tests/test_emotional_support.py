"""The emotional-support environment: cases, scripted patient, template therapist, prompts, critic parsing, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from simulators.emotional_support import EmotionalSupportEnv
from simulators.emotional_support.cases import initial_distress
from simulators.emotional_support.patient import SOLVED_DISTRESS, classify
from simulators.emotional_support.templates import THERAPIST
from workbench.critics import GroundTruthCritic
from workbench.env import DialogueState
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from tests.helpers import play

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAMES = ["Question", "Self-disclosure", "Affirmation and Reassurance", "Providing Suggestions", "Others",
         "Reflection of feelings", "Information", "Restatement or Paraphrasing"]
Q, RESTATE, REFLECT, AFFIRM, SUGGEST = ("Question", "Restatement or Paraphrasing", "Reflection of feelings",
                                        "Affirmation and Reassurance", "Providing Suggestions")


@pytest.fixture
def esc_file() -> Path:
    path = DATA / "ppdpp" / "esc-valid.jsonl"
    assert path.is_file(), f"shared data missing at {path}"
    return path


@pytest.fixture
def esconv_file() -> Path:
    path = DATA / "esconv" / "FailedESConv.json"
    assert path.is_file(), f"shared data missing at {path}"
    return path


def make_env(max_turns: int | None = None) -> EmotionalSupportEnv:
    return EmotionalSupportEnv(EmotionalSupportEnv.scripted_simulator(),
                               GroundTruthCritic(EmotionalSupportEnv.ground_truth), max_turns=max_turns)


def hand_case(distress: float = 7.0) -> Case:
    fields = {"emotion_type": "anxiety", "problem_type": "job crisis", "situation": "I lost my job and I panic.",
              "dialog": [], "turns": []}
    return Case(id="hand:1", env="emotional_support", fields=fields, hidden={"distress": distress})


def say(env, state: DialogueState, strategy: str | None, text: str | None = None) -> Turn:
    """One therapist turn (the template line for ``strategy`` unless ``text``); returns the patient's reply."""
    text = text if text is not None else env.realise(state, env.strategy(strategy))
    env.advance([state], [Turn(role="Therapist", text=text, strategy=strategy)])
    return state.turns[-1]


def open_up(env, state) -> None:
    """Explore until the patient discloses (alternating questions and restatements)."""
    for i in range(6):
        if state.hidden["disclosed"]:
            return
        say(env, state, Q if i % 2 == 0 else RESTATE)
    raise AssertionError("the patient never opened up")


# -- policies over the template therapist ------------------------------------------------------------
AFTER_DISCLOSURE = (REFLECT, AFFIRM, SUGGEST, RESTATE, "Information", AFFIRM, SUGGEST)


def fixed(name):
    return lambda state, rng: name


def uniform(state, rng):
    return rng.choice(NAMES)


def adaptive(state, rng):
    """Explore (questions and restatements) until the patient opens up, then reflect, affirm, suggest."""
    replies = [t for t in state.turns[state.opening:] if t.role == "Patient"]
    if not replies or not replies[-1].info.get("disclosed"):
        return RESTATE if replies and replies[-1].info.get("read_as") == Q else Q
    after = sum(bool(r.info.get("disclosed")) for r in replies) - 1
    return AFTER_DISCLOSURE[min(after, len(AFTER_DISCLOSURE) - 1)]


# -- declaration ------------------------------------------------------------------------------------
def test_declaration():
    E = EmotionalSupportEnv
    assert E.name == "emotional_support"
    assert (E.agent_role, E.user_role) == ("Therapist", "Patient")
    assert [s.name for s in E.strategies] == NAMES
    assert all(s.instruction.startswith("Please ") and s.instruction.endswith(".") for s in E.strategies)
    assert len({s.instruction for s in E.strategies}) == 8
    assert E.strategy(Q).instruction == "Please ask the Patient to elaborate on the situation they just described."
    assert (E.simulator_names, E.metric_names, E.default_max_turns) == (("scripted", "llm"), ("SR", "AT"), 8)
    with pytest.raises(WorkbenchError, match="unknown strategy 'Hug'"):
        E.strategy("Hug")


# -- cases ------------------------------------------------------------------------------------------
def test_loads_ppdpp_cases(esc_file):
    cases = EmotionalSupportEnv.cases(esc_file)
    assert len(cases) == 130
    assert [c.id for c in cases[:2]] == ["esc-valid:1", "esc-valid:2"] and cases[-1].id == "esc-valid:130"
    first = cases[0]
    assert (first.env, first.fields["emotion_type"], first.fields["problem_type"]) == (
        "emotional_support", "depression", "academic pressure")
    assert first.fields["turns"][:2] == [
        {"role": "Therapist", "text": "Hi, what I can help you with today?", "strategy": "Question"},
        {"role": "Patient", "text": "Hi", "strategy": None}]
    strategies = {t["strategy"] for c in cases for t in c.fields["turns"] if t["role"] == "Therapist"}
    assert strategies <= set(NAMES) | {None}
    for c in cases:
        assert 0 <= c.hidden["distress"] <= 10
        assert c.hidden["distress"] == initial_distress(c.id, c.fields["emotion_type"])
    assert len({c.hidden["distress"] for c in cases}) > 15
    assert [c.hidden for c in EmotionalSupportEnv.cases()] == [c.hidden for c in cases]  # default source, stable


def test_loads_raw_esconv(esconv_file):
    cases = EmotionalSupportEnv.cases(esconv_file)
    assert len(cases) == 196  # every item of FailedESConv.json parses
    assert cases[0].id == "FailedESConv:1" and cases[0].fields["item"] == 1
    turns = cases[0].fields["turns"]
    assert turns[0] == {"role": "Patient", "text": "Hey there", "strategy": None}
    assert turns[2] == {"role": "Therapist", "text": "hi", "strategy": "Others"}  # raw "Other"
    labels = {t["strategy"] for c in cases for t in c.fields["turns"] if t["role"] == "Therapist"}
    assert labels <= set(NAMES) | {None} and Q in labels  # raw "Questions", "Direct Guidance", ... mapped


def test_raw_esconv_seeker_supporter_convention(tmp_path: Path):
    item = {"experience_type": "Current Experience", "emotion_type": "sadness", "problem_type": "breakup with partner",
            "situation": "My partner left.", "survey_score": {},
            "dialog": [{"speaker": "seeker", "annotation": {}, "content": "I feel sad.\n"},
                       {"speaker": "supporter", "annotation": {"strategy": "Questions"}, "content": "Why?"},
                       {"speaker": "supporter", "annotation": {"strategy": "Direct Guidance"}, "content": "Walk."}]}
    path = tmp_path / "ESConv.json"
    path.write_text(json.dumps([item, item]))
    cases = EmotionalSupportEnv.cases(path)
    assert [c.id for c in cases] == ["ESConv:1", "ESConv:2"]
    assert cases[0].fields["turns"] == [{"role": "Patient", "text": "I feel sad.", "strategy": None},
                                        {"role": "Therapist", "text": "Why?", "strategy": "Question"},
                                        {"role": "Therapist", "text": "Walk.", "strategy": "Providing Suggestions"}]
    bad = dict(item, dialog=[{"speaker": "bot", "annotation": {}, "content": "hi"}])
    path.write_text(json.dumps([item, bad]))
    with pytest.raises(WorkbenchError, match=r"ESConv.json: item 2: dialog turn 0 has speaker 'bot'"):
        EmotionalSupportEnv.cases(path)
    path.write_text(json.dumps([{k: v for k, v in item.items() if k != "situation"}]))
    with pytest.raises(WorkbenchError, match=r"item 1: missing field 'situation'"):
        EmotionalSupportEnv.cases(path)
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(WorkbenchError, match="expected a JSON list"):
        EmotionalSupportEnv.cases(path)


GOOD = {"emotion_type": "anxiety", "problem_type": "job crisis", "situation": "I lost my job.",
        "dialog": [{"speaker": "sys", "text": "Hi", "strategy": "Question"}, {"speaker": "usr", "text": "Hello"}]}


@pytest.mark.parametrize("bad, problem", [
    ("{not json", "malformed JSON"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "situation"}), "missing field 'situation'"),
    (json.dumps(dict(GOOD, emotion_type=3)), "'emotion_type'"),
    (json.dumps(dict(GOOD, dialog="hi")), "'dialog'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "bot", "text": "hi"}])), "speaker 'bot'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "sys"}])), "missing field 'text'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "sys", "text": "hi", "strategy": "Hugging"}])), "unknown strategy 'Hugging'"),
    ("[1, 2]", "expected a JSON object"),
])
def test_malformed_row_names_file_and_line(tmp_path: Path, bad, problem):
    path = tmp_path / "esc-bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n")
    with pytest.raises(WorkbenchError) as err:
        EmotionalSupportEnv.cases(path)
    assert f"{path}:3" in str(err.value) and problem in str(err.value)


def test_missing_file_and_unknown_suffix(tmp_path: Path):
    for name in ("nope.jsonl", "nope.json"):
        with pytest.raises(WorkbenchError, match="not found"):
            EmotionalSupportEnv.cases(tmp_path / name)
    with pytest.raises(WorkbenchError, match="expected a .jsonl"):
        EmotionalSupportEnv.cases(tmp_path / "cases.csv")


# -- opening, outcome, metrics ---------------------------------------------------------------------
def test_opening_is_the_patients_situation(esc_file):
    env = make_env()
    case = EmotionalSupportEnv.cases(esc_file)[0]
    state = env.begin(case, seed=0)
    assert [(t.role, t.text) for t in state.turns] == [("Patient", case.fields["situation"])]
    assert state.opening == 1 and state.agent_turns == 0
    obs, info = env.reset(case, seed=0)
    assert obs == case.fields["situation"] and info["state"].hidden["distress"] == case.hidden["distress"]


def test_outcome_metrics_and_truncation():
    env = make_env(max_turns=3)
    state = env.begin(hand_case(), seed=0)
    assert env.outcome(state) == {"success": False, "reward": None, "turns": 0}
    for _ in range(3):
        assert not state.truncated
        say(env, state, "Others")
    assert state.truncated and not state.done and state.rewards == [-0.5] * 3
    assert env.outcome(state) == {"success": False, "reward": -0.5, "turns": 3}
    with pytest.raises(WorkbenchError, match="finished"):
        say(env, state, Q)

    def ep(success, turns):
        return Episode(id="e", env="emotional_support", case=hand_case(), turns=[],
                       outcome={"success": success, "turns": turns})

    assert EmotionalSupportEnv.metrics([ep(True, 3), ep(True, 5), ep(False, 8), ep(False, 8)]) == {
        "SR": 0.5, "AT": 6.0}
    assert EmotionalSupportEnv.metrics([]) == {"SR": 0.0, "AT": 0.0}


# -- scripted patient ---------------------------------------------------------------------------------
@pytest.mark.parametrize("advice", [SUGGEST, "Information"])
def test_advice_before_exploring_raises_distress(advice):
    env = make_env()
    state = env.begin(hand_case(), seed=1)
    before = state.hidden["distress"]
    reply = say(env, state, advice)
    assert state.hidden["distress"] > before and reply.info["stance"] == "resisting"
    assert state.rewards == [-1.0] and not state.hidden["plan"]
    # and it closes the patient up: exploring takes longer afterwards
    fresh = env.begin(hand_case(), seed=1)
    assert state.hidden["openness"] < fresh.hidden["openness"]


def test_reflection_after_disclosure_lowers_distress_and_enables_advice():
    env = make_env()
    early = env.begin(hand_case(), seed=2)
    d0 = early.hidden["distress"]
    say(env, early, REFLECT)
    assert d0 - early.hidden["distress"] == pytest.approx(0.2)  # feelings not known yet: small effect
    state = env.begin(hand_case(), seed=2)
    open_up(env, state)
    assert "real problem" in state.turns[-1].text or "haven't told anyone" in state.turns[-1].text
    before = state.hidden["distress"]
    reply = say(env, state, REFLECT)
    assert before - state.hidden["distress"] == pytest.approx(1.5) and reply.info["stance"] == "better"
    assert state.rewards[-1] == 0.5 and not state.done
    say(env, state, SUGGEST)
    assert state.hidden["plan"]


def test_patient_asks_what_to_do_once_it_feels_understood():
    env = make_env()
    state = env.begin(hand_case(), seed=2)
    open_up(env, state)
    cue = ("what to do", "What can I even do")
    assert not any(c in t.text for t in state.turns for c in cue)  # not before it trusts the therapist
    reply = say(env, state, REFLECT)
    assert state.hidden["trust"] >= 1 and any(c in reply.text for c in cue)
    say(env, state, SUGGEST)
    assert state.hidden["plan"] and not any(c in state.turns[-1].text for c in cue)


def test_advice_without_feeling_understood_backfires_and_questions_annoy():
    env = make_env()
    state = env.begin(hand_case(), seed=4)
    open_up(env, state)
    reply = say(env, state, SUGGEST)
    assert reply.info["stance"] == "unheard" and state.rewards[-1] == -1.0 and not state.hidden["plan"]
    nag = env.begin(hand_case(), seed=4)
    stances = [say(env, nag, Q).info["stance"] for _ in range(4)]
    assert stances[-1] == "annoyed" and nag.rewards[-1] == -1.0


def test_solved_needs_low_distress_and_a_plan():
    env = make_env()
    state = env.begin(hand_case(distress=5.0), seed=0)
    open_up(env, state)
    for s in (REFLECT, AFFIRM, RESTATE, REFLECT):
        say(env, state, s)
    assert state.hidden["distress"] <= SOLVED_DISTRESS and not state.done  # better, but no way forward yet
    reply = say(env, state, SUGGEST)
    assert state.done and state.verdicts[-1].success and state.rewards[-1] == 1.0
    assert reply.info["stance"] == "solved" and env.outcome(state)["success"]


def test_unlabelled_or_unknown_strategy_reads_the_text():
    env = make_env()
    for name in NAMES:
        for line in THERAPIST[name]:
            assert classify(line.format(problem="job crisis", emotion="anxiety")) == name, line
    assert classify("hmm okay") == "Others" and classify("What happened then?") == Q
    labelled = env.begin(hand_case(), seed=3)
    say(env, labelled, SUGGEST, "Maybe you could try going for a walk.")
    for strategy in (None, "bogus"):
        state = env.begin(hand_case(), seed=3)
        reply = say(env, state, strategy, "Maybe you could try going for a walk.")
        assert reply.info["read_as"] == SUGGEST and state.hidden == labelled.hidden
    state = env.begin(hand_case(), seed=3)
    assert say(env, state, "Questions", "Why?").info["read_as"] == Q  # ESConv alias


# -- the point of the dynamics ------------------------------------------------------------------------
def test_no_fixed_strategy_and_no_random_policy_is_optimal(esc_file):
    env = make_env()
    cases = EmotionalSupportEnv.cases(esc_file)
    best_episodes = play(env, cases, adaptive)
    best = EmotionalSupportEnv.metrics(best_episodes)
    best_return = sum(e.total_reward for e in best_episodes) / len(cases)
    assert best["SR"] >= 0.9 and best["AT"] <= 7
    for name, policy in [*((n, fixed(n)) for n in NAMES), ("random", uniform)]:
        episodes = play(env, cases, policy)
        m = EmotionalSupportEnv.metrics(episodes)
        assert m["SR"] <= best["SR"] - 0.3, name
        # the return (what RL maximises) agrees: no fixed comfort collects "better" turn after turn
        assert sum(e.total_reward for e in episodes) / len(cases) < best_return - 1.0, name
    # the patient reads unlabelled template lines the same way
    assert EmotionalSupportEnv.metrics(play(env, cases, adaptive, label=False)) == best


def test_rollouts_are_deterministic_under_a_seed(esc_file):
    env = make_env()
    cases = EmotionalSupportEnv.cases(esc_file)[:30]

    def trace(seed):
        return [[(t.role, t.text, t.strategy, t.reward) for t in e.turns] for e in play(env, cases, uniform, seed)]

    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


# -- LLM prompts and critic ------------------------------------------------------------------------
def test_user_prompt_is_the_patients_roleplay(esc_file):
    env = make_env()
    case = EmotionalSupportEnv.cases(esc_file)[0]
    state = env.begin(case, seed=0)
    say(env, state, Q)
    messages = EmotionalSupportEnv.user_prompt(state)
    system = messages[0].content
    assert isinstance(messages[0], SystemMessage)
    assert "Patient" in system and "depression" in system and "academic pressure" in system
    assert case.fields["situation"][:40] in system and "one short" in system
    assert str(case.hidden["distress"]) not in system
    assert [(type(m), m.name, m.content) for m in messages[1:]] == [
        (AIMessage if t.role == "Patient" else HumanMessage, t.role, t.text) for t in state.turns]


def test_agent_prompt_carries_the_strategy_instruction(esc_file):
    env = make_env()
    state = env.begin(EmotionalSupportEnv.cases(esc_file)[0], seed=0)
    reflect = env.strategy(REFLECT)
    messages = EmotionalSupportEnv.agent_prompt(state, reflect)
    system = messages[0].content
    assert "Therapist" in system and system.endswith(f"Now: {reflect.instruction}")
    assert [(type(m), m.name) for m in messages[1:]] == [(HumanMessage, "Patient")]
    assert "Now:" not in EmotionalSupportEnv.agent_prompt(state, None)[0].content


def test_critic_prompt_has_fixed_answers_and_few_shots(esc_file):
    env = make_env()
    state = env.begin(EmotionalSupportEnv.cases(esc_file)[0], seed=0)
    say(env, state, Q)
    messages = EmotionalSupportEnv.critic_prompt(state)
    assert isinstance(messages[0], SystemMessage)
    for answer in ("The patient feels worse.", "The patient feels the same.", "The patient feels better.",
                   "The patient's issue has been solved."):
        assert answer in messages[0].content
    shots = [m.content for m in messages if isinstance(m, AIMessage)]
    assert [EmotionalSupportEnv.parse_verdict(a) for a in shots] == [-1.0, 0.5]
    last = messages[-1]
    assert isinstance(last, HumanMessage) and last.content.startswith(state.history())
    assert last.content.endswith("Has the Patient's issue been solved?")


@pytest.mark.parametrize("text, parsed", [
    ("The patient feels worse.", -1.0),
    ("The patient feels the same.", -0.5),
    ("The patient feels better.", 0.5),
    ("The patient's issue has been solved.", 1.0),
    ("  the PATIENT feels BETTER now", 0.5),
    ("Yes, the patient\u2019s issue has been resolved.", 1.0),
    ("The patient feels better, but the issue is not solved.", 0.5),
    ("No, the patient feels no better.", -0.5),
    ("The patient's issue has not been solved.", None),
    ("The therapist is kind.", None),
    ("", None),
])
def test_parse_verdict(text, parsed):
    assert EmotionalSupportEnv.parse_verdict(text) == parsed


@pytest.mark.parametrize("parsed, reward, success", [
    ([1.0, 1.0, 0.5], pytest.approx(2.5 / 3), True),
    ([1.0, 0.5, 0.5, -0.5], 0.375, False),
    ([0.5, 0.5], 0.5, False),  # unanimous "better" is not a success (> 0.5 needed)
    ([1.0, 0.5, 0.5, 0.5], 0.625, True),
    ([-1.0, -0.5], -0.75, False),
    ([], -0.5, False),  # nothing parsed: "feels the same"
])
def test_aggregate_verdicts(parsed, reward, success):
    state = make_env().begin(hand_case(), seed=0)
    v = EmotionalSupportEnv.aggregate_verdicts(state, parsed)
    assert (v.reward, v.done, v.success) == (reward, success, success)


def test_unparsable_samples_are_ignored():
    state = make_env().begin(hand_case(), seed=0)
    raw = ["The patient's issue has been solved.", "gibberish", "The patient feels better.", "",
           "The patient's issue has been solved."]
    parsed = [p for p in map(EmotionalSupportEnv.parse_verdict, raw) if p is not None]
    assert parsed == [1.0, 0.5, 1.0]
    v = EmotionalSupportEnv.aggregate_verdicts(state, parsed)
    assert v.reward == pytest.approx(2.5 / 3) and v.success
