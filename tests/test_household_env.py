"""The household environment: the world in the loop, the scripted Commander's rules, exact rewards, the
heuristic and its baselines, the Driver's supervised data from the TEACh games, and other user agents."""

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents.policies import make_policy
from agents.template import TemplateAgent
from simulators.household import HouseholdEnv
from simulators.household.commander import ScriptedCommander
from simulators.household.env import game_context
from simulators.household.heuristic import instructed_move, next_move
from workbench.critics import GroundTruthCritic
from workbench.episodes import Turn
from workbench.errors import WorkbenchError
from workbench.registry import env_names, make_env
from workbench.rollout import rollout_many

from .helpers import play


@pytest.fixture(scope="module")
def cases():
    return HouseholdEnv.cases()


def run(spec: str, cases, n: int):
    env = make_env("household")
    return rollout_many(env, {spec: TemplateAgent(HouseholdEnv, make_policy(spec, HouseholdEnv))}, cases,
                        n=n, progress=False)[spec]


def test_registered_and_cases_cover_every_task(cases):
    assert "household" in env_names()
    assert len(cases) == 300
    assert len({c.fields["task"] for c in cases}) == 25
    assert cases[0].fields["goal"] == "Make a slice of toast."


def test_the_heuristic_solves_what_random_and_every_fixed_move_do_not(cases):
    follow = run("follow-instructions", cases, 25)
    assert HouseholdEnv.metrics(follow)["SR"] >= 0.9
    for episode in follow:  # the shaped rewards add up to the way done, plus the bonus
        if episode.success:
            assert sum(t.reward for t in episode.turns if t.reward is not None) == pytest.approx(2.0)
    assert HouseholdEnv.metrics(run("random", cases, 25))["SR"] < 0.3
    for strategy in HouseholdEnv.strategies:
        assert HouseholdEnv.metrics(run(f"fixed:{strategy.name}", cases[:12], 12))["SR"] == 0.0, strategy.name


def step(env, state, move: str) -> Turn:
    turn = Turn(role="Driver", text=HouseholdEnv.realise(state, HouseholdEnv.strategy(move)), strategy=move)
    env.advance([state], [turn])
    return state.turns[-1]


def test_the_scripted_commander_answers_the_drivers_acts(cases):
    env = make_env("household")
    state = env.begin(cases[1], seed=3)  # Coffee
    assert state.turns[1].text == "Prepare coffee in a clean mug."
    reply = step(env, state, "RequestForInstruction")
    assert reply.strategy == "Instruction" and reply.info["das"] == ["Instruction"]
    instructed = state.hidden["plan"][0]
    assert f"({instructed.target})" in reply.text
    where = step(env, state, "RequestForObjectLocationAndOtherDetails")
    assert where.strategy == "InformationOnObjectDetails"
    assert state.hidden["world"].location(instructed.target) in where.text
    assert step(env, state, "Acknowledge").text == "<observe>"
    confirm = step(env, state, "Confirm")
    assert confirm.info["das"][0] in ("Affirm", "Deny") and confirm.info["das"][1] == "Instruction"


def test_a_failed_action_is_shown_then_corrected_after_notify_failure(cases):
    env = make_env("household")
    state = env.begin(cases[1], seed=0)
    step(env, state, "RequestForInstruction")
    step(env, state, "Pour")  # nothing is held: the world refuses
    driver, commander = state.turns[-2:]
    assert not driver.info["action"]["ok"] and "[failed: " in driver.text
    assert commander.text == "<observe>" and state.verdicts[-1].reward == 0.0
    assert next_move(state) == "NotifyFailure"
    reply = step(env, state, "NotifyFailure")
    assert "could not" in state.turns[-2].text and reply.strategy == "Instruction"


def test_following_the_instructions_step_by_step_solves_coffee(cases):
    env = make_env("household")
    state = env.begin(cases[1], seed=0)
    step(env, state, "RequestForInstruction")
    while not state.done:
        move = next_move(state)
        step(env, state, move)
        assert state.agent_turns < 40
    assert env.finish(state).outcome["success"] and env.outcome(state)["GC"] == 1.0


