"""The household environment in the app (issue 21, item 6): a person in the Driver's seat, the Commander's seat with
its world view and dialogue acts, and the self-play browser's world after any turn (by replay)."""

import random
from types import SimpleNamespace
from unittest.mock import ANY

import pytest

from agents.policies import RandomPolicy
from agents.template import TemplateAgent
from apps.app import AppConfig, build_app
from apps.gui.household import DriverSession, seat_updates, world_text
from apps.gui.models import TEMPLATE
from apps.gui.selfplay import browse
from apps.gui.ui import (Choices, act, bind, observe, policy_choices, send, show_episode, show_world, shown,
                         start_chat, undo)
from simulators.household.cases import task_instance
from simulators.household.oracle import plan
from simulators.household.replay import replay
from simulators.household.world import generate_scene
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_env
from workbench.runs import Run

HOUSEHOLD = env_class("household")
CASE = Case(id="household:test:coffee", env="household",
            fields={"task": "Coffee", "params": [], "goal": "Prepare coffee in a clean mug.", "scene_seed": 5})
"""A short task: in the scene of seed 5 the dirty mug already stands in the sink."""
LETTUCE = "household:0:3"
"""A generated case (the app picks cases by id): "Make a slice of Lettuce."."""
DONE_AFTER = ["<move> Faucet_1", "<toggle on> Faucet_1", "<toggle off> Faucet_1", "<pickup> Mug_1",
              "<move> CoffeeMachine_1", "<putdown> CoffeeMachine_1", "<toggle on> CoffeeMachine_1"]
"""The oracle's plan for CASE, as far as the task is done (checked by hand on the printed world: rinse the mug
under the faucet, carry it to the coffee machine, switch it on)."""


def oracle_actions(case: Case) -> list:
    return plan(task_instance(case), generate_scene(task_instance(case), random.Random(case.fields["scene_seed"])))


@pytest.fixture
def app(tmp_path):
    app, _ = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[], preload=False))
    return app


def test_a_person_as_the_driver_does_the_task_with_the_oracles_actions_and_it_is_saved(app):
    actions = oracle_actions(CASE)[:len(DONE_AFTER)]
    assert [a.text() for a in actions] == DONE_AFTER
    session = DriverSession.begin(HOUSEHOLD, CASE, seed=0)
    assert [t.text for t in session.turns()] == ["Hello! What should I do today?", "Prepare coffee in a clean mug."]
    assert session.world_text().splitlines()[:3] == ["GC 1/3", "", "Robot: at nothing, holding nothing"]
    assert world_text(session.state).startswith("GC 1/3, unmet: The mug is dirty.")  # only the Commander's view
    assert "      Mug_1 (dirty)" in session.world_text()  # in the sink basin, in the sink, in the kitchen
    app.chats["one"] = session  # as New chat leaves it (the page picks only generated cases by id)
    for action in actions:
        assert not session.finished and action.target in session.objects()
        *_, status = last(shown(5)(bind(app, act))(action.kind, action.target, SimpleNamespace(session_hash="one")))
    assert status == "Dialogue over; saved to app-chats/household."
    assert session.finished and session.outcome()["success"]
    outcome = session.outcome()
    assert (outcome["steps"], outcome["failed"], outcome["GC"], outcome["utterances"]) == (7, 0, 1.0, 0)
    assert session.turns()[-1].text == "That's everything, thank you!"
    assert session.world_text().startswith("GC 3/3 (task done)\n")
    assert "  CoffeeMachine_1 (on)\n    Mug_1 (filled with coffee)" in session.world_text()
    (episode,) = browse(app.runs.root / "app-chats" / "household", "all")
    assert episode.provenance["agent"] == "human" and episode.provenance["user"] == "scripted"
    assert episode.outcome["turns"] == 7 and episode.outcome["success"]
    assert [t.info["action"]["kind"] for t in episode.turns if "action" in t.info] == [a.kind for a in actions]
    assert replay(episode).to_dict() == session.state.hidden["world"].to_dict()


