"""Persuasion (PersuasionForGood): loaders and their errors, the scripted persuadee's dynamics, the template
persuader, the LLM critic's parsing and the environment's metrics."""

import pytest

from apps.cli import main
from simulators.persuasion import PersuasionEnv
from simulators.persuasion.cases import load_cases
from simulators.persuasion.persuadee import ACCEPT, GIVE_UP, ScriptedPersuadee, classify, donation
from simulators.persuasion.prompts import aggregate_verdicts, parse_verdict
from simulators.persuasion.strategies import ACTS, STRATEGY_NAMES
from simulators.persuasion.templates import PERSUADER
from workbench.episodes import Episode, Turn
from workbench.errors import WorkbenchError
from workbench.registry import make_env


@pytest.fixture(scope="module")
def cases():
    return load_cases()


def test_the_loaders_read_all_dialogues_and_the_annotated_ones(cases):
    annotated = load_cases(PersuasionEnv.sft_sources()[0])
    assert len(cases) == 1017 and len(annotated) == 240
    assert sum(c.fields["annotated"] for c in cases) == 240
    assert {c.id for c in annotated} <= {c.id for c in cases}
    assert all(0.0 <= c.fields["donation"] <= 2.0 for c in cases)
    assert sum(c.fields["reported_donation"] > 2 for c in cases) == 35  # typing slips, capped at the $2 payment
    assert sum(c.fields["donation"] > 0 for c in cases) == 545
    strategies = [t["strategy"] for c in annotated for t in c.fields["turns"] if t["role"] == "Persuader"]
    assert len(strategies) == 2494 and set(strategies) <= set(ACTS) and None not in strategies
    first = next(c for c in annotated if c.id == "20180719-210146_172_live")
    assert first.fields["turns"][0] == {"role": "Persuader", "text": "Hello. How are you?", "strategy": "greeting",
                                        "labels": ["greeting", "greeting"]}
    assert first.fields["turns"][2]["strategy"] == "task-related-inquiry"  # a strategy outranks greeting and other
    assert first.fields["profile"]["care"] == 6.0 and first.fields["profile"]["sex"] == "Female"


def test_envs_prints_the_counts(capsys):
    assert main(["envs", "--counts"]) == 0
    out = capsys.readouterr().out
    assert "1,017 cases in" in out and "240 strategy-annotated dialogues (2,494 labelled agent turns)" in out


def write_p4g(folder, dialog=None, info=None):
    folder.mkdir()
    header = "B2,B4,Turn,Unit"
    dialog = dialog or ["d1,0,0,Hello.", "d1,1,0,Hi."]
    (folder / "full_dialog.csv").write_text("\n".join([header, *dialog]) + "\n")
    (folder / "annotated_dialog.csv").write_text(header + ",er_label_1\nd1,0,0,Hello.,greeting\nd1,1,0,Hi.,\n")
    info = info or ["d1,u1,0,0.0,2", "d1,u2,1,0.5,2"]
    (folder / "full_info.csv").write_text("\n".join(["B2,B3,B4,B6,B7,care.x", *[f"{r},4.0" for r in info]]) + "\n")
    (folder / "annotated_info.csv").write_text("B2,B3,B4,B5,B6,B7\nd1,u2,1,0.5,0.5,2\n")
    return folder


