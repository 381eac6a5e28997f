"""Task instances and goal checking read from TEACh task definitions (Padmakumar et al., AAAI 2022).

An instance fills a definition's ``#k`` parameters (recursively through nested tasks).  ``check``
flattens it into *slots* (one per object a component needs; "all" = one per matching object),
assigns world objects to slots by maximum-weight bipartite matching (non-shareable slots take
distinct objects), and counts satisfied conditions over all conditions: TEACh's goal-condition
success.  Relations (``parentReceptacles``) add one condition per head slot.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import networkx as nx

from workbench.errors import WorkbenchError
from simulators.household import vocab
from simulators.household.definitions import PARAM, Component, TaskDefinition
from simulators.household.vocab import FIXED, PICKUPABLE, has

if TYPE_CHECKING:
    from simulators.household.world import World

CLASS_ATTRS = ("objectType", "simbotObjectClass")


def fill(text: str, params: tuple[str, ...]) -> str:
    """Substitute ``#k`` by ``params[k]``."""
    return PARAM.sub(lambda m: params[int(m.group(1))], text)


def _count(determiner: str) -> int | None:
    """Number of objects a determiner asks for; None for "all"."""
    if determiner == "all":
        return None
    if determiner in ("a", "an", "the", "one"):
        return 1
    if not determiner.isdigit():
        raise WorkbenchError(f"determiner {determiner!r} is neither a/the/all nor a number")
    return int(determiner)


def _value(attr: str, value: Any) -> Any:
    if attr in CLASS_ATTRS or not isinstance(value, str):
        return value
    return int(value) if value.lstrip("-").isdigit() else value


@dataclass(frozen=True)
class Group:
    """A conditions component of one (sub-)instance copy: ``count`` objects (None = all)."""

    path: str
    count: int | None
    shareable: bool
    conditions: tuple[tuple[str, Any], ...]
    primary: tuple[str, Any]
    failure_descs: dict[str, str] = field(hash=False, compare=False)


@dataclass(frozen=True)
class Requirement:
    """Every object of the ``heads`` groups must be in/on the object of ``tail`` ("the") or in/on
    any object satisfying the tail's conditions ("a")."""

    heads: tuple[str, ...]
    tail: str
    same_tail: bool
    failure_desc: str


@dataclass(frozen=True)
class TaskInstance:
    """A task definition with its parameters filled; ``subtasks`` are the nested components."""

    name: str
    params: tuple[str, ...]
    description: str
    room: str
    definition: TaskDefinition = field(repr=False, compare=False)
    subtasks: tuple[tuple[Component, int, "TaskInstance"], ...] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": list(self.params), "room": self.room}


def instantiate(definitions: dict[str, TaskDefinition], name: str, params: list[str] | tuple[str, ...],
                room: str | None = None) -> TaskInstance:
    """Fill ``name``'s parameters (recursively); unknown names or wrong arity raise WorkbenchError."""
    if name not in definitions:
        raise WorkbenchError(f"unknown TEACh task {name!r}")
    d, params = definitions[name], tuple(str(p) for p in params)
    if len(params) != d.nparams:
        raise WorkbenchError(f"task {name!r} takes {d.nparams} parameters, got {len(params)}")
    subtasks = []
    for c in d.components:
        if c.task_name is not None:
            n = _count(fill(c.determiner, params))
            sub = instantiate(definitions, c.task_name, tuple(fill(p, params) for p in c.task_params), room)
            subtasks.append((c, n or 0, sub))
    description = fill(d.desc, params)
    if description.endswith("following tasks."):
        description = description[:-1] + ": " + " ".join(s.description for _, n, s in subtasks if n)
    return TaskInstance(name, params, description, room or vocab.TASK_ROOMS.get(name, "Kitchen"), d,
                        tuple(subtasks))


def sample_instance(definitions: dict[str, TaskDefinition], rng: random.Random,
                    name: str | None = None) -> TaskInstance:
    """A random instance of ``name`` (or of a random definition) with parameters from vocab.PARAM_DOMAINS."""
    name = name if name is not None else rng.choice(sorted(definitions))
    if name not in definitions:
        raise WorkbenchError(f"unknown TEACh task {name!r}; known: {', '.join(sorted(definitions))}")
    if definitions[name].nparams == 0:
        return instantiate(definitions, name, (), vocab.TASK_ROOMS.get(name, "Kitchen"))
    if name not in vocab.PARAM_DOMAINS:
        raise WorkbenchError(f"task {name!r} has parameters but no parameter domain in vocab.PARAM_DOMAINS")
    room, params = rng.choice(vocab.PARAM_DOMAINS[name])
    return instantiate(definitions, name, params, room)


def instances(definitions: dict[str, TaskDefinition], n: int, seed: int) -> list[TaskInstance]:
    """``n`` instances, cycling through the definitions in task_id order (all covered when n >= 25)."""
    rng = random.Random(seed)
    names = [d.task_name for d in sorted(definitions.values(), key=lambda d: d.task_id)]
    return [sample_instance(definitions, rng, names[i % len(names)]) for i in range(n)]