def test_a_failed_action_shows_its_failure_and_undo_restores_the_world():
    session = DriverSession.begin(HOUSEHOLD, CASE, seed=0)
    before = session.state.hidden["world"].to_dict()
    session.send("  <pickup>   CounterTop_1 ")
    driver = session.state.turns[-2]
    assert driver.text == "<pickup> CounterTop_1 [failed: cannot pick up CounterTop_1: it cannot be picked up]"
    assert driver.info["action"]["ok"] is False and session.state.turns[-1].text == "<observe>"
    assert session.messages()[-2] == {"role": "user", "content": "&lt;pickup> CounterTop_1 [failed: cannot pick up "
                                                                 "CounterTop_1: it cannot be picked up]"}
    session.act("Pickup", "Mug_1")
    assert session.state.turns[-2].text == "<pickup> Mug_1 [failed: you are not near Mug_1]"
    assert session.state.hidden["world"].to_dict() == before and session.verdicts()[-1][3] == "you"
    session.send("What should I do next?", ["RequestForInstruction"])
    answer = session.state.turns[-1]
    assert answer.info["das"] == ["Instruction"] and answer.text == "Go to the faucet (Faucet_1)."
    assert session.messages()[-1]["content"].endswith("*acts: Instruction*")
    session.act("Navigate", "Faucet_1")
    assert session.state.hidden["world"].robot_at == "Sink_1"
    for _ in range(4):
        session.undo()
    assert session.state.hidden["world"].to_dict() == before and len(session.turns()) == 2
    for text, acts, message in (("<grab> Mug_1", [], "is not an action"), ("Hello", [], "pick the utterance's"),
                                ("Hello", ["Instruction"], "not 'Instruction'"), ("  ", [], "type a message")):
        with pytest.raises(WorkbenchError, match=message):
            session.send(text, acts)
    with pytest.raises(WorkbenchError, match="you play the Driver"):
        session.feedback_record(1, rating="like")


def test_replay_reproduces_the_world_of_a_selfplay_episode_after_every_turn(tmp_path):
    env = make_env("household", max_turns=25)
    agent = TemplateAgent(HOUSEHOLD, RandomPolicy(HOUSEHOLD.strategies))
    _, info = env.reset(CASE, seed=3)
    state, worlds = info["state"], {}
    worlds[len(state.turns)] = state.hidden["world"].to_dict()
    done = False
    while not done:
        (turn,) = agent.act([state])
        _, _, terminated, truncated, _ = env.step(turn)
        worlds[len(state.turns)] = state.hidden["world"].to_dict()
        done = terminated or truncated
    episode = env.finish(state)
    actions = [t.info["action"] for t in episode.turns if "action" in t.info]
    assert any(a["ok"] for a in actions) and not all(a["ok"] for a in actions)  # both kinds are replayed
    with Run.open(tmp_path / "sp", {"env": "household"}) as run:
        run.append_episodes([episode])
    (stored,) = browse(tmp_path / "sp", "all")
    for upto, world in worlds.items():
        assert replay(stored, upto).to_dict() == world
    assert replay(stored, 0).to_dict() == worlds[2]  # the opening (greeting and goal) changes nothing
    assert replay(stored).to_dict() == state.hidden["world"].to_dict()
    with pytest.raises(WorkbenchError, match="no turn 999"):
        replay(stored, 999)
    first = next(t for t in stored.turns if "action" in t.info)
    first.info["action"]["ok"] = not first.info["action"]["ok"]  # an episode from another world
    with pytest.raises(WorkbenchError, match=r", turn \d+: '<.*' (fails|succeeds) on replay but (succeeded|failed)"):
        replay(stored)


