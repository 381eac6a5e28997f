"""Object vocabulary of the text household world (after TEACh, Padmakumar et al., AAAI 2022).

Pure data: which object types exist, what they can do (AI2-THOR capabilities), which room
they belong to, which ``simbotObjectClass`` groups the task definitions refer to, and the
parameter domains the task sampler draws from.  The simulator code (``world.py``) reads
these tables instead of hard-coding behaviour per type.
"""

from __future__ import annotations

ROOMS = ("Kitchen", "LivingRoom", "Bedroom", "Bathroom")

# Capability flags (AI2-THOR object properties).
PICKUPABLE = "pickupable"
RECEPTACLE = "receptacle"
OPENABLE = "openable"
TOGGLEABLE = "toggleable"
SLICEABLE = "sliceable"
COOKABLE = "cookable"
DIRTYABLE = "dirtyable"
LIQUID = "canFillWithLiquid"
FIXED = "fixed"  # furniture / appliance standing in a room (a place the robot can stand at)

# type -> capabilities.  Fixed furniture is a top-level node under its room; everything
# else sits in/on something.
CAPABILITIES: dict[str, frozenset[str]] = {
    # furniture and appliances
    "CounterTop": frozenset({FIXED, RECEPTACLE}),
    "Cabinet": frozenset({FIXED, RECEPTACLE, OPENABLE}),
    "Drawer": frozenset({FIXED, RECEPTACLE, OPENABLE}),
    "Fridge": frozenset({FIXED, RECEPTACLE, OPENABLE}),
    "Sink": frozenset({FIXED, RECEPTACLE}),
    "SinkBasin": frozenset({RECEPTACLE}),
    "Faucet": frozenset({TOGGLEABLE}),
    "StoveBurner": frozenset({FIXED, RECEPTACLE, TOGGLEABLE}),
    "Microwave": frozenset({FIXED, RECEPTACLE, OPENABLE, TOGGLEABLE}),
    "Toaster": frozenset({FIXED, RECEPTACLE, TOGGLEABLE}),
    "CoffeeMachine": frozenset({FIXED, RECEPTACLE, TOGGLEABLE}),
    "DiningTable": frozenset({FIXED, RECEPTACLE}),
    "CoffeeTable": frozenset({FIXED, RECEPTACLE}),
    "SideTable": frozenset({FIXED, RECEPTACLE}),
    "Desk": frozenset({FIXED, RECEPTACLE}),
    "Sofa": frozenset({FIXED, RECEPTACLE}),
    "ArmChair": frozenset({FIXED, RECEPTACLE}),
    "Bed": frozenset({FIXED, RECEPTACLE}),
    "Shelf": frozenset({FIXED, RECEPTACLE}),
    "Dresser": frozenset({FIXED, RECEPTACLE}),
    "Bathtub": frozenset({FIXED, RECEPTACLE}),
    "Toilet": frozenset({FIXED, RECEPTACLE}),
    "LightSwitch": frozenset({FIXED, TOGGLEABLE}),
    "FloorLamp": frozenset({FIXED, TOGGLEABLE}),
    "Television": frozenset({FIXED, TOGGLEABLE}),
    "HousePlant": frozenset({LIQUID}),
    # kitchen things
    "Mug": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE, LIQUID}),
    "Cup": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE, LIQUID}),
    "Bowl": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE, LIQUID}),
    "Plate": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE}),
    "Pan": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE}),
    "Pot": frozenset({PICKUPABLE, RECEPTACLE, DIRTYABLE, LIQUID}),
    "Knife": frozenset({PICKUPABLE}),
    "ButterKnife": frozenset({PICKUPABLE}),
    "Spatula": frozenset({PICKUPABLE}),
    "Fork": frozenset({PICKUPABLE, DIRTYABLE}),
    "Spoon": frozenset({PICKUPABLE, DIRTYABLE}),
    "Bread": frozenset({PICKUPABLE, SLICEABLE}),
    "BreadSliced": frozenset({PICKUPABLE, COOKABLE}),
    "Potato": frozenset({PICKUPABLE, SLICEABLE, COOKABLE}),
    "PotatoSliced": frozenset({PICKUPABLE, COOKABLE}),
    "Tomato": frozenset({PICKUPABLE, SLICEABLE}),
    "TomatoSliced": frozenset({PICKUPABLE}),
    "Lettuce": frozenset({PICKUPABLE, SLICEABLE}),
    "LettuceSliced": frozenset({PICKUPABLE}),
    "Apple": frozenset({PICKUPABLE, SLICEABLE}),
    "AppleSliced": frozenset({PICKUPABLE}),
    "Egg": frozenset({PICKUPABLE, SLICEABLE, COOKABLE}),
    "EggCracked": frozenset({PICKUPABLE, COOKABLE}),
    "SaltShaker": frozenset({PICKUPABLE}),
    "PepperShaker": frozenset({PICKUPABLE}),
    "DishSponge": frozenset({PICKUPABLE}),
    # living room / bedroom things
    "Newspaper": frozenset({PICKUPABLE}),
    "Book": frozenset({PICKUPABLE, OPENABLE}),
    "Laptop": frozenset({PICKUPABLE, OPENABLE, TOGGLEABLE}),
    "Pen": frozenset({PICKUPABLE}),
    "Pencil": frozenset({PICKUPABLE}),
    "RemoteControl": frozenset({PICKUPABLE}),
    "KeyChain": frozenset({PICKUPABLE}),
    "CellPhone": frozenset({PICKUPABLE}),
    "Pillow": frozenset({PICKUPABLE}),
    "Watch": frozenset({PICKUPABLE}),
    "CreditCard": frozenset({PICKUPABLE}),
    "DeskLamp": frozenset({PICKUPABLE, TOGGLEABLE}),
    # bathroom things
    "Candle": frozenset({PICKUPABLE, TOGGLEABLE}),
    "SoapBar": frozenset({PICKUPABLE}),
    "SoapBottle": frozenset({PICKUPABLE}),
    "ToiletPaper": frozenset({PICKUPABLE}),
    "SprayBottle": frozenset({PICKUPABLE}),
    "Cloth": frozenset({PICKUPABLE, DIRTYABLE}),
}