# ----- flattening -----

def _flatten(inst: TaskInstance, prefix: str, groups: list[Group], reqs: list[Requirement]) -> str | None:
    """Add the groups and requirements of one copy of ``inst``; returns its anchor group path."""
    d, p = inst.definition, inst.params
    anchors: dict[str, list[str]] = {}
    subs = {c.key: (n, s) for c, n, s in inst.subtasks}
    for c in d.components:
        key = fill(c.key, p)
        if c.task_name is None:
            conds = tuple((a, _value(a, fill(v, p) if isinstance(v, str) else v)) for a, v in c.conditions)
            path = f"{prefix}{key}"
            primary = next(cv for cv in conds if cv[0] == c.primary_condition)
            groups.append(Group(path, _count(fill(c.determiner, p)), c.instance_shareable, conds, primary,
                                {a: fill(t, p) for a, t in c.failure_descs}))
            anchors[key] = [path]
        else:
            n, sub = subs[c.key]
            anchors[key] = [a for i in range(n) if (a := _flatten(sub, f"{prefix}{key}[{i}]/", groups, reqs))]
    for r in d.relations:
        heads = tuple(a for h in r.head_entities for a in anchors[fill(h, p)])
        for t, det in zip(r.tail_entities, r.tail_determiners):
            tails = anchors[fill(t, p)]
            if heads and tails:
                reqs.append(Requirement(heads, tails[0], det == "the", fill(r.failure_desc, p)))
    anchor = fill(d.anchor, p) if d.anchor else None
    return anchors[anchor][0] if anchor in anchors and anchors[anchor] else None


def flatten(inst: TaskInstance) -> tuple[list[Group], list[Requirement]]:
    groups: list[Group] = []
    reqs: list[Requirement] = []
    _flatten(inst, "", groups, reqs)
    return groups, reqs


# ----- checking -----

def holds(world: World, oid: str, attr: str, value: Any) -> bool:
    """Whether object ``oid`` satisfies one TEACh condition."""
    t = world.type_of(oid)
    if attr == "objectType":
        return t == value
    if attr == "simbotObjectClass":
        return value in vocab.classes_of(t)
    return world.state(oid).get(attr) == value


def matches(world: World, oid: str, conditions: tuple[tuple[str, Any], ...]) -> bool:
    return all(holds(world, oid, a, v) for a, v in conditions)


@dataclass
class Slot:
    group: Group
    obj: str | None = None
    fixed: bool = False


@dataclass(frozen=True)
class GoalStatus:
    success: bool
    satisfied: int
    total: int
    unmet: list[str]


@dataclass
class Assignment:
    """Objects assigned to slots, and which conditions and requirements are still unmet."""

    slots: list[Slot]
    requirements: list[Requirement]
    groups: dict[str, Group]
    status: GoalStatus
    unmet_conditions: list[tuple[Slot, str, Any]]
    unmet_relations: list[tuple[Slot, Requirement]]
    tails: dict[str, str | None]


def _rel_ok(world: World, oid: str, req: Requirement, groups: dict[str, Group], tails: dict[str, str | None]) -> bool:
    inside = world.containers(oid)
    if req.same_tail:
        return tails.get(req.tail) in inside
    return any(matches(world, c, groups[req.tail].conditions) for c in inside)


def _assign(slots: list[Slot], score: Callable[[Slot, str], int], candidates: dict[int, list[str]],
            taken: set[str]) -> None:
    """Maximum-weight matching of the unfixed slots to objects (non-shareable ones exclusively)."""
    g = nx.Graph()
    for i, s in enumerate(slots):
        if s.fixed:
            continue
        cands = candidates[i]
        if s.group.shareable:
            s.obj = max(cands, key=lambda o: score(s, o), default=None)
            continue
        for o in cands:
            if o not in taken:
                g.add_edge(("s", i), ("o", o), weight=1 + score(s, o))
    for a, b in nx.max_weight_matching(g):
        i, o = (a, b) if a[0] == "s" else (b, a)
        slots[i[1]].obj = o[1]