@pytest.mark.parametrize(("dialog", "info", "error"), [
    (["d1,0,0"], None, "full_dialog.csv:2: row has 3 fields, expected 4"),
    (["d1,0,x,Hello."], None, "full_dialog.csv:2: column 'Turn' is not a number"),
    (["d1,2,0,Hello."], None, "full_dialog.csv:2: column 'B4' must be 0 (persuader) or 1 (persuadee), got '2'"),
    ([",0,0,Hello."], None, "full_dialog.csv:2: empty dialogue id"),
    (None, ["d1,u1,0,0.0,2", "d1,u2,1,lots,2"], "full_info.csv:3: column 'B6' is not a number: 'lots'"),
    (None, ["d1,u1,0,0.0,2"], "no persuadee row for dialogue d1"),
])
def test_malformed_rows_are_clear_errors(tmp_path, dialog, info, error):
    folder = write_p4g(tmp_path / "p4g", dialog, info)
    with pytest.raises(WorkbenchError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_cases(folder)


def test_a_small_folder_loads_and_a_missing_column_is_named(tmp_path):
    folder = write_p4g(tmp_path / "p4g")
    (case,) = load_cases(folder)
    assert case.fields["donation"] == 0.5 and case.fields["intended"] == 0.5 and case.fields["annotated"]
    assert case.fields["turns"][0]["strategy"] == "greeting"
    (folder / "full_dialog.csv").write_text("B2,B4,Turn\nd1,0,0\n")
    with pytest.raises(WorkbenchError, match="full_dialog.csv: missing column"):
        load_cases(folder)
    with pytest.raises(WorkbenchError, match="not a PersuasionForGood file"):
        load_cases(folder / "full_info.csv")


def test_donation_of_willingness():
    assert donation(GIVE_UP - 0.01) == 0.0
    assert donation(GIVE_UP + 0.25) == 1.0
    assert donation(0.95) == 2.0


def state_for(case, w, **hidden):
    env = make_env("persuasion")
    state = env.begin(case, seed=1)
    state.hidden.update(w=w, **hidden)
    return env, state


def say(env, state, act):
    text = env.realise(state, env.strategy(act))
    env.advance([state], [Turn(role="Persuader", text=text, strategy=act)])
    return state.turns[-1]


def test_an_ask_commits_above_the_threshold_and_is_declined_below(cases):
    env, state = state_for(cases[0], ACCEPT + 0.1)
    reply = say(env, state, "proposition-of-donation")
    assert state.done and reply.info["donation"] == donation(ACCEPT + 0.1) and state.rewards == [donation(0.6)]
    env, state = state_for(cases[0], ACCEPT - 0.1)
    reply = say(env, state, "ask-donation-amount")
    assert not state.done and reply.info["act"] == "ask" and state.hidden["refusals"] == 1


def test_a_repeated_strategy_moves_half_as_far_and_tires_more(cases):
    env, state = state_for(cases[0], 0.2)
    h = state.hidden
    gains, fatigue = [], []
    for _ in range(2):
        before, f = h["w"], h["f"]
        say(env, state, "emotion-appeal")
        gains.append(h["w"] - before)
        fatigue.append(h["f"] - f)
    assert gains[1] == pytest.approx(gains[0] / 2) and gains[0] > 0
    assert fatigue == pytest.approx([0.15, 0.4])


def test_credibility_counts_more_once_the_persona_said_it_does_not_know_the_charity(cases):
    gains = {}
    for said in (False, True):
        env, state = state_for(cases[0], 0.2, said_unknown=said)
        say(env, state, "credibility-appeal")
        gains[said] = state.hidden["w"] - 0.2
    assert gains[True] == pytest.approx(1.5 * gains[False])


def test_fatigue_ends_the_dialogue_without_a_donation_from_a_reluctant_persona(cases):
    env, state = state_for(cases[0], 0.1, patience=0.5)
    for act in ("logical-appeal", "emotion-appeal", "personal-story", "self-modeling"):
        if state.done:
            break
        say(env, state, act)
    assert state.done and state.turns[-1].info["donation"] == 0.0 and "no donation" in state.turns[-1].text.lower()


def test_the_last_turn_decides_and_an_unasked_persona_gives_less(cases):
    for asked, expected in ((False, donation(0.7 - 0.1)), (True, donation(0.7))):
        env, state = state_for(cases[0], 0.7, asked=asked)
        state.max_turns = 1
        say(env, state, "thank")
        assert state.done and state.rewards == [expected]


def test_every_template_line_is_read_back_as_its_act():
    for act, lines in PERSUADER.items():
        for line in lines:
            assert classify(line) == act, line
    assert ScriptedPersuadee.name == "scripted" and len(STRATEGY_NAMES) == 10


def test_the_llm_critic_parses_amounts_and_needs_a_majority(cases):
    assert parse_verdict("The persuadee will donate $0.50.") == 0.5
    assert parse_verdict("They said they'd give 20 cents") == 0.2
    assert parse_verdict("No decision yet.") == "undecided"
    assert parse_verdict("The persuadee will not donate.") == 0.0
    assert parse_verdict("The persuadee will donate $5.") == 2.0
    assert parse_verdict("banana") is None
    env, state = state_for(cases[0], 0.5)
    assert aggregate_verdicts(state, [0.5, 1.0, 0.5, "undecided"]).reward == 0.5
    verdict = aggregate_verdicts(state, [0.5, "undecided", "undecided"])
    assert not verdict.done and verdict.reward == 0.0


def test_metrics_are_donation_rate_and_mean_donation(cases):
    episodes = [Episode(id=str(i), env="persuasion", case=cases[0], turns=[], outcome={"donation": d, "success": d > 0,
                                                                                        "turns": 4})
                for i, d in enumerate((0.0, 0.5, 1.5, 0.0))]
    metrics = PersuasionEnv.metrics(episodes)
    assert metrics["donation rate"] == 50.0 and metrics["mean donation"] == 0.5 and metrics["AT"] == 4


def test_scripted_selfplay_is_deterministic_and_strategy_choice_matters(tmp_path):
    def play(policy, out):
        assert main(["selfplay", "--env", "persuasion", "--policy", policy, "-n", "60", "--seed", "2",
                     "--out", str(tmp_path / out), "--no_progress"]) == 0
        from workbench.episodes import load_episodes
        episodes = load_episodes(tmp_path / out / "episodes")
        return PersuasionEnv.metrics(episodes)["mean donation"]

    assert play("random", "a") == play("random", "b")
    assert play("random", "c") > play("fixed:credibility-appeal", "d") + 0.2  # repeating one appeal tires the persona
