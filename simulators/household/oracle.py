"""Oracle planner for TEACh tasks in the text household world (Padmakumar et al., AAAI 2022).

The plan is derived from the unmet goal conditions of ``tasks.assign``: repeatedly take the
most basic unmet condition (missing slices first, then cleaning, coffee, cooking, liquids,
switches, and finally placements), run its recipe on a private copy of the world (with the
Navigate and Open steps it needs), and re-check, until the task succeeds.
"""

from __future__ import annotations

from typing import Any

from simulators.household import vocab
from simulators.household.tasks import Assignment, TaskInstance, assign, matches
from simulators.household.vocab import OPENABLE, PICKUPABLE, RECEPTACLE, has
from simulators.household.world import Action, World

# Order in which unmet conditions are worked on (lower first); relations come last.
PRIORITY = {"objectType": 0, "simbotObjectClass": 0, "isDirty": 1, "simbotIsFilledWithCoffee": 2,
            "isCooked": 3, "simbotIsCooked": 3, "simbotIsBoiled": 3, "isFilledWithLiquid": 4,
            "isOpen": 5, "isToggled": 5}
RELATION_PRIORITY = 6
MAX_ROUNDS = 200


class OracleError(RuntimeError):
    """The oracle found no way to reach the goal (a scene or vocabulary bug, not a user error)."""