def assign(inst: TaskInstance, world: World) -> Assignment:
    """Assign objects to the instance's slots and evaluate every condition (see module doc)."""
    groups_list, reqs = flatten(inst)
    groups = {g.path: g for g in groups_list}
    objs = world.objects()
    slots: list[Slot] = []
    for g in groups_list:
        prim = [o for o in objs if holds(world, o, *g.primary)]
        if g.count is None:
            slots.extend(Slot(g, o, True) for o in prim)
        else:
            slots.extend(Slot(g) for _ in range(g.count))
    candidates = {i: [o for o in objs if holds(world, o, *s.group.primary)] for i, s in enumerate(slots)}
    taken = {s.obj for s in slots if s.fixed and not s.group.shareable}
    heads_of: dict[str, list[Requirement]] = {}
    for r in reqs:
        for h in r.heads:
            heads_of.setdefault(h, []).append(r)
    same_tails = {r.tail for r in reqs if r.same_tail}
    tails: dict[str, str | None] = {}

    def own(s: Slot, o: str) -> int:
        n = sum(holds(world, o, a, v) for a, v in s.group.conditions)
        return n + sum(_rel_ok(world, o, r, groups, tails) for r in heads_of.get(s.group.path, ()))

    def tail_score(s: Slot, o: str) -> int:
        inside = set(nx.descendants(world.graph, o))
        heads = [h for r in reqs if r.same_tail and r.tail == s.group.path for h in r.heads]
        return 4 * own(s, o) + sum(1 for h in heads for x in inside if holds(world, x, *groups[h].primary))

    tail_idx = [i for i, s in enumerate(slots) if s.group.path in same_tails]
    # first the "the" tails (a plate for the toast), scored by what is already in them; the others wait
    _assign([s if i in tail_idx else Slot(s.group, s.obj, True) for i, s in enumerate(slots)],
            tail_score, candidates, taken)
    for i in tail_idx:
        slots[i].fixed = True
        tails[slots[i].group.path] = slots[i].obj
    taken |= {slots[i].obj for i in tail_idx if slots[i].obj and not slots[i].group.shareable}
    _assign(slots, own, candidates, taken)

    satisfied = total = 0
    unmet: list[str] = []
    unmet_conditions: list[tuple[Slot, str, Any]] = []
    unmet_relations: list[tuple[Slot, Requirement]] = []
    for s in slots:
        for a, v in s.group.conditions:
            total += 1
            if s.obj is not None and holds(world, s.obj, a, v):
                satisfied += 1
            else:
                unmet_conditions.append((s, a, v))
                unmet.append(s.group.failure_descs.get(a) or _generic(s.group, a, v))
        for r in heads_of.get(s.group.path, ()):
            total += 1
            if s.obj is not None and _rel_ok(world, s.obj, r, groups, tails):
                satisfied += 1
            else:
                unmet_relations.append((s, r))
                unmet.append(r.failure_desc)
    unmet = list(dict.fromkeys(unmet))
    status = GoalStatus(satisfied == total, satisfied, total, unmet)
    return Assignment(slots, reqs, groups, status, unmet_conditions, unmet_relations, tails)


def _generic(g: Group, attr: str, value: Any) -> str:
    what = g.primary[1]
    if attr in CLASS_ATTRS:
        return f"A {value} is needed."
    return f"The {what} needs {attr} = {value}."


def check(inst: TaskInstance, world: World) -> GoalStatus:
    """Goal status of ``inst`` in ``world``: success, satisfied/total conditions, unmet descriptions."""
    return assign(inst, world).status


# ----- what a scene needs -----

@dataclass(frozen=True)
class SceneNeeds:
    """Room, minimum count per portable type, types to keep out of distractors, furniture types
    (or classes) not to generate objects on, and per-type initial states that leave goals unmet."""

    room: str
    counts: dict[str, int]
    exclude: frozenset[str]
    avoid: frozenset[str]
    unmet_states: dict[str, list[tuple[str, Any]]]


def _members(value: str, attr: str) -> list[str]:
    if attr == "objectType":
        return [value]
    return sorted(t for t in vocab.CAPABILITIES if value in vocab.classes_of(t))


def scene_needs(inst: TaskInstance, rng: random.Random) -> SceneNeeds:
    """What ``generate_scene`` must put in the room so that ``inst`` is solvable but not yet solved."""
    groups, reqs = flatten(inst)
    room_types = set(vocab.FIXTURES[inst.room]) | set(vocab.ROOM_OBJECTS[inst.room]) | {"SinkBasin", "Faucet"}
    counts: Counter[str] = Counter()
    slices: Counter[str] = Counter()
    exclude: set[str] = set()
    unmet: dict[str, list[tuple[str, Any]]] = {}
    for g in groups:
        attr, value = g.primary
        members = _members(value, attr)
        n = g.count if g.count is not None else rng.randint(2, 3)
        if g.count is None:
            exclude.update(members)
        if value in vocab.SLICED_FROM:
            slices[value] += n
            continue
        if any(has(t, FIXED) or not has(t, PICKUPABLE) and t != "HousePlant" for t in members if t in room_types):
            chosen = None
        else:
            local = [t for t in members if t in room_types]
            chosen = rng.choice(local or members)
            counts[chosen] = max(counts[chosen], n) if g.count is None else counts[chosen] + n
        for a, v in g.conditions:
            if a in CLASS_ATTRS or a == "receptacle" or not isinstance(v, int):
                continue
            for t in members:
                if has(t, vocab.STATE_CAPABILITY.get(a, "")):
                    unmet.setdefault(t, []).append((a, 1 - v if v in (0, 1) else 0))
    for sliced, n in slices.items():
        whole = vocab.SLICED_FROM[sliced]
        counts[whole] = max(counts[whole], math.ceil(n / vocab.SLICES[whole][1]))
    by_path = {g.path: g for g in groups}
    avoid = {by_path[r.tail].primary[1] for r in reqs}
    return SceneNeeds(inst.room, dict(counts), frozenset(exclude), frozenset(avoid), unmet)