def test_the_world_panel_shows_for_household_and_not_for_negotiation(app):
    request = SimpleNamespace(session_hash="one")
    assert "follow-instructions" in policy_choices_for("household")
    assert "follow-instructions" not in policy_choices_for("negotiation")
    seat, view, acts, obs, kind, target, act_button = seat_updates("household", "user")
    assert seat["visible"] and view["visible"] and acts["value"] == ["Instruction"] and obs["visible"]
    assert not kind["visible"] and not act_button["visible"]
    assert seat_updates("household", "agent")[2]["value"] == ["RequestForInstruction"]
    assert seat_updates("household", "agent")[4]["visible"] and not seat_updates("household", "agent")[3]["visible"]
    assert not any(u.get("visible") for u in seat_updates("negotiation", "agent"))

    start = shown(5)(bind(app, start_chat))
    messages, _, view, _, status = last(start("negotiation", "", TEMPLATE, "random", [], "none", 0, "user", request))
    assert view == {"__type__": "update", "visible": False} and "You are the Seller" in status

    messages, _, view, _, status = last(start("household", LETTUCE, TEMPLATE, "follow-instructions", [], "none", 0,
                                              "user", request))
    session = app.chats["one"]
    assert type(session).__name__ == "ChatSession" and "Your task for it: Make a slice of Lettuce." in status
    assert messages[-1]["content"] == "What should I do next?\n\n*strategy: RequestForInstruction (p = 1.00)*"
    assert view["visible"] and view["value"].startswith("GC 1/2, unmet: The Lettuce needs to be sliced")
    assert "Robot: at nothing, holding nothing" in view["value"]
    say = shown(6)(bind(app, send))
    messages, _, view, _, message, status = last(say("Slice the lettuce (Lettuce_1).", ["Instruction"], request))
    said = session.state.turns[-1]
    assert (said.strategy, said.info["das"], message) == ("Instruction", ["Instruction"], "")
    assert messages[-1]["content"].startswith("&lt;slice> Lettuce_1\n\n*strategy: Slice")
    assert view["value"].startswith("The robot's move: <slice> Lettuce_1 (failed: cannot slice: you are not "
                                    "holding a knife)\nGC 1/2, unmet: ")
    messages, _, view, _, status = last(shown(5)(bind(app, observe))(request))
    assert session.state.turns[-1].text == "<observe>" and session.state.turns[-1].info == {"verdict": ANY}
    assert messages[-1]["content"].startswith("I could not do that: cannot slice: you are not holding a knife.")
    assert view["value"].startswith("GC 1/2, unmet: ")
    messages, _, view, _, message, status = last(say("Go to the knife (Knife_1).", ["Instruction"], request))
    assert session.pending.text == "<move> Knife_1"
    assert view["value"].startswith("The robot's move: <move> Knife_1 (done)")
    assert "Robot: at nothing" in world_text(session.state)  # applied only once the person answers
    messages, _, view, _, status = last(shown(5)(bind(app, observe))(request))
    assert session.state.turns[-1].text == "<observe>" and session.state.hidden["world"].robot_at is not None
    assert messages[-1]["content"] == "What should I do next?\n\n*strategy: RequestForInstruction (p = 1.00)*"
    assert shown(5)(bind(app, undo))(request)[2]["value"].startswith("The robot's move: <move> Knife_1 (done)")

    *_, status = last(start("household", LETTUCE, TEMPLATE, "random", [], "none", 0, "agent", request))
    assert status.startswith(f"Case {LETTUCE}. You are the Driver, a robot in the house")
    _, _, view, target, status = last(shown(5)(bind(app, act))("Navigate", "Knife_1", request))
    assert "Lettuce_1" in target["choices"] and view["value"].startswith("GC 1/2\n")
    assert last(shown(5)(bind(app, act))("Navigate", "", request))[-1] == "**Error:** pick the object to act on"
    *_, status = last(shown(5)(bind(app, start_chat))("negotiation", "", TEMPLATE, "random", [], "none", 0,
                                                      "agent", request))
    assert status.startswith("**Error:** in negotiation a person plays only the user")


def last(pages):
    """The page a streaming handler shows last."""
    *_, page = pages
    return page


def policy_choices_for(env):
    return policy_choices(Choices([env], [], ["random", "most-frequent", "none", "planner:mine"]), env)


def test_the_episode_browser_shows_the_world_after_the_picked_turn(app, tmp_path):
    session = DriverSession.begin(HOUSEHOLD, CASE, seed=0)
    for action in oracle_actions(CASE)[:2]:
        session.act(action.kind, action.target)
    with Run.open(app.runs.root / "mine", {"env": "household"}) as run:
        run.append_episodes([session.episode({})])
    (episode,) = browse(app.runs.root / "mine", "all")
    text, box, turn, world, _ = shown(5)(bind(app, show_episode))("mine", episode.id)
    assert box == {"__type__": "update", "visible": True} and turn["maximum"] == turn["value"] == 6
    assert world.startswith("After turn 6 of 6 (Commander: ") and "&lt;move>" in text
    world, _ = shown(2)(bind(app, show_world))("mine", episode.id, 3)
    assert world.startswith(f"After turn 3 of 6 (Driver: {oracle_actions(CASE)[0].text()})")
    *_, status = shown(2)(bind(app, show_world))("../../etc", episode.id, 3)
    assert status.startswith("**Error:** refused '../../etc'")
    talk = Episode(id="talk", env="negotiation", case=Case(id="bike", env="negotiation", fields={}),
                   turns=[Turn(role="Buyer", text="Hi")], outcome={"success": False})
    with Run.open(app.runs.root / "theirs", {"env": "negotiation"}) as run:
        run.append_episodes([talk])
    text, box, turn, world, _ = shown(5)(bind(app, show_episode))("theirs", "talk")
    assert box == {"__type__": "update", "visible": False} and world == {"__type__": "update", "value": ""}
    assert shown(2)(bind(app, show_world))("theirs", "talk", 1)[0] == {"__type__": "update"}
