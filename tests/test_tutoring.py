"""The tutoring environment (CIMA): cases, scripted student, template teacher, prompts, critic parsing, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from simulators.tutoring import TutoringEnv
from simulators.tutoring.cases import split_units
from simulators.tutoring.templates import classify
from workbench.critics import GroundTruthCritic
from workbench.env import DialogueState
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from tests.helpers import play

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ppdpp"
NAMES = ["Hint", "Question", "Correction", "Confirmation", "Others"]


def make_env(max_turns: int | None = None) -> TutoringEnv:
    return TutoringEnv(TutoringEnv.scripted_simulator(), GroundTruthCritic(TutoringEnv.ground_truth),
                       max_turns=max_turns)


def hand_case(knowledge=("known", "unknown", "wrong"), wrong=(None, None, "rosso")) -> Case:
    sentence, target = "is behind the green dog", "e dietro il cane verde"
    fields = {"sentence": sentence, "target": target, "dialog": [], "strategy": "Hint", "turns": [],
              "units": split_units(sentence, target)}
    return Case(id="hand:1", env="tutoring", fields=fields,
                hidden={"units": fields["units"], "knowledge": list(knowledge), "wrong": list(wrong)})


def say(env: TutoringEnv, state: DialogueState, text: str, strategy: str | None) -> Turn:
    env.advance([state], [Turn(role="Teacher", text=text, strategy=strategy)])
    return state.turns[-1]


def adaptive(state, rng):
    """Ask for an attempt, correct a misconception right after it shows, hint missing units, confirm."""
    info = state.turns[-1].info
    if info.get("attempt"):
        units = info["units"]
        return "Correction" if "wrong" in units else "Hint" if "missing" in units else "Confirmation"
    if state.agent_turns and state.turns[-2].strategy == "Question":
        return "Hint"  # the student could not even try
    return "Question"


# -- declaration and cases ------------------------------------------------------------------------
def test_declaration():
    assert (TutoringEnv.name, TutoringEnv.agent_role, TutoringEnv.user_role) == ("tutoring", "Teacher", "Student")
    assert [s.name for s in TutoringEnv.strategies] == NAMES
    assert all(s.instruction.startswith("Please ") and s.instruction.endswith(".") for s in TutoringEnv.strategies)
    assert TutoringEnv.strategy("Hint").instruction == "Please provide knowledge to the Student via a hint."
    assert TutoringEnv.simulator_names == ("scripted", "llm") and TutoringEnv.metric_names == ("SR", "AT")
    assert TutoringEnv.default_max_turns == 8 and make_env().max_turns == 8
    with pytest.raises(WorkbenchError, match="unknown strategy 'Lecture'"):
        TutoringEnv.strategy("Lecture")


def test_loads_all_shared_cases():
    valid, train = TutoringEnv.cases(), TutoringEnv.cases(DATA / "cima-train.jsonl")
    assert (len(valid), len(train)) == (113, 909)
    assert [c.id for c in valid[:2]] == ["cima-valid:1", "cima-valid:2"] and train[-1].id == "cima-train:909"
    first = valid[0]
    assert (first.fields["sentence"], first.fields["target"]) == ("is in front of the pink box",
                                                                   "e di fronte alla scatola rosa")
    assert first.fields["strategy"] == "Confirmation"  # the human teacher's next move, for planner SFT
    assert first.fields["turns"][0] == {"role": "Teacher",
                                        "text": "Please translate \"is in front of the pink box\" into Italian."}
    assert first.fields["units"] == [{"kind": "phrase", "en": "is in front of the", "it": "e di fronte alla"},
                                     {"kind": "object", "en": "box", "it": "scatola"},
                                     {"kind": "colour", "en": "pink", "it": "rosa"}]
    assert all(len(c.fields["units"]) == 3 for c in valid + train)  # every CIMA row fits the pattern
    assert split_units("is behind the pink tree", "e dietro l'albero rosa")[:2] == [
        {"kind": "phrase", "en": "is behind the", "it": "e dietro l'"}, {"kind": "object", "en": "tree", "it": "albero"}]
    knowledge = [k for c in valid for k in c.hidden["knowledge"]]
    assert {"known", "unknown", "wrong"} == set(knowledge)
    assert 0.3 <= knowledge.count("known") / len(knowledge) <= 0.5
    assert [c.hidden for c in TutoringEnv.cases()] == [c.hidden for c in valid]  # stable per case id


GOOD = {"sentence": "is under the red bed", "target": "e sotto il letto rosso",
        "dialog": [{"speaker": "sys", "text": "Please translate \"is under the red bed\" into Italian."}],
        "strategy": "Hint"}


@pytest.mark.parametrize("bad, problem", [
    ("{not json", "malformed JSON"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "target"}), "missing field 'target'"),
    (json.dumps(dict(GOOD, sentence=3)), "'sentence'"),
    (json.dumps(dict(GOOD, target="  ")), "'target' is empty"),
    (json.dumps(dict(GOOD, strategy="Lecture")), "unknown strategy 'Lecture'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "bot", "text": "hi"}])), "speaker 'bot'"),
    (json.dumps(dict(GOOD, dialog=[{"speaker": "usr"}])), "missing field 'text'"),
    (json.dumps(dict(GOOD, dialog=["hi"])), "dialog turn 0 is not an object"),
    ("[1, 2]", "expected a JSON object"),
])
def test_malformed_row_names_file_and_line(tmp_path: Path, bad, problem):
    path = tmp_path / "cima-bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n")
    with pytest.raises(WorkbenchError) as err:
        TutoringEnv.cases(path)
    assert f"{path}:3" in str(err.value) and problem in str(err.value)


# -- opening, outcome, metrics -----------------------------------------------------------------------
def test_opening_from_the_data_or_templated():
    env = make_env()
    state = env.begin(TutoringEnv.cases()[0], seed=0)
    assert [(t.role, t.text) for t in state.turns] == [
        ("Teacher", "Please translate \"is in front of the pink box\" into Italian."),
        ("Student", "Oh. That should be no problem! ")]
    assert state.opening == 2 and state.agent_turns == 0
    bare = env.begin(hand_case(), seed=0)
    assert [t.text for t in bare.turns] == ["Please translate \"is behind the green dog\" into Italian.",
                                            "How do I say \"is behind the green dog\" in Italian?"]


def test_outcome_and_metrics():
    env = make_env()
    state = env.begin(hand_case(knowledge=("known",) * 3, wrong=(None,) * 3), seed=0)
    assert env.outcome(state) == {"success": False, "reward": 0.0}
    reply = say(env, state, "Can you give me your best guess?", "Question")
    assert reply.text.count("e dietro il cane verde") == 1 and state.done
    assert env.finish(state).outcome == {"turns": 1, "success": True, "reward": 1.0}

    def ep(success, turns):
        return Episode(id="e", env="tutoring", case=hand_case(), turns=[], outcome={"success": success, "turns": turns})

    assert TutoringEnv.metrics([ep(True, 3), ep(False, 8), ep(True, 4), ep(False, 1)]) == {"SR": 0.5, "AT": 4.0}
    assert TutoringEnv.metrics([]) == {"SR": 0.0, "AT": 0.0}


# -- scripted student ------------------------------------------------------------------------------
def test_attempt_levels_and_a_hint_teaches_a_word():
    env = make_env()
    state = env.begin(hand_case(knowledge=("known", "unknown", "known"), wrong=(None,) * 3), seed=0)
    state.hidden["lr"] = 0.7  # just attempted: 0.7 + 0.3 = 1
    reply = say(env, state, "Why don't you give it a try?", "Question")
    assert reply.info["units"] == ["correct", "missing", "correct"] and "dog" in reply.text
    assert state.verdicts[-1].info["level"] == "part" and state.rewards == [0.5]
    reply = say(env, state, "Remember that \"dog\" is \"cane\".", "Hint")
    assert not reply.info["attempt"] and state.rewards[-1] == -0.5 and "cane" in reply.text
    assert state.hidden["knowledge"] == ["known", "shaky", "known"]
    reply = say(env, state, "Can you give me your best guess?", "Question")
    assert reply.text.endswith("?") and reply.info["hedged"] and not state.done  # right, but unsure
    assert state.rewards[-1] == 0.5
    reply = say(env, state, "Yes, that's right!", "Confirmation")
    assert "e dietro il cane verde" in reply.text and state.done and state.verdicts[-1].success
    assert state.rewards[-1] == 1.0 and state.hidden["knowledge"] == ["known"] * 3


def test_hint_reads_the_named_word_from_the_teachers_text():
    env = make_env()
    for seed in range(10):
        state = env.begin(hand_case(knowledge=("unknown", "unknown", "known"), wrong=(None,) * 3), seed=seed)
        state.hidden["lr"] = 1.0
        say(env, state, "By the way, dog is cane.", None)  # unlabelled: read as a Hint naming "cane"
        assert state.hidden["knowledge"][:2] == ["unknown", "shaky"]


def test_correction_after_a_wrong_attempt_fixes_it_elsewhere_it_confuses():
    env = make_env()
    state = env.begin(hand_case(), seed=1)  # colour misconception: "rosso" for "green"
    reply = say(env, state, "What do you think the translation is?", "Question")
    assert reply.info["units"] == ["correct", "missing", "wrong"] and "rosso" in reply.text
    assert state.rewards == [-1.0] and state.verdicts[-1].info["level"] == "incorrect"
    say(env, state, env.realise(state, env.strategy("Correction")), "Correction")
    assert "\"verde\"" in state.turns[-2].text and "\"rosso\"" in state.turns[-2].text
    assert state.hidden["knowledge"][2] == "shaky" and state.hidden["frustration"] == 0
    cold = env.begin(hand_case(), seed=1)
    reply = say(env, cold, "Not quite: \"green\" is \"verde\", not \"rosso\".", "Correction")
    assert cold.hidden["knowledge"][2] == "wrong" and cold.hidden["frustration"] == 1
    assert "tried" in reply.text or "wrong" in reply.text


def test_confirming_a_wrong_attempt_entrenches_the_misconception():
    env = make_env()
    fixed = 0
    for seed in range(40):
        state = env.begin(hand_case(knowledge=("known", "known", "wrong")), seed=seed)
        say(env, state, "Can you give me your best guess?", "Question")
        reply = say(env, state, "Yes, that's right!", "Confirmation")
        assert state.hidden["knowledge"][2] == "entrenched" and "rosso" in reply.text and not state.done
        say(env, state, "Not quite: \"green\" is \"verde\", not \"rosso\".", "Correction")
        fixed += state.hidden["knowledge"][2] == "shaky"
    assert 5 <= fixed <= 30  # an entrenched misconception yields to a correction only sometimes (p 0.4)


def test_confirmation_teaches_nothing_about_a_gap_or_a_restatement():
    env = make_env()
    gap = env.begin(hand_case(knowledge=("known", "unknown", "known"), wrong=(None,) * 3), seed=0)
    say(env, gap, "Why don't you give it a try?", "Question")
    reply = say(env, gap, "Yes, that's right!", "Confirmation")
    assert not reply.info["attempt"] and "dog" in reply.text and gap.rewards[-1] == -0.5  # asks about the gap
    wrong = env.begin(hand_case(knowledge=("known", "known", "wrong")), seed=0)
    say(env, wrong, "Can you give me your best guess?", "Question")
    assert say(env, wrong, "Yes, that's right!", "Confirmation").info["attempt"]  # restates it
    again = say(env, wrong, "Exactly, well done!", "Confirmation")
    assert not again.info["attempt"] and wrong.rewards[-2:] == [-1.0, -0.5] and not wrong.done


def test_repeated_questions_without_help_frustrate_the_student():
    env = make_env()
    state = env.begin(hand_case(), seed=0)
    threshold = state.hidden["threshold"]
    for _ in range(threshold + 1):
        say(env, state, "Can you give me your best guess?", "Question")
    assert not state.turns[-1].info["attempt"] and state.rewards[-1] == -0.5
    assert state.hidden["frustration"] == threshold


@pytest.mark.parametrize("text, name", [
    ("Here's a hint: \"dog\" is \"cane\" in Italian.", "Hint"), ("Can you give me your best guess?", "Question"),
    ("Not quite: \"green\" is \"verde\", not \"rosso\".", "Correction"), ("That's incorrect.", "Correction"),
    ("Exactly, well done!", "Confirmation"), ("Let's keep going.", "Others"),
])
def test_unlabelled_teacher_turns_are_classified(text, name):
    assert classify(text) == name


def test_template_teacher_never_gives_the_whole_translation():
    env = make_env()
    for case in TutoringEnv.cases()[:40]:
        state = env.begin(case, seed=3)
        target = case.fields["target"]
        for name in NAMES * 2:
            if state.done or state.truncated:
                break
            text = env.realise(state, env.strategy(name))
            assert target not in text and text.strip()
            if name == "Hint":
                assert sum(u["it"] in text for u in case.fields["units"]) >= 1
            say(env, state, text, name)


# -- the point of the dynamics ----------------------------------------------------------------------
def test_no_fixed_strategy_and_no_random_policy_is_optimal():
    env = make_env()
    cases = TutoringEnv.cases()
    best_episodes = play(env, cases, adaptive)
    best, best_return = TutoringEnv.metrics(best_episodes), sum(e.total_reward for e in best_episodes) / len(cases)
    assert best["SR"] >= 0.9 and best["AT"] <= 6
    runs = {name: play(env, cases, lambda s, rng, n=name: n) for name in NAMES}
    runs["random"] = play(env, cases, lambda s, rng: rng.choice(NAMES))
    others = {name: TutoringEnv.metrics(episodes) for name, episodes in runs.items()}
    for name, m in others.items():
        assert m["SR"] <= best["SR"] - 0.3 and m["SR"] <= 0.15, name
        assert sum(e.total_reward for e in runs[name]) / len(cases) < best_return - 1.0, name  # RL's objective agrees
    for name in ("Hint", "Correction", "Confirmation", "Others"):  # the student never tries unasked
        assert others[name] == {"SR": 0.0, "AT": 8.0}


def test_rollouts_are_deterministic_under_a_seed():
    env = make_env()
    cases = TutoringEnv.cases()[:30]

    def trace(seed):
        return [[(t.role, t.text, t.strategy, t.reward) for t in e.turns]
                for e in play(env, cases, lambda s, rng: rng.choice(NAMES), seed)]

    assert trace(1) == trace(1) and trace(1) != trace(2)


# -- LLM prompts and critic ------------------------------------------------------------------------
def test_user_and_agent_prompts():
    env = make_env()
    state = env.begin(TutoringEnv.cases()[0], seed=0)
    user = TutoringEnv.user_prompt(state)
    assert isinstance(user[0], SystemMessage) and "Student" in user[0].content and "Italian" in user[0].content
    assert "is in front of the pink box" in user[0].content and "scatola rosa" not in user[0].content
    assert [(type(m), m.name) for m in user[1:]] == [(HumanMessage, "Teacher"), (AIMessage, "Student")]
    hint = env.strategy("Hint")
    agent = TutoringEnv.agent_prompt(state, hint)
    assert agent[0].content.endswith(f"Now: {hint.instruction}") and "e di fronte alla scatola rosa" in agent[0].content
    assert [(type(m), m.name) for m in agent[1:]] == [(AIMessage, "Teacher"), (HumanMessage, "Student")]
    assert "Now:" not in TutoringEnv.agent_prompt(state, None)[0].content


def test_critic_prompt_has_fixed_answers_and_few_shots():
    env = make_env()
    state = env.begin(TutoringEnv.cases()[0], seed=0)
    messages = TutoringEnv.critic_prompt(state)
    assert isinstance(messages[0], SystemMessage)
    assert "\"The student translated the whole sentence correctly.\"" in messages[0].content
    answers = [m.content for m in messages if isinstance(m, AIMessage)]
    assert [TutoringEnv.parse_verdict(a) for a in answers] == [0.5, 1.0]
    last = messages[-1]
    assert isinstance(last, HumanMessage) and state.history() in last.content
    assert "e di fronte alla scatola rosa" in last.content and last.content.endswith("correctly?")


@pytest.mark.parametrize("text, value", [
    ("The student's translation is incorrect.", -1.0), ("The student did not try to translate.", -0.5),
    ("The student translated a part of the sentence.", 0.5),
    ("The student translated the whole sentence correctly.", 1.0),
    ("  the student DIDN'T TRY", -0.5), ("The translation is wrong.", -1.0), ("The translation is not correct", -1.0),
    ("The student translated part of the sentence correctly.", 0.5), ("Correct.", 1.0),
    ("The student likes Italian.", None), ("", None),
])
def test_parse_verdict(text, value):
    assert TutoringEnv.parse_verdict(text) == value


def test_aggregate_verdicts():
    env = make_env()
    state = env.begin(hand_case(), seed=0)
    raw = ["The student translated the whole sentence correctly.", "gibberish",
           "The student translated the whole sentence correctly.", "The student translated a part of the sentence."]
    parsed = [p for p in map(TutoringEnv.parse_verdict, raw) if p is not None]  # unparsable samples dropped
    assert parsed == [1.0, 1.0, 0.5]
    v = TutoringEnv.aggregate_verdicts(state, parsed)
    assert (v.reward, v.done, v.success) == (pytest.approx(2.5 / 3), True, True)
    for parsed, reward in (([1.0, 0.5, 0.5, 0.5], 0.625), ([1.0, 0.5], 0.75)):
        v = TutoringEnv.aggregate_verdicts(state, parsed)
        assert v.success and v.reward == pytest.approx(reward)
    v = TutoringEnv.aggregate_verdicts(state, [0.5, 0.5])  # exactly 0.5 is not above it
    assert (v.reward, v.done, v.success) == (0.5, False, False)
    v = TutoringEnv.aggregate_verdicts(state, [1.0, -1.0, -0.5])
    assert (v.reward, v.done) == (pytest.approx(-0.5 / 3), False)
    v = TutoringEnv.aggregate_verdicts(state, [])  # nothing parsed: "did not try", not done
    assert (v.reward, v.done, v.success) == (-0.5, False, False)