# Slicing (with a held knife) replaces the object by this many pieces of "<Type>Sliced";
# an Egg is cracked into one EggCracked (AI2-THOR).
SLICES: dict[str, tuple[str, int]] = {
    "Bread": ("BreadSliced", 3),
    "Potato": ("PotatoSliced", 3),
    "Tomato": ("TomatoSliced", 3),
    "Lettuce": ("LettuceSliced", 3),
    "Apple": ("AppleSliced", 2),
    "Egg": ("EggCracked", 1),
}
SLICED_FROM: dict[str, str] = {sliced: whole for whole, (sliced, _) in SLICES.items()}
KNIVES = frozenset({"Knife", "ButterKnife"})

# Receptacles that accept only some types and hold one object at a time.
ACCEPTS: dict[str, frozenset[str]] = {
    "Toaster": frozenset({"BreadSliced"}),
    "CoffeeMachine": frozenset({"Mug", "Cup"}),
    "StoveBurner": frozenset({"Pan", "Pot"}),
}
# Portable receptacles (plates, pans, ...) hold only food and small pickupable non-receptacles.
COOKWARE_ON_STOVE = frozenset({"Pan", "Pot"})

# Appliances and what switching them on does to what is in/on them (see World._settle):
#   "clean_and_fill": everything in the sink basin gets clean, containers fill with water;
#   "coffee": a mug on it fills with coffee; "toast"/"cook": cookable contents get cooked
#   (the microwave only while closed); "stove": food in a pan cooks, food in a pot of water boils.
APPLIANCE_EFFECTS: dict[str, str] = {
    "Faucet": "clean_and_fill",
    "CoffeeMachine": "coffee",
    "Toaster": "cook",
    "Microwave": "cook",
    "StoveBurner": "stove",
}

