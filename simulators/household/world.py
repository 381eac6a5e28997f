"""The text household world: a networkx graph with TEACh/AI2-THOR object states.

After TEACh (Padmakumar et al., AAAI 2022): rooms hold furniture and appliances, which hold
objects (edges parent -> child mean "in/on").  A robot stands next to one top-level piece of
furniture and holds at most one object.  Actions are TEACh's follower actions with an object
target ("Move to" becomes ``Navigate``); every action checks its preconditions and answers with
an ``Outcome``.  Appliances that are on act on what is in/on them after every action.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from simulators.household import vocab
from simulators.household.vocab import (
    DIRTYABLE, LIQUID, OPENABLE, PICKUPABLE, RECEPTACLE, SLICEABLE, TOGGLEABLE, COOKABLE, has,
)

if TYPE_CHECKING:
    from simulators.household.tasks import TaskInstance

ACTION_KINDS = ("Navigate", "Pickup", "Place", "Open", "Close", "ToggleOn", "ToggleOff", "Slice", "Pour")
TOKENS = {"Navigate": "<move>", "Pickup": "<pickup>", "Place": "<putdown>", "Open": "<open>",
          "Close": "<close>", "ToggleOn": "<toggle on>", "ToggleOff": "<toggle off>",
          "Slice": "<slice>", "Pour": "<pour>"}
KIND_OF_TOKEN = {token: kind for kind, token in TOKENS.items()}
ACTION_RE = re.compile(r"^\s*(<[a-z ]+>)\s*([A-Za-z]+(?:_\d+)?)?\s*$")

# TEACh object state attributes kept on every object node, with their initial values.
STATE_DEFAULTS: dict[str, Any] = {
    "isDirty": 0, "isFilledWithLiquid": 0, "fillLiquid": None, "simbotIsFilledWithCoffee": 0,
    "isSliced": 0, "isCooked": 0, "simbotIsCooked": 0, "simbotIsBoiled": 0,
    "isToggled": 0, "isOpen": 0, "isPickedUp": 0,
}


@dataclass(frozen=True)
class Action:
    """A follower action: ``kind`` in ACTION_KINDS and an object id or type name."""

    kind: str
    target: str | None = None

    def text(self) -> str:
        """TEACh's action token plus the target, e.g. ``"<pickup> Mug_1"``."""
        return f"{TOKENS[self.kind]} {self.target}" if self.target else TOKENS[self.kind]


def parse_action(text: str) -> Action | None:
    """Inverse of ``Action.text``; accepts ids ("Mug_1") and type names ("Mug"); None if unparsable."""
    m = ACTION_RE.match(text)
    if not m or m.group(1) not in KIND_OF_TOKEN:
        return None
    return Action(KIND_OF_TOKEN[m.group(1)], m.group(2))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