class _Planner:
    """Runs recipes on a copy of the world and records the actions."""

    def __init__(self, world: World) -> None:
        self.w = world.copy()
        self.actions: list[Action] = []

    def do(self, kind: str, target: str) -> None:
        out = self.w.apply(Action(kind, target))
        if not out.ok:
            raise OracleError(f"oracle step {Action(kind, target).text()} failed: {out.message}")
        self.actions.append(Action(kind, target))

    def first(self, pred) -> str | None:
        return next((o for o in self.w.objects() if pred(o)), None)

    # ----- movement and hands -----
    def reach(self, oid: str) -> None:
        """Stand next to ``oid`` and open whatever closed container hides it."""
        if oid == self.w.holding:
            return
        if not self.w.is_near(oid):
            self.do("Navigate", oid)
        while (blocker := self.w.blocker(oid)) is not None:
            self.do("Open", blocker)

    def _general(self, oid: str) -> bool:
        t = self.w.type_of(oid)
        return (has(t, RECEPTACLE) and not has(t, PICKUPABLE) and t not in vocab.ACCEPTS
                and t not in ("Microwave", "Sink", "SinkBasin")
                and (not has(t, OPENABLE) or self.w.state(oid)["isOpen"]))

    def put_down(self) -> None:
        """Put the held object on nearby furniture (or the first open furniture of the room)."""
        if self.w.holding is None:
            return
        spot = self.w.robot_at if self.w.robot_at and self._general(self.w.robot_at) else None
        if spot is None:
            room = self.w.room_of(self.w.holding)
            spot = self.first(lambda o: self._general(o) and self.w.parent(o) == room)
            if spot is None:
                raise OracleError("no free furniture to put things on")
            self.do("Navigate", spot)
        self.do("Place", spot)

    def pick(self, oid: str) -> None:
        if self.w.holding == oid:
            return
        self.put_down()
        self.reach(oid)
        self.do("Pickup", oid)

    def put(self, oid: str, dest: str) -> None:
        """Move ``oid`` in/on ``dest``."""
        if self.w.parent(oid) == dest:
            return
        if self.w.type_of(dest) in vocab.ACCEPTS:
            for occupant in self.w.children(dest):
                self.pick(occupant)
                self.put_down()
        self.pick(oid)
        self.reach(dest)
        if has(self.w.type_of(dest), OPENABLE) and not self.w.state(dest)["isOpen"]:
            self.do("Open", dest)
        self.do("Place", dest)

    def switch(self, oid: str, value: int) -> None:
        if self.w.state(oid)["isToggled"] != value:
            self.reach(oid)
            self.do("ToggleOn" if value else "ToggleOff", oid)

    # ----- recipes -----
    def rinse(self, oid: str) -> None:
        """Put ``oid`` in a sink basin and run the water: it gets clean (and filled if it can)."""
        basin = self.first(lambda o: self.w.type_of(o) == "SinkBasin")
        faucet = self.first(lambda o: self.w.type_of(o) == "Faucet" and self.w.parent(o) == self.w.parent(basin))
        if basin is None or faucet is None:
            raise OracleError("no sink to rinse things in")
        self.put(oid, basin)
        if self.w.state(faucet)["isToggled"]:
            self.switch(faucet, 0)
        self.switch(faucet, 1)
        self.switch(faucet, 0)

    def make_slices(self, sliced_type: str) -> None:
        whole = vocab.SLICED_FROM.get(sliced_type)
        target = whole and self.first(lambda o: self.w.type_of(o) == whole)
        knife = self.first(lambda o: self.w.type_of(o) in vocab.KNIVES)
        if not target or knife is None:
            raise OracleError(f"cannot make {sliced_type}: no {whole or 'source'} or no knife")
        if self.w.holding == target:
            self.put_down()
        self.pick(knife)
        self.reach(target)
        self.do("Slice", target)

    def coffee(self, mug: str) -> None:
        machine = self.first(lambda o: self.w.type_of(o) == "CoffeeMachine")
        if machine is None:
            raise OracleError("no coffee machine")
        self.put(mug, machine)
        self.switch(machine, 1)
        self.switch(machine, 0)

    def _burner_with(self, vessel: str) -> str:
        burners = [o for o in self.w.objects() if self.w.type_of(o) == "StoveBurner"]
        if not burners:
            raise OracleError("no stove burner")
        here = self.w.parent(vessel)
        if here in burners:
            return here
        free = [b for b in burners if not self.w.children(b)]
        burner = free[0] if free else burners[0]
        self.put(vessel, burner)
        return burner

    def cook(self, food: str, boil: bool) -> None:
        if not boil and self.w.type_of(food) == "BreadSliced":
            toaster = self.first(lambda o: self.w.type_of(o) == "Toaster")
            if toaster is None:
                raise OracleError("no toaster")
            self.put(food, toaster)
            self.switch(toaster, 1)
            self.switch(toaster, 0)
            return
        vessel_type = "Pot" if boil else "Pan"
        vessel = self.first(lambda o: self.w.type_of(o) == vessel_type and o != food)
        if vessel is None:
            raise OracleError(f"no {vessel_type} to cook in")
        if boil and not (self.w.state(vessel)["isFilledWithLiquid"] and self.w.state(vessel)["fillLiquid"] == "water"):
            self.rinse(vessel)
        burner = self._burner_with(vessel)
        self.put(food, vessel)
        self.switch(burner, 1)
        self.switch(burner, 0)

    def water(self, target: str) -> None:
        """Bring water from the sink in a container and pour it into ``target``."""
        container = None
        for t in ("Cup", "Bowl", "Pot", "Mug"):
            container = container or self.first(lambda o, t=t: self.w.type_of(o) == t)
        if container is None:
            raise OracleError("no container for water")
        if not (self.w.state(container)["isFilledWithLiquid"] and self.w.state(container)["fillLiquid"] == "water"):
            self.rinse(container)
        self.pick(container)
        self.reach(target)
        self.do("Pour", target)

    def satisfy(self, obj: str | None, attr: str, value: Any) -> None:
        """Run the recipe for one unmet condition of ``obj`` (None: no object of the kind yet)."""
        if attr in ("objectType", "simbotObjectClass"):
            if attr == "objectType" and value in vocab.SLICED_FROM:
                self.make_slices(value)
                return
            raise OracleError(f"the scene has no {value}")
        if obj is None:
            raise OracleError(f"no object for condition {attr}={value}")
        if attr == "isDirty" and value == 0:
            self.rinse(obj)
        elif attr == "simbotIsFilledWithCoffee" and value == 1:
            self.coffee(obj)
        elif attr in ("isCooked", "simbotIsCooked") and value == 1:
            self.cook(obj, boil=False)
        elif attr == "simbotIsBoiled" and value == 1:
            self.cook(obj, boil=True)
        elif attr == "isFilledWithLiquid" and value == 1:
            if has(self.w.type_of(obj), PICKUPABLE):
                self.rinse(obj)
            else:
                self.water(obj)
        elif attr == "isToggled":
            self.switch(obj, int(value))
        elif attr == "isOpen":
            if self.w.state(obj)["isOpen"] != value:
                self.reach(obj)
                self.do("Open" if value else "Close", obj)
        else:
            raise OracleError(f"no recipe for {attr}={value}")

    def step(self, a: Assignment) -> None:
        """Work on the most basic unmet condition of the assignment."""
        todo = [(PRIORITY.get(attr, 9), i, "cond", (s, attr, v)) for i, (s, attr, v) in enumerate(a.unmet_conditions)]
        todo += [(RELATION_PRIORITY, i, "rel", (s, r)) for i, (s, r) in enumerate(a.unmet_relations)]
        _, _, kind, item = min(todo, key=lambda x: x[:2])
        if kind == "cond":
            slot, attr, value = item
            self.satisfy(slot.obj, attr, value)
            return
        slot, req = item
        if slot.obj is None:
            raise OracleError(f"no object to place for {req.failure_desc!r}")
        if req.same_tail:
            dest = a.tails.get(req.tail)
        else:
            conds = a.groups[req.tail].conditions
            fits = [o for o in self.w.objects() if o != slot.obj and matches(self.w, o, conds)]
            dest = next((o for o in fits if self.w.is_near(o)), fits[0] if fits else None)
        if dest is None:
            raise OracleError(f"nowhere to satisfy {req.failure_desc!r}")
        self.put(slot.obj, dest)


def plan(instance: TaskInstance, world: World) -> list[Action]:
    """Actions that take ``world`` to a state where ``instance`` succeeds (``world`` is not changed).

    Raises OracleError when the scene makes the task impossible."""
    p = _Planner(world)
    for _ in range(MAX_ROUNDS):
        a = assign(instance, p.w)
        if a.status.success:
            return p.actions
        p.step(a)
    raise OracleError(f"oracle gave up on {instance.name!r} after {MAX_ROUNDS} rounds")


def next_action(instance: TaskInstance, world: World) -> Action | None:
    """First step of a fresh plan (None when the task is already done)."""
    actions = plan(instance, world)
    return actions[0] if actions else None