# simbotObjectClass groups (TEACh's custom object classes used in task definitions).
# Every type is also a class of itself (AI2-THOR objectType), added by ``classes_of``.
CLASSES: dict[str, frozenset[str]] = {
    "Tables": frozenset({"DiningTable", "CoffeeTable", "SideTable", "Desk", "CounterTop"}),
    "Chairs": frozenset({"Sofa", "ArmChair"}),
    "Furniture": frozenset({"Sofa", "ArmChair", "Bed", "Shelf", "Dresser", "Desk", "SideTable",
                            "CoffeeTable", "DiningTable"}),
    "WritingUtensils": frozenset({"Pen", "Pencil"}),
    "Drinkware": frozenset({"Mug", "Cup"}),
    "Dishware": frozenset({"Plate", "Bowl"}),
    "Tableware": frozenset({"Plate", "Bowl", "Mug", "Cup", "Fork", "Spoon", "ButterKnife"}),
    "Cookware": frozenset({"Pan", "Pot"}),
    "Silverware": frozenset({"Fork", "Spoon", "ButterKnife", "Knife"}),
    "Fruit": frozenset({"Apple", "Tomato"}),
    "Vegetables": frozenset({"Potato", "Lettuce", "Tomato"}),
    "Food": frozenset({"Bread", "Potato", "Tomato", "Lettuce", "Apple", "Egg"}),
    "Lamps": frozenset({"FloorLamp", "DeskLamp"}),
    "Lights": frozenset({"LightSwitch", "FloorLamp", "DeskLamp"}),
    "Electronics": frozenset({"Laptop", "CellPhone", "RemoteControl", "Television"}),
    "SmallHandheldObjects": frozenset({"RemoteControl", "KeyChain", "CellPhone", "Watch",
                                       "CreditCard", "Pen", "Pencil"}),
    "Condiments": frozenset({"SaltShaker", "PepperShaker"}),
    "Cleaning": frozenset({"DishSponge", "SprayBottle", "Cloth", "SoapBar", "SoapBottle"}),
    "Faucets": frozenset({"Faucet"}),
}


def classes_of(obj_type: str) -> frozenset[str]:
    """All simbotObjectClass names of a type (its groups plus the type itself)."""
    return frozenset({obj_type} | {c for c, members in CLASSES.items() if obj_type in members})


def has(obj_type: str, capability: str) -> bool:
    """Whether ``obj_type`` has an AI2-THOR capability flag."""
    return capability in CAPABILITIES.get(obj_type, frozenset())


# Room templates: fixtures (with counts) every scene of that room type has, and the room of
# each portable type.  A Sink always comes with a SinkBasin and a Faucet (children).
FIXTURES: dict[str, dict[str, int]] = {
    "Kitchen": {"CounterTop": 2, "Cabinet": 3, "Drawer": 2, "Fridge": 1, "Sink": 1,
                "StoveBurner": 2, "Microwave": 1, "Toaster": 1, "CoffeeMachine": 1,
                "DiningTable": 1, "LightSwitch": 1},
    "LivingRoom": {"CoffeeTable": 1, "SideTable": 1, "Sofa": 1, "ArmChair": 1, "Shelf": 1,
                   "Drawer": 1, "DiningTable": 1, "FloorLamp": 1, "Television": 1,
                   "LightSwitch": 1},
    "Bedroom": {"Bed": 1, "Desk": 1, "SideTable": 1, "Dresser": 1, "Shelf": 1, "Drawer": 2,
                "FloorLamp": 1, "LightSwitch": 1},
    "Bathroom": {"CounterTop": 1, "Cabinet": 2, "Drawer": 1, "Sink": 1, "Bathtub": 1,
                 "Toilet": 1, "LightSwitch": 1},
}
# Where portable objects of each room are put at scene generation (weights by repetition).
ROOM_OBJECTS: dict[str, tuple[str, ...]] = {
    "Kitchen": ("Mug", "Cup", "Bowl", "Plate", "Pan", "Pot", "Knife", "ButterKnife", "Spatula",
                "Fork", "Spoon", "Bread", "Potato", "Tomato", "Lettuce", "Apple", "Egg",
                "SaltShaker", "PepperShaker", "DishSponge", "HousePlant", "Newspaper"),
    "LivingRoom": ("Newspaper", "Book", "Laptop", "Pen", "Pencil", "RemoteControl", "KeyChain",
                   "CellPhone", "Pillow", "Watch", "CreditCard", "HousePlant", "DeskLamp"),
    "Bedroom": ("Book", "Laptop", "Pen", "Pencil", "CellPhone", "Pillow", "Watch", "KeyChain",
                "CreditCard", "DeskLamp", "Newspaper"),
    "Bathroom": ("Candle", "SoapBar", "SoapBottle", "ToiletPaper", "SprayBottle", "Cloth"),
}
# Which fixtures a portable type may be generated in/on (first matching fixture types).
STORAGE: dict[str, tuple[str, ...]] = {
    "food": ("CounterTop", "Fridge", "DiningTable"),
    "Egg": ("Fridge", "CounterTop"),
    "dish": ("CounterTop", "Cabinet", "SinkBasin", "DiningTable"),
    "cookware": ("CounterTop", "Cabinet", "StoveBurner"),
    "utensil": ("Drawer", "CounterTop", "DiningTable"),
    "default": (),  # any receptacle fixture of the room
}
STORAGE_KIND: dict[str, str] = {
    **{t: "food" for t in ("Bread", "Potato", "Tomato", "Lettuce", "Apple")},
    "Egg": "Egg",
    **{t: "dish" for t in ("Mug", "Cup", "Bowl", "Plate")},
    **{t: "cookware" for t in ("Pan", "Pot")},
    **{t: "utensil" for t in ("Knife", "ButterKnife", "Spatula", "Fork", "Spoon")},
}
# Types that usually start dirty / fixtures that start open or on (TEACh scenes do this).
START_DIRTY_PROB = 0.5