def test_the_heuristic_reads_instruction_verbs():
    assert instructed_move("Good. Turn off the faucet (Faucet_1).") == "ToggleOff"
    assert instructed_move("Put it on the plate (Plate_2).") == "Place"
    assert instructed_move("Good. Pick up the bread slice (BreadSliced_3).") == "Pickup"
    assert instructed_move("The mug (Mug_1) is in the cabinet.") is None


def test_the_drivers_moves_in_the_teach_games_are_planner_examples():
    games = HouseholdEnv.cases(HouseholdEnv.sft_sources()[0])
    examples = HouseholdEnv.planner_examples(games)
    names = {s.name for s in HouseholdEnv.strategies}
    assert len(games) == 121 and len(examples) > 3500
    assert {move for _, move in examples} <= names
    history, move = examples[1]
    assert history.splitlines()[-1].startswith("Commander: ") and move in names


def test_an_llm_commander_is_parsed_and_the_world_still_judges(cases):
    model = FakeListChatModel(responses=["OBSERVE", "<<Instruction>> go get the mug", "blah"] * 50)
    env = make_env("household", simulator="llm", sim_model=model)
    assert isinstance(env.critic, GroundTruthCritic)
    episodes = play(env, cases[:2], lambda s, rng: "RequestForInstruction")
    commander = [t for e in episodes for t in e.turns[2:] if t.role == "Commander"]
    assert {t.text for t in commander} >= {"<observe>", "go get the mug"}
    assert env.simulator.fallbacks["unknown-act"] == sum("fallback" in t.info for t in commander) > 0
    assert all(t.info["generated"] for t in commander)
    assert game_context(env.begin(cases[0], 0)).goal == "Make a slice of toast."


def test_a_malformed_case_file_names_its_line(tmp_path: Path):
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"task": "Coffee", "params": [], "scene_seed": 1}\n{"task": "Cofee", "params": [], "scene_seed": 2}\n')
    with pytest.raises(WorkbenchError, match=r"tasks.jsonl:2: .*unknown task 'Cofee'"):
        HouseholdEnv.cases(bad)
    good = tmp_path / "one.jsonl"
    good.write_text(bad.read_text().splitlines()[0] + "\n")
    assert HouseholdEnv.cases(good)[0].fields["goal"] == "Prepare coffee in a clean mug."


def test_a_commander_never_sees_a_finished_plan_as_a_step(cases):
    env = make_env("household")
    state = env.begin(cases[0], seed=0)
    state.hidden["plan"] = []
    state.turns.append(Turn(role="Driver", text="OK.", strategy="Acknowledge"))
    (turn,) = ScriptedCommander().respond([state])
    assert turn.strategy == "FeedbackPositive"


def test_a_person_commands_the_robot_in_the_terminal_and_the_world_judges(tmp_path):
    from apps.chat import ChatConfig, run_chat

    from .test_chat_terminal import scripted

    shown: list[str] = []
    config = ChatConfig(env="household", policy="follow-instructions", seed=0, out=str(tmp_path / "chats"))
    episode = run_chat(config, read=scripted(["Go to the knife (Knife_1).", "Pick up the knife (Knife_1).",
                                              "Thanks."]), write=shown.append)
    actions = [t.info["action"] for t in episode.turns if "action" in t.info]
    assert [(a["kind"], a["target"], a["ok"]) for a in actions] == [("Navigate", "Knife_1", True),
                                                                     ("Pickup", "Knife_1", True)]
    assert all("progress" in t.info["verdict"] for t in episode.turns[3::2])


def test_the_optional_llm_critic_parses_and_votes(cases):
    assert HouseholdEnv.parse_verdict("The task is complete.") is True
    assert HouseholdEnv.parse_verdict("the task is not complete") is False
    assert HouseholdEnv.parse_verdict("I like turtles") is None
    model = FakeListChatModel(responses=["The task is complete."] * 2 + ["banana"])
    env = make_env("household", critic="llm", critic_model=model, critic_samples=3)
    state = env.begin(cases[0], seed=0)
    step(env, state, "RequestForInstruction")
    verdict = state.verdicts[-1]
    assert verdict.success and verdict.reward == 1.0 and verdict.info["unparsable"] == 1
    assert "Has the robot completed the task?" in env.critic_prompt(state)[-1].content