class World:
    """Household state: ``graph`` (rooms -> furniture -> objects) plus the robot."""

    def __init__(self) -> None:
        self.graph = nx.DiGraph()
        self.robot_at: str | None = None
        self.holding: str | None = None
        self._counters: dict[str, int] = {}

    # ----- building -----
    def add_room(self, name: str) -> str:
        self.graph.add_node(name, type=name, room=True)
        return name

    def add(self, obj_type: str, parent: str, **state: Any) -> str:
        """Add an object of ``obj_type`` in/on ``parent``; returns its id ("Mug_1")."""
        if obj_type not in vocab.CAPABILITIES:
            raise ValueError(f"unknown object type {obj_type!r}")
        n = self._counters.get(obj_type, 0) + 1
        self._counters[obj_type] = n
        oid = f"{obj_type}_{n}"
        attrs = dict(STATE_DEFAULTS, type=obj_type, receptacle=int(has(obj_type, RECEPTACLE)), room=False)
        attrs.update(state)
        self.graph.add_node(oid, **attrs)
        self.graph.add_edge(parent, oid)
        return oid

    # ----- queries -----
    def type_of(self, oid: str) -> str:
        return self.graph.nodes[oid]["type"]

    def state(self, oid: str) -> dict[str, Any]:
        return self.graph.nodes[oid]

    def objects(self) -> list[str]:
        """All non-room node ids in insertion order."""
        return [n for n, a in self.graph.nodes(data=True) if not a["room"]]

    def rooms(self) -> list[str]:
        return [n for n, a in self.graph.nodes(data=True) if a["room"]]

    def parent(self, oid: str) -> str | None:
        preds = list(self.graph.predecessors(oid))
        return preds[0] if preds else None

    def children(self, oid: str) -> list[str]:
        return list(self.graph.successors(oid))

    def containers(self, oid: str) -> list[str]:
        """Receptacles holding ``oid``, innermost first (AI2-THOR parentReceptacles), no rooms."""
        out, p = [], self.parent(oid)
        while p is not None and not self.graph.nodes[p]["room"]:
            out.append(p)
            p = self.parent(p)
        return out

    def top(self, oid: str) -> str | None:
        """The top-level furniture ``oid`` is in/on (itself if top-level); None while held."""
        chain = [oid] + self.containers(oid)
        p = self.parent(chain[-1])
        return chain[-1] if p is not None and self.graph.nodes[p]["room"] else None

    def room_of(self, oid: str) -> str | None:
        node = oid if oid != self.holding else self.robot_at
        while node is not None and not self.graph.nodes[node]["room"]:
            node = self.parent(node)
        return node

    def blocker(self, oid: str) -> str | None:
        """The closed container that hides ``oid`` (None when reachable)."""
        for c in self.containers(oid):
            if has(self.type_of(c), OPENABLE) and not self.graph.nodes[c]["isOpen"]:
                return c
        return None

    def is_near(self, oid: str) -> bool:
        return self.robot_at is not None and self.top(oid) == self.robot_at

    def resolve(self, type_or_id: str, near: str | None = None) -> str | None:
        """An object id for an id or type name: prefer one at the robot's position, then one
        whose location matches ``near`` (an id or type), then the first."""
        if type_or_id in self.graph and not self.graph.nodes[type_or_id]["room"]:
            return type_or_id
        want = type_or_id.lower()
        cands = [o for o in self.objects() if self.type_of(o).lower() == want]
        if not cands:
            return None
        if self.holding in cands:
            return self.holding
        here = [o for o in cands if self.is_near(o)]
        if here:
            return here[0]
        if near:
            for o in cands:
                p = self.parent(o)
                if p is not None and near.lower() in (p.lower(), self.type_of(p).lower()):
                    return o
        return cands[0]

    def location(self, oid: str) -> str:
        """Where ``oid`` is, in words: "in Cabinet_2", "on CounterTop_1", "held by you"."""
        if oid == self.holding:
            return "held by you"
        p = self.parent(oid)
        if p is None:
            return "nowhere"
        if self.graph.nodes[p]["room"]:
            return f"in {p}"
        return f"{'in' if self.type_of(p) in vocab.CONTAINERS_IN else 'on'} {p}"

    def states_text(self, oid: str) -> str:
        """The true states of an object, e.g. "dirty, filled with water"."""
        a, t = self.graph.nodes[oid], self.type_of(oid)
        out = []
        if has(t, OPENABLE):
            out.append("open" if a["isOpen"] else "closed")
        if has(t, TOGGLEABLE):
            out.append("on" if a["isToggled"] else "off")
        if a["isDirty"]:
            out.append("dirty")
        if a["isFilledWithLiquid"]:
            out.append(f"filled with {a['fillLiquid']}")
        if a["simbotIsBoiled"]:
            out.append("boiled")
        elif a["isCooked"]:
            out.append("cooked")
        return ", ".join(out)

    def describe(self) -> str:
        """The whole state as indented lines: room -> furniture -> objects (with states)."""
        lines = [f"Robot: at {self.robot_at or 'nothing'}, holding {self.holding or 'nothing'}"]

        def walk(node: str, depth: int) -> None:
            states = self.states_text(node) if not self.graph.nodes[node]["room"] else ""
            lines.append("  " * depth + node + (f" ({states})" if states else ""))
            for c in self.children(node):
                walk(c, depth + 1)

        for room in self.rooms():
            walk(room, 0)
        if self.holding:
            lines.append("Held by the robot:")
            walk(self.holding, 1)
        return "\n".join(lines)

    # ----- persistence -----
    def copy(self) -> World:
        w = World()
        w.graph = self.graph.copy()
        w.robot_at, w.holding, w._counters = self.robot_at, self.holding, dict(self._counters)
        return w

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``World.from_dict(w.to_dict())`` reproduces ``w`` exactly."""
        return {"nodes": [dict(a, id=n) for n, a in self.graph.nodes(data=True)],
                "edges": [list(e) for e in self.graph.edges()],
                "robot_at": self.robot_at, "holding": self.holding, "counters": dict(self._counters)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> World:
        w = cls()
        for node in data["nodes"]:
            attrs = dict(node)
            w.graph.add_node(attrs.pop("id"), **attrs)
        w.graph.add_edges_from(tuple(e) for e in data["edges"])
        w.robot_at, w.holding, w._counters = data["robot_at"], data["holding"], dict(data["counters"])
        return w

    # ----- acting -----
    def apply(self, action: Action) -> Outcome:
        """Execute one action: check its preconditions, change the state, let appliances act."""
        if action.kind not in ACTION_KINDS:
            return Outcome(False, f"unknown action {action.kind!r}")
        if not action.target:
            return Outcome(False, f"{TOKENS[action.kind]} needs an object")
        target = self.resolve(action.target)
        if target is None:
            return Outcome(False, f"there is no {action.target} here")
        outcome = getattr(self, f"_do_{action.kind.lower()}")(target)
        if outcome.ok:
            self._settle()
        return outcome

    def _reach(self, verb: str, oid: str) -> str | None:
        """Failure message when ``oid`` is not within reach (None when it is)."""
        if oid == self.holding:
            return None
        if not self.is_near(oid):
            return f"you are not near {oid}"
        hidden = self.blocker(oid)
        if hidden:
            return f"cannot {verb} {oid}: it is inside {hidden}, which is closed"
        return None

    def _do_navigate(self, oid: str) -> Outcome:
        if oid == self.holding:
            return Outcome(False, f"you are holding {oid}")
        self.robot_at = self.top(oid)
        return Outcome(True, f"you are next to {self.robot_at}")

    def _do_pickup(self, oid: str) -> Outcome:
        if not has(self.type_of(oid), PICKUPABLE):
            return Outcome(False, f"cannot pick up {oid}: it cannot be picked up")
        if self.holding is not None:
            return Outcome(False, f"cannot pick up {oid}: your hands are full")
        problem = self._reach("pick up", oid)
        if problem:
            return Outcome(False, problem)
        self.graph.remove_edge(self.parent(oid), oid)
        self.graph.nodes[oid]["isPickedUp"] = 1
        self.holding = oid
        return Outcome(True, f"you pick up {oid}")

    def _do_place(self, oid: str) -> Outcome:
        held = self.holding
        if held is None:
            return Outcome(False, "cannot place: you are not holding anything")
        if oid == held:
            return Outcome(False, f"cannot place {held} in itself")
        t = self.type_of(oid)
        if not has(t, RECEPTACLE):
            return Outcome(False, f"cannot place: {oid} is not a receptacle")
        problem = self._reach("place into", oid)
        if problem:
            return Outcome(False, problem)
        if has(t, OPENABLE) and not self.graph.nodes[oid]["isOpen"]:
            return Outcome(False, f"cannot place: {oid} is closed")
        accepts = vocab.ACCEPTS.get(t)
        if accepts is not None:
            if self.type_of(held) not in accepts:
                return Outcome(False, f"cannot place: {oid} only takes {' or '.join(sorted(accepts))}")
            if self.children(oid):
                return Outcome(False, f"cannot place: {oid} already holds {self.children(oid)[0]}")
        if has(t, PICKUPABLE) and has(self.type_of(held), RECEPTACLE):
            return Outcome(False, f"cannot place: {held} does not fit {self.location(oid).split()[0]} {oid}")
        self.graph.add_edge(oid, held)
        self.graph.nodes[held]["isPickedUp"] = 0
        self.holding = None
        return Outcome(True, f"you put {held} {'in' if t in vocab.CONTAINERS_IN else 'on'} {oid}")

    def _open_close(self, oid: str, value: int) -> Outcome:
        verb = "open" if value else "close"
        if not has(self.type_of(oid), OPENABLE):
            return Outcome(False, f"cannot {verb} {oid}: it does not open")
        problem = self._reach(verb, oid)
        if problem:
            return Outcome(False, problem)
        if self.graph.nodes[oid]["isOpen"] == value:
            return Outcome(False, f"cannot {verb} {oid}: it is already {'open' if value else 'closed'}")
        self.graph.nodes[oid]["isOpen"] = value
        return Outcome(True, f"you {verb} {oid}")

    def _do_open(self, oid: str) -> Outcome:
        return self._open_close(oid, 1)

    def _do_close(self, oid: str) -> Outcome:
        return self._open_close(oid, 0)

    def _toggle(self, oid: str, value: int) -> Outcome:
        word = "on" if value else "off"
        if not has(self.type_of(oid), TOGGLEABLE):
            return Outcome(False, f"cannot turn {word} {oid}: it has no switch")
        problem = self._reach(f"turn {word}", oid)
        if problem:
            return Outcome(False, problem)
        if self.graph.nodes[oid]["isToggled"] == value:
            return Outcome(False, f"cannot turn {word} {oid}: it is already {word}")
        self.graph.nodes[oid]["isToggled"] = value
        return Outcome(True, f"you turn {word} {oid}")

    def _do_toggleon(self, oid: str) -> Outcome:
        return self._toggle(oid, 1)

    def _do_toggleoff(self, oid: str) -> Outcome:
        return self._toggle(oid, 0)

    def _do_slice(self, oid: str) -> Outcome:
        t = self.type_of(oid)
        if not has(t, SLICEABLE):
            return Outcome(False, f"cannot slice: {oid} cannot be sliced")
        if self.holding is None or self.type_of(self.holding) not in vocab.KNIVES:
            return Outcome(False, "cannot slice: you are not holding a knife")
        problem = self._reach("slice", oid)
        if problem:
            return Outcome(False, problem)
        parent, a = self.parent(oid), self.graph.nodes[oid]
        inherited = {k: a[k] for k in ("isCooked", "simbotIsCooked", "simbotIsBoiled")}
        sliced_type, count = vocab.SLICES[t]
        self.graph.remove_node(oid)
        pieces = [self.add(sliced_type, parent, isSliced=1, **inherited) for _ in range(count)]
        return Outcome(True, f"you slice {oid} into {', '.join(pieces)}")

    def _do_pour(self, oid: str) -> Outcome:
        held = self.holding
        if held is None:
            return Outcome(False, "cannot pour: you are not holding anything")
        if not has(self.type_of(held), LIQUID) or not self.graph.nodes[held]["isFilledWithLiquid"]:
            return Outcome(False, f"cannot pour: {held} is empty")
        t = self.type_of(oid)
        if oid == held or not (has(t, LIQUID) or t in ("Sink", "SinkBasin")):
            return Outcome(False, f"cannot pour into {oid}")
        problem = self._reach("pour into", oid)
        if problem:
            return Outcome(False, problem)
        liquid = self.graph.nodes[held]["fillLiquid"]
        if has(t, LIQUID):
            self._fill(oid, liquid)
        self.graph.nodes[held].update(isFilledWithLiquid=0, fillLiquid=None, simbotIsFilledWithCoffee=0)
        return Outcome(True, f"you pour the {liquid} from {held} into {oid}")

    # ----- appliances -----
    def _fill(self, oid: str, liquid: str) -> None:
        self.graph.nodes[oid].update(isFilledWithLiquid=1, fillLiquid=liquid,
                                     simbotIsFilledWithCoffee=int(liquid == "coffee"))

    def _cook(self, oid: str, boil: bool) -> None:
        if has(self.type_of(oid), COOKABLE):
            self.graph.nodes[oid].update(isCooked=1, simbotIsCooked=1)
            if boil:
                self.graph.nodes[oid]["simbotIsBoiled"] = 1

    def _heat(self, appliance: str) -> None:
        """Cook what is on a heat source; food in a container of water boils."""
        for c in self.children(appliance):
            self._cook(c, boil=False)
            water = self.graph.nodes[c]["isFilledWithLiquid"] and self.graph.nodes[c]["fillLiquid"] == "water"
            for food in self.children(c):
                self._cook(food, boil=bool(water))

    def _settle(self) -> None:
        """Let every switched-on appliance act on its contents (AI2-THOR state changes)."""
        for oid in self.objects():
            t, a = self.type_of(oid), self.graph.nodes[oid]
            effect = vocab.APPLIANCE_EFFECTS.get(t)
            if effect is None or not a["isToggled"]:
                continue
            if effect == "clean_and_fill":
                for basin in self.children(self.parent(oid)):
                    if self.type_of(basin) != "SinkBasin":
                        continue
                    for item in nx.descendants(self.graph, basin):
                        if has(self.type_of(item), DIRTYABLE):
                            self.graph.nodes[item]["isDirty"] = 0
                        if has(self.type_of(item), LIQUID):
                            self._fill(item, "water")
            elif effect == "coffee":
                for mug in self.children(oid):
                    self._fill(mug, "coffee")
            elif effect == "cook" and not (has(t, OPENABLE) and a["isOpen"]):
                self._heat(oid)
            elif effect == "stove":
                self._heat(oid)


# ----- scene generation -----

def _place_spots(world: World, room: str, obj_type: str, avoid: frozenset[str]) -> list[str]:
    """Furniture in ``room`` where an object of ``obj_type`` may be generated."""
    spots = [o for o in world.objects()
             if world.room_of(o) == room and has(world.type_of(o), RECEPTACLE) and not has(world.type_of(o), PICKUPABLE)
             and world.type_of(o) not in avoid and world.type_of(o) != "Sink"
             and not (vocab.classes_of(world.type_of(o)) & avoid)]
    kind = vocab.STORAGE_KIND.get(obj_type, "default")
    if kind == "cookware":
        spots = [s for s in spots if world.type_of(s) != "StoveBurner" or not world.children(s)]
    allowed = [s for s in spots if world.type_of(s) in vocab.STORAGE[kind]]
    general = [s for s in spots if world.type_of(s) not in vocab.ACCEPTS and world.type_of(s) != "Microwave"]
    return allowed or general


def generate_scene(instance: TaskInstance, rng: random.Random) -> World:
    """A one-room scene with every object ``instance`` needs (2-3 of each "all" type) plus
    distractors; goal-relevant states start unmet, containers start closed.  Deterministic in ``rng``."""
    from simulators.household.tasks import scene_needs

    needs = scene_needs(instance, rng)
    world = World()
    room = world.add_room(needs.room)
    for fixture, count in vocab.FIXTURES[needs.room].items():
        for _ in range(count):
            fid = world.add(fixture, room)
            if fixture == "Sink":
                world.add("SinkBasin", fid)
                world.add("Faucet", fid)
    wanted: dict[str, int] = {}
    for t in vocab.BASE_OBJECTS[needs.room]:
        wanted[t] = max(wanted.get(t, 0), 1)
    for t, n in needs.counts.items():
        wanted[t] = max(wanted.get(t, 0), n)
    pool = [t for t in vocab.ROOM_OBJECTS[needs.room] if t not in wanted and t not in needs.exclude]
    for t in rng.sample(pool, min(len(pool), rng.randint(3, 5))):
        wanted[t] = 1
    for t, n in wanted.items():
        present = sum(1 for o in world.objects() if world.type_of(o) == t)
        for _ in range(n - present):
            spots = _place_spots(world, room, t, needs.avoid)
            oid = world.add(t, rng.choice(spots))
            if has(t, DIRTYABLE):
                world.state(oid)["isDirty"] = int(rng.random() < vocab.START_DIRTY_PROB)
            if has(t, OPENABLE) and has(t, PICKUPABLE):
                world.state(oid)["isOpen"] = int(rng.random() < 0.5)
    for oid in world.objects():
        for attr, value in needs.unmet_states.get(world.type_of(oid), ()):
            world.state(oid)[attr] = value
    world._settle()
    return world