# Parameter domains of the parameterised task definitions, keyed by task_name; each entry
# lists the admissible parameter tuples (for "#k" in order), with the room the scene is in.
# Counts ("N ...") are strings as the definitions use them.
PARAM_DOMAINS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "Clean X": tuple(("Kitchen", (x,)) for x in ("Mug", "Cup", "Bowl", "Plate", "Pan", "Pot",
                                                 "Cookware", "Dishware", "Drinkware")),
    "Sliced X": tuple(("Kitchen", (x,)) for x in ("Bread", "Potato", "Tomato", "Lettuce", "Apple")),
    "Cooked Slice Of X": tuple(("Kitchen", (x,)) for x in ("Potato", "Bread")),
    "N Cooked Slices Of X In Y": tuple(("Kitchen", (n, "Potato", prep, y)) for n in ("1", "2")
                                       for prep, y in (("on", "Plate"), ("in", "Bowl"))),
    "N Slices Of X In Y": tuple(("Kitchen", (n, x, prep, y)) for n in ("1", "2")
                                for x in ("Tomato", "Lettuce", "Apple")
                                for prep, y in (("on", "Plate"), ("in", "Bowl"))),
    "Put All X On Y": (
        ("LivingRoom", ("Newspaper", "on", "Tables")), ("LivingRoom", ("RemoteControl", "on", "Sofa")),
        ("LivingRoom", ("Pillow", "on", "ArmChair")), ("LivingRoom", ("Watch", "on", "CoffeeTable")),
        ("LivingRoom", ("KeyChain", "on", "Tables")), ("Bedroom", ("Book", "on", "Bed")),
        ("Bedroom", ("CellPhone", "on", "Desk")), ("Bedroom", ("Pillow", "on", "Bed")),
        ("Kitchen", ("Fork", "on", "DiningTable")), ("Kitchen", ("SaltShaker", "on", "CounterTop")),
        ("Kitchen", ("Drinkware", "on", "DiningTable")),
    ),
    "Put All X In One Y": (
        ("LivingRoom", ("RemoteControl", "in", "Drawer")), ("LivingRoom", ("CreditCard", "in", "Drawer")),
        ("LivingRoom", ("Newspaper", "on", "Shelf")), ("Bedroom", ("Pencil", "in", "Drawer")),
        ("Bedroom", ("WritingUtensils", "in", "Drawer")), ("Bedroom", ("Watch", "on", "Dresser")),
        ("Kitchen", ("Silverware", "in", "Drawer")), ("Kitchen", ("Fork", "in", "Drawer")),
        ("Kitchen", ("Potato", "in", "Fridge")), ("Kitchen", ("Dishware", "in", "Cabinet")),
        ("Bathroom", ("SoapBar", "in", "Cabinet")), ("Bathroom", ("ToiletPaper", "on", "Toilet")),
    ),
    "Boil X": (("Kitchen", ("Potato",)), ("Kitchen", ("Egg",))),
    "Clean All X": tuple(("Kitchen", (x,)) for x in ("Mug", "Cup", "Bowl", "Plate", "Pan", "Pot",
                                                     "Cookware", "Dishware", "Drinkware")),
    "Toggle X All Y": (
        ("LivingRoom", ("on", "1", "FloorLamp")), ("LivingRoom", ("off", "0", "FloorLamp")),
        ("LivingRoom", ("on", "1", "Lamps")), ("LivingRoom", ("off", "0", "Television")),
        ("Bedroom", ("on", "1", "DeskLamp")), ("Bedroom", ("off", "0", "Lamps")),
        ("Kitchen", ("off", "0", "Faucet")), ("Kitchen", ("off", "0", "StoveBurner")),
    ),
    "Sandwich": tuple(("Kitchen", (a, b)) for a in ("1", "2") for b in ("0", "1")),
    "Salad": tuple(("Kitchen", (a, b, c)) for a in ("0", "1") for b in ("0", "1", "2")
                   for c in ("0", "1") if int(a) + int(b) + int(c) > 0),
    "Workspace": tuple((room, (a, b, c)) for room in ("LivingRoom", "Bedroom")
                       for a in ("1", "2") for b in ("0", "1") for c in ("0", "1")),
    # Breakfast: coffees, plates of toast, potato dishes, potato plate, apple dishes, apple
    # plate, sandwiches, lettuce/tomato per sandwich, salads, lettuce/tomato/potato per salad, serving spot.
    "Breakfast": (
        ("Kitchen", ("1", "1", "0", "Plate", "0", "Plate", "0", "1", "1", "0", "1", "1", "1", "CounterTop")),
        ("Kitchen", ("1", "0", "1", "Plate", "0", "Plate", "0", "1", "1", "0", "1", "1", "1", "DiningTable")),
        ("Kitchen", ("0", "1", "0", "Plate", "1", "Plate", "0", "1", "1", "0", "1", "1", "1", "DiningTable")),
        ("Kitchen", ("1", "0", "0", "Plate", "0", "Plate", "1", "1", "1", "0", "1", "1", "1", "CounterTop")),
        ("Kitchen", ("0", "0", "0", "Plate", "0", "Plate", "0", "1", "1", "1", "1", "1", "1", "DiningTable")),
        ("Kitchen", ("1", "0", "0", "Plate", "1", "Bowl", "0", "1", "0", "1", "1", "0", "0", "CounterTop")),
    ),
}
# Room of the parameterless definitions (default: Kitchen).
TASK_ROOMS: dict[str, str] = {"Candles": "Bathroom", "Basic Bathroom Tasks": "Bathroom"}
# Receptacles one puts things "in" (otherwise "on"), for World.location.
CONTAINERS_IN = frozenset({"Cabinet", "Drawer", "Fridge", "Sink", "SinkBasin", "Microwave", "Toaster",
                           "Bathtub", "Toilet", "Mug", "Cup", "Bowl", "Pot"})
# Portable objects every scene of a room has (tools the tasks need), besides the task's objects.
BASE_OBJECTS: dict[str, tuple[str, ...]] = {
    "Kitchen": ("Knife", "Pan", "Pot", "Mug", "Plate", "Bowl"),
    "LivingRoom": (), "Bedroom": (), "Bathroom": (),
}
# Which capability a goal state needs: scene generation only sets a state on types that have it.
STATE_CAPABILITY: dict[str, str] = {
    "isDirty": DIRTYABLE, "isToggled": TOGGLEABLE, "isOpen": OPENABLE, "isFilledWithLiquid": LIQUID,
    "simbotIsFilledWithCoffee": LIQUID, "isCooked": COOKABLE, "simbotIsCooked": COOKABLE,
    "simbotIsBoiled": COOKABLE,
}
