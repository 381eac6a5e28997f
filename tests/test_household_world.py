"""The TEACh household world: definitions, actions, state changes, goal checks and the oracle."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from simulators.household.definitions import default_folder, load_definitions
from simulators.household.oracle import next_action, plan
from simulators.household.tasks import check, instances, instantiate, sample_instance
from simulators.household.world import ACTION_KINDS, Action, World, generate_scene, parse_action
from workbench.errors import WorkbenchError

DEFS = load_definitions()


def kitchen() -> World:
    """A small hand-built kitchen (ids are deterministic)."""
    w = World()
    room = w.add_room("Kitchen")
    counter = w.add("CounterTop", room)                    # CounterTop_1
    cabinet = w.add("Cabinet", room)                       # Cabinet_1 (closed)
    w.add("Fridge", room)                                  # Fridge_1 (closed)
    sink = w.add("Sink", room)                             # Sink_1
    w.add("SinkBasin", sink)                               # SinkBasin_1
    w.add("Faucet", sink)                                  # Faucet_1
    w.add("CoffeeMachine", room)                           # CoffeeMachine_1
    w.add("Toaster", room)                                 # Toaster_1
    w.add("StoveBurner", room)                             # StoveBurner_1
    w.add("Microwave", room)                               # Microwave_1
    w.add("HousePlant", counter)                           # HousePlant_1
    w.add("Mug", cabinet, isDirty=1)                       # Mug_1
    w.add("Knife", counter)                                # Knife_1
    w.add("Bread", counter)                                # Bread_1
    w.add("Plate", counter)                                # Plate_1
    w.add("Pot", counter)                                  # Pot_1
    w.add("Potato", counter)                               # Potato_1
    return w


def run(w: World, *texts: str) -> list[str]:
    """Apply actions given as TEACh text; return the outcome messages (all must succeed)."""
    out = []
    for t in texts:
        o = w.apply(parse_action(t))
        assert o.ok, (t, o.message)
        out.append(o.message)
    return out


def fail(w: World, text: str) -> str:
    o = w.apply(parse_action(text))
    assert not o.ok
    return o.message


# ----- definitions -----

def test_definitions_load_all_25():
    assert len(DEFS) == 25
    assert {"Coffee", "Plate Of Toast", "Breakfast", "Workspace", "Toggle X All Y"} <= set(DEFS)
    assert DEFS["Breakfast"].nparams == 14
    assert DEFS["Plate Of Toast"].relations[0].head_entities == ("toast",)


def _folder_with(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "102__coffee.json").write_text((default_folder() / "102__coffee.json").read_text())
    bad = tmp_path / name
    bad.write_text(text)
    return bad


def test_bad_json_names_file_and_line(tmp_path):
    bad = _folder_with(tmp_path, "900__bad.json", '{\n  "task_id": 900,\n  "task_name" "Bad"\n}\n')
    with pytest.raises(WorkbenchError) as e:
        load_definitions(tmp_path)
    assert str(e.value).startswith(f"{bad}:3: not valid JSON")
    assert "\n" not in str(e.value)


def test_unknown_nested_task_names_file_and_line(tmp_path):
    text = json.dumps({"task_id": 901, "task_name": "Two Coffees", "task_nparams": 0, "task_anchor_object": None,
                       "desc": "Two coffees.", "components": {"c": {"determiner": "2", "task_name": "Cofee",
                                                                     "task_params": []}},
                       "relations": []}, indent=2)
    bad = _folder_with(tmp_path, "901__two.json", text)
    with pytest.raises(WorkbenchError) as e:
        load_definitions(tmp_path)
    assert str(e.value) == f"{bad}:10: component 'c' names unknown task 'Cofee'"


def test_missing_key_and_bad_param_index(tmp_path):
    comp = {"determiner": "a", "primary_condition": "objectType", "conditions": {"objectType": "Mug"}}
    text = json.dumps({"task_id": 902, "task_name": "M", "task_nparams": 0, "task_anchor_object": None,
                       "desc": "x", "components": {"mug": comp}, "relations": []}, indent=2)
    bad = _folder_with(tmp_path, "902__m.json", text)
    with pytest.raises(WorkbenchError, match=rf"^{bad}:8: component 'mug' is missing key 'instance_shareable'$"):
        load_definitions(tmp_path)
    bad.write_text(text.replace('"x"', '"Make #1."'))
    with pytest.raises(WorkbenchError, match=rf"^{bad}:6: parameter #1 but task_nparams is 0$"):
        load_definitions(tmp_path)


# ----- actions -----

def test_action_text_and_parse_round_trip():
    for kind in ACTION_KINDS:
        a = Action(kind, "Mug_1")
        assert parse_action(a.text()) == a
    assert Action("ToggleOn", "Faucet_1").text() == "<toggle on> Faucet_1"
    assert Action("Place", "SinkBasin_1").text() == "<putdown> SinkBasin_1"
    assert parse_action("<pickup> Mug") == Action("Pickup", "Mug")
    assert parse_action("pick up the mug") is None
    assert parse_action("<dance> Mug_1") is None


def test_precondition_messages():
    w = kitchen()
    assert fail(w, "<pickup> Knife_1") == "you are not near Knife_1"
    assert fail(w, "<pickup> Banana") == "there is no Banana here"
    run(w, "<move> Mug_1")
    assert w.robot_at == "Cabinet_1"
    assert fail(w, "<pickup> Mug_1") == "cannot pick up Mug_1: it is inside Cabinet_1, which is closed"
    assert fail(w, "<close> Cabinet_1") == "cannot close Cabinet_1: it is already closed"
    run(w, "<open> Cabinet_1", "<pickup> Mug_1", "<move> Knife_1")
    assert fail(w, "<pickup> Knife_1") == "cannot pick up Knife_1: your hands are full"
    assert fail(w, "<pickup> CounterTop_1") == "cannot pick up CounterTop_1: it cannot be picked up"
    assert fail(w, "<slice> Bread_1") == "cannot slice: you are not holding a knife"
    assert fail(w, "<pour> HousePlant_1") == "cannot pour: Mug_1 is empty"
    assert fail(w, "<putdown> Knife_1") == "cannot place: Knife_1 is not a receptacle"
    assert fail(w, "<putdown> Plate_1") == "cannot place: Mug_1 does not fit on Plate_1"
    run(w, "<move> Fridge_1")
    assert fail(w, "<putdown> Fridge_1") == "cannot place: Fridge_1 is closed"
    run(w, "<move> Toaster_1")
    assert fail(w, "<putdown> Toaster_1") == "cannot place: Toaster_1 only takes BreadSliced"
    assert fail(w, "<toggle off> Toaster_1") == "cannot turn off Toaster_1: it is already off"
    assert fail(w, "<open> Toaster_1") == "cannot open Toaster_1: it does not open"
    run(w, "<move> CoffeeMachine_1", "<putdown> CoffeeMachine_1")
    assert fail(w, "<putdown> CoffeeMachine_1") == "cannot place: you are not holding anything"
    assert w.location("Mug_1") == "on CoffeeMachine_1" and w.location("Potato_1") == "on CounterTop_1"


def test_faucet_cleans_and_fills_coffee_machine_fills():
    w = kitchen()
    run(w, "<move> Mug_1", "<open> Cabinet_1", "<pickup> Mug_1", "<move> SinkBasin_1", "<putdown> SinkBasin_1")
    assert w.state("Mug_1")["isDirty"] == 1
    run(w, "<toggle on> Faucet_1")
    assert (w.state("Mug_1")["isDirty"], w.state("Mug_1")["fillLiquid"]) == (0, "water")
    assert w.location("Mug_1") == "in SinkBasin_1"
    run(w, "<toggle off> Faucet_1", "<pickup> Mug_1", "<move> CoffeeMachine_1", "<putdown> CoffeeMachine_1")
    assert w.state("Mug_1")["simbotIsFilledWithCoffee"] == 0
    run(w, "<toggle on> CoffeeMachine_1")
    assert (w.state("Mug_1")["simbotIsFilledWithCoffee"], w.state("Mug_1")["fillLiquid"]) == (1, "coffee")


def test_slice_toast_pour_and_boil():
    w = kitchen()
    assert run(w, "<move> Knife_1", "<pickup> Knife_1", "<slice> Bread_1")[-1] == \
        "you slice Bread_1 into BreadSliced_1, BreadSliced_2, BreadSliced_3"
    assert "Bread_1" not in w.graph and w.location("BreadSliced_2") == "on CounterTop_1"
    run(w, "<putdown> CounterTop_1", "<pickup> BreadSliced_1", "<move> Toaster_1", "<putdown> Toaster_1",
        "<toggle on> Toaster_1")
    assert w.state("BreadSliced_1")["isCooked"] == 1 and w.state("BreadSliced_2")["isCooked"] == 0
    # water the plant with water from the sink
    run(w, "<move> Pot_1", "<pickup> Pot_1", "<move> SinkBasin_1", "<putdown> SinkBasin_1", "<toggle on> Faucet_1",
        "<toggle off> Faucet_1", "<pickup> Pot_1", "<move> HousePlant_1", "<pour> HousePlant_1")
    assert w.state("HousePlant_1")["isFilledWithLiquid"] == 1 and w.state("Pot_1")["isFilledWithLiquid"] == 0
    # boil a potato: pot of water on a burner that is switched on
    run(w, "<move> SinkBasin_1", "<putdown> SinkBasin_1", "<toggle on> Faucet_1", "<toggle off> Faucet_1",
        "<pickup> Pot_1", "<move> StoveBurner_1", "<putdown> StoveBurner_1", "<move> Potato_1", "<pickup> Potato_1",
        "<move> Pot_1", "<putdown> Pot_1")
    assert w.state("Potato_1")["simbotIsBoiled"] == 0
    run(w, "<toggle on> StoveBurner_1")
    assert (w.state("Potato_1")["simbotIsBoiled"], w.state("Potato_1")["isCooked"]) == (1, 1)


def test_microwave_cooks_only_when_closed_and_egg_cracks():
    w = kitchen()
    egg = w.add("Egg", "CounterTop_1")
    run(w, "<move> Knife_1", "<pickup> Knife_1", f"<slice> {egg}", "<putdown> CounterTop_1",
        "<pickup> EggCracked_1", "<move> Microwave_1", "<open> Microwave_1", "<putdown> Microwave_1",
        "<toggle on> Microwave_1")
    assert w.state("EggCracked_1")["isCooked"] == 0
    run(w, "<close> Microwave_1")
    assert w.state("EggCracked_1")["isCooked"] == 1


def test_resolve_prefers_the_robots_position():
    w = kitchen()
    w.add("Mug", "CounterTop_1")                           # Mug_2
    assert w.resolve("Mug") == "Mug_1"
    assert w.resolve("Mug", near="CounterTop") == "Mug_2"
    run(w, "<move> Knife_1")
    assert w.resolve("mug") == "Mug_2" and w.resolve("Mug_1") == "Mug_1" and w.resolve("Banana") is None


def test_json_round_trip_is_exact():
    w = kitchen()
    run(w, "<move> Knife_1", "<pickup> Knife_1", "<slice> Bread_1")
    data = json.loads(json.dumps(w.to_dict()))
    w2 = World.from_dict(data)
    assert w2.to_dict() == w.to_dict() and w2.describe() == w.describe()
    run(w2, "<slice> Potato_1")
    assert "PotatoSliced_3" in w2.graph and "PotatoSliced_1" not in w.graph
    assert "  BreadSliced_1" in w.describe() and "Knife_1" in w.describe().split("Held by the robot:")[1]


# ----- goal checks -----

def test_coffee_goal_conditions_counted():
    inst = instantiate(DEFS, "Coffee", [])
    w = kitchen()
    st = check(inst, w)
    assert (st.success, st.satisfied, st.total) == (False, 1, 3)
    assert st.unmet == ["The mug is dirty. Rinse with water.", "The mug does not have coffee."]
    run(w, "<move> Mug_1", "<open> Cabinet_1", "<pickup> Mug_1", "<move> SinkBasin_1", "<putdown> SinkBasin_1",
        "<toggle on> Faucet_1")
    assert (check(inst, w).satisfied, check(inst, w).unmet) == (2, ["The mug does not have coffee."])
    run(w, "<toggle off> Faucet_1", "<pickup> Mug_1", "<move> CoffeeMachine_1", "<putdown> CoffeeMachine_1",
        "<toggle on> CoffeeMachine_1")
    assert check(inst, w) == check(inst, w.copy()) and check(inst, w).success


def test_plate_of_toast_relation_and_clean_x():
    inst = instantiate(DEFS, "Plate Of Toast", [])
    w = kitchen()
    toast = w.add("BreadSliced", "CounterTop_1", isCooked=1)
    st = check(inst, w)
    # toast: 2/2; Clean X Plate: plate 2/2, sink 2/2; relation 0/1
    assert (st.satisfied, st.total, st.unmet) == (6, 7, ["The toast needs to be on a clean plate."])
    w.graph.remove_edge("CounterTop_1", toast)
    w.graph.add_edge("Plate_1", toast)
    assert check(inst, w).success
    w.state("Plate_1")["isDirty"] = 1
    assert (check(inst, w).satisfied, check(inst, w).unmet) == (6, ["The Plate is dirty. Rinse with water."])
    clean = instantiate(DEFS, "Clean X", ["Plate"])
    assert clean.description == "Clean a Plate." and check(clean, w).satisfied == 3


def test_put_all_counts_every_object():
    inst = instantiate(DEFS, "Put All X On Y", ["Newspaper", "on", "Tables"], "LivingRoom")
    assert inst.description == "Put all Newspaper on any Tables."
    w = World()
    room = w.add_room("LivingRoom")
    table, sofa = w.add("CoffeeTable", room), w.add("Sofa", room)
    w.add("Newspaper", table)
    w.add("Newspaper", sofa)
    st = check(inst, w)
    # 2 newspapers x (class + on a table) + the table slot (class, receptacle) = 6 conditions
    assert (st.satisfied, st.total, st.unmet) == (5, 6, ["The Newspaper needs to be put onto a Tables"])


def test_sample_instances_cover_every_definition():
    insts = instances(DEFS, 30, seed=1)
    assert {i.name for i in insts} == set(DEFS)
    assert [i.to_dict() for i in insts] == [i.to_dict() for i in instances(DEFS, 30, seed=1)]
    tut = instantiate(DEFS, "Tutorial", [])
    assert tut.description == ("Complete the following tasks: Prepare coffee in a clean mug. "
                               "Cook a slice of Potato.")
    with pytest.raises(WorkbenchError, match="unknown TEACh task 'Tea'"):
        sample_instance(DEFS, random.Random(0), "Tea")


def test_scenes_are_deterministic():
    inst = sample_instance(DEFS, random.Random(5), "Breakfast")
    assert generate_scene(inst, random.Random(9)).to_dict() == generate_scene(inst, random.Random(9)).to_dict()


# ----- the oracle -----

@pytest.mark.parametrize("name", sorted(DEFS))
def test_oracle_solves_every_definition(name):
    rng = random.Random(name)
    for k in range(4):
        inst = sample_instance(DEFS, rng, name)
        w = generate_scene(inst, random.Random(k))
        assert not check(inst, w).success
        first = next_action(inst, w)
        actions = plan(inst, w)
        assert actions and actions[0] == first
        for a in actions:
            o = w.apply(a)
            assert o.ok, (inst.params, a.text(), o.message)
        assert check(inst, w).success, (inst.params, check(inst, w).unmet)
        assert next_action(inst, w) is None
