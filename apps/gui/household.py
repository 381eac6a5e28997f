"""The household environment in the app: the world view, and a person in either seat.

In TEACh (Padmakumar et al., AAAI 2022) a Commander who knows the task guides a Driver (the robot) who acts in the
house; Philipov et al. (2024, arXiv 2410.23535) put user agents in the Commander's seat. Here a person takes either
seat. As the Commander (the app's usual chat: the person plays the user) they see the world and the goal conditions
and speak with TEACh's Commander acts or observe. As the Driver (:class:`DriverSession`) they act on the world or
speak with a Driver act, and the scripted Commander answers. The self-play browser shows the world after any turn of
a stored episode by replaying its actions (:func:`simulators.household.replay.replay`).

The page's controls are built and shown here (:class:`WorldControls`); the Chat tab asks them whether the chosen
environment has a world, so it holds no household rules itself.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import gradio as gr

from apps.gui.chat import ChatSession, literal
from simulators.household.acts import COMMANDER_ACTS
from simulators.household.cases import task_instance
from simulators.household.driver import OBSERVE  # the page's Observe button sends it
from simulators.household.replay import replay
from simulators.household.strategies import ACTIONS, TOKENS, UTTERANCES
from simulators.household.tasks import check
from simulators.household.world import Action, World, parse_action
from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_critic

DRIVER_ACTS = tuple(s.name for s in UTTERANCES)
"""The dialogue acts of the Driver's utterances (its strategies that are not actions)."""
ACTION_KINDS = tuple(s.name for s in ACTIONS)


def has_world(env_cls: type[DialogueEnv]) -> bool:
    """Whether the environment's own world judges its dialogues (``world_ground_truth``): it then has a world to
    show, and a person may sit in either seat."""
    return env_cls.world_ground_truth


def goal_line(task: Any, world: World, *, unmet: bool) -> str:
    """TEACh's goal-condition progress: "GC 2/5" and, with ``unmet``, the conditions still to meet."""
    status = check(task, world)
    line = f"GC {status.satisfied}/{status.total}" + (" (task done)" if status.success else "")
    return line + (", unmet: " + "; ".join(status.unmet) if unmet and status.unmet else "")


def world_text(state: DialogueState, *, unmet: bool = True) -> str:
    """The live world of a dialogue: the goal progress, then every room, receptacle and object with its states."""
    world = state.hidden["world"]
    return f"{goal_line(state.hidden['task'], world, unmet=unmet)}\n\n{world.describe()}"


def commander_view(session: ChatSession) -> str:
    """The world as the person in the Commander's seat sees it: after the robot's move that waits for their answer
    (applied to a copy: the environment applies it when they answer), with what the move did."""
    state, move = session.state, session.pending
    action = parse_action(move.text) if move is not None else None
    if action is None and move is not None and move.strategy in ACTION_KINDS:
        action = Action(move.strategy, None)  # as the environment reads an action turn without an object
    if action is None:
        return world_text(state)
    world = state.hidden["world"].copy()
    outcome = world.apply(action)
    did = "done" if outcome.ok else f"failed: {outcome.message}"
    return (f"The robot's move: {action.text()} ({did})\n{goal_line(state.hidden['task'], world, unmet=True)}\n\n"
            f"{world.describe()}")


def episode_world(episode: Episode, upto: int) -> str:
    """The world of a stored episode after its first ``upto`` turns, headed by that turn and the goal progress."""
    world = replay(episode, upto)
    head = f"After turn {upto} of {len(episode.turns)}"
    if upto:
        turn = episode.turns[upto - 1]
        head += f" ({turn.role}: {turn.text})"
    return f"{head}\n{goal_line(task_instance(episode.case), world, unmet=True)}\n\n{world.describe()}"


def episode_has_world(episode: Episode) -> bool:
    """Whether a stored episode's world can be shown: its environment has one and its case names the scene."""
    return has_world(env_class(episode.env)) and "scene_seed" in episode.case.fields


def action_text(kind: str, target: str) -> str:
    """An action picked in the page, as the Driver's turn text: ("Pickup", "Mug_1") -> "<pickup> Mug_1"."""
    if kind not in ACTION_KINDS:
        raise WorkbenchError(f"unknown action {kind!r} (known: {', '.join(ACTION_KINDS)})")
    if not target:
        raise WorkbenchError("pick the object to act on")
    return Action(kind, target).text()


def driver_turn(role: str, text: str, acts: Sequence[str]) -> Turn:
    """The person's Driver turn: an action (``<pickup> Mug_1``, its strategy the action type), or an utterance
    with its Driver acts (the first is its strategy)."""
    if not text:
        raise WorkbenchError("type a message or pick an action first")
    action = parse_action(text)
    if action is not None:
        return Turn(role=role, text=text, strategy=action.kind)
    if text.startswith("<"):
        raise WorkbenchError(f"{text!r} is not an action: write one of {', '.join(TOKENS)} and an object id, "
                             "e.g. <pickup> Mug_1")
    unknown = [a for a in acts if a not in DRIVER_ACTS]
    if unknown or not acts:
        raise WorkbenchError(f"pick the utterance's dialogue act ({', '.join(DRIVER_ACTS)})"
                             + (f", not {unknown[0]!r}" if unknown else ""))
    return Turn(role=role, text=text, strategy=acts[0], info={"das": list(acts)})


class DriverSession(ChatSession):
    """A person in the Driver's seat: each of their turns is applied to the world, and the environment's scripted
    Commander answers; the dialogue ends on success or at the turn limit. Undo restores the world too."""

    @classmethod
    def begin(cls, env_cls: type[DialogueEnv], case: Case, *, seed: int, max_turns: int | None = None,
              specs: dict[str, Any] | None = None) -> DriverSession:
        """A new task on ``case``: the world's verdicts judge, the scripted Commander speaks."""
        if not has_world(env_cls):
            raise WorkbenchError(f"in {env_cls.name} a person plays only the user: its verdicts need the "
                                 "scripted user's hidden state")
        critic = make_critic(env_cls, "ground-truth", "scripted", None)
        env = env_cls(env_cls.scripted_simulator(), critic, max_turns=max_turns)
        session = cls(env=env, agent=None, case=case, seed=seed, specs=dict(specs or {}))
        session.state = env.begin(case, seed)
        return session

    def send(self, text: str, acts: Sequence[str] = ()) -> None:
        """The person's turn (an action, or an utterance with ``acts``); the world and the Commander answer."""
        with self.lock:
            turn = driver_turn(self.state.agent_role, " ".join(text.split()), list(acts))
            if self.finished:
                raise WorkbenchError("this dialogue has ended: start a new chat")
            self.history.append((copy.deepcopy(self.state), None))
            try:
                self.env.advance([self.state], [turn])
            except Exception:  # nothing half-done stays
                self.state, _ = self.history.pop()
                raise

    def act(self, kind: str, target: str) -> None:
        """The action picked in the page: ``kind`` on the object ``target``."""
        self.send(action_text(kind, target))

    def retry(self) -> None:
        raise WorkbenchError("you play the Driver here: there is no agent reply to retry")

    def agent_turn_at(self, index: int) -> Turn:
        raise WorkbenchError("you play the Driver here: likes, dislikes and edits rate an agent's replies")

    def brief(self) -> str:
        return (f"You are the {self.env.agent_role}, a robot in the house; the {self.env.user_role} knows the task "
                "and tells you the goal. Act with an action and an object (or type one, e.g. <pickup> Mug_1), or "
                "say something with a dialogue act; the world view shows the house.")

    def objects(self) -> list[str]:
        """The ids of the world's objects now (slicing makes new ones)."""
        return self.state.hidden["world"].objects()

    def world_text(self) -> str:
        """The world as the Driver sees it: goal progress without the unmet conditions (only the Commander knows
        the task)."""
        return world_text(self.state, unmet=False)

    def messages(self) -> list[dict[str, str]]:
        """Chatbot messages: the person's Driver turns as the user's, the Commander's with their dialogue acts."""
        out = []
        for turn in self.turns():
            mine = turn.role == self.state.agent_role
            acts = turn.info.get("das") or []
            note = f"\n\n*acts: {', '.join(acts)}*" if acts and not mine else ""
            out.append({"role": "user" if mine else "assistant", "content": literal(turn.text) + note})
        return out

    def verdicts(self) -> list[list[Any]]:
        """As the chat's, the reply column saying that the person moved."""
        return [[*row[:3], "you", *row[4:]] for row in super().verdicts()]

    def episode(self, provenance: dict[str, Any]) -> Episode:
        """The finished task, marked as a person in the Driver's seat facing the scripted Commander."""
        return super().episode({**provenance, "user": self.env.simulator.name, "agent": "human"})


# ----- the page -----

@dataclass
class WorldControls:
    """The Chat tab's world controls: the seat, the world view, the dialogue acts of the person's next utterance,
    observe (Commander), and an action on an object (Driver). Shown only for an environment with a world."""

    seat: gr.Radio
    view: gr.Textbox
    acts: gr.Dropdown
    observe: gr.Button
    kind: gr.Dropdown
    target: gr.Dropdown
    act: gr.Button

    @classmethod
    def seat_picker(cls, env: str) -> gr.Radio:
        return gr.Radio(seat_choices(env_class(env)), value="user", label="Play as", elem_id="chat-seat",
                        visible=has_world(env_class(env)))

    @staticmethod
    def world_view(env: str) -> gr.Textbox:
        return gr.Textbox(label="World", lines=24, max_lines=24, interactive=False, elem_id="world-view",
                          visible=has_world(env_class(env)), scale=2)

    @classmethod
    def build(cls, seat: gr.Radio, view: gr.Textbox, env: str) -> WorldControls:
        """The act and action pickers, in a row (called where the row goes)."""
        shown = has_world(env_class(env))
        with gr.Row():
            acts = gr.Dropdown(list(COMMANDER_ACTS), value=["Instruction"], multiselect=True, visible=shown,
                               label="Dialogue acts of your message", elem_id="chat-acts")
            observe = gr.Button("Observe", elem_id="chat-observe", visible=shown)
            kind = gr.Dropdown(list(ACTION_KINDS), value=ACTION_KINDS[0], label="Action", elem_id="chat-action",
                               visible=False)
            target = gr.Dropdown([], label="Object", elem_id="chat-object", visible=False)
            act = gr.Button("Act", elem_id="chat-act", visible=False)
        return cls(seat, view, acts, observe, kind, target, act)

    @property
    def components(self) -> list[Any]:
        """What :func:`seat_updates` updates, in its order."""
        return [self.seat, self.view, self.acts, self.observe, self.kind, self.target, self.act]


def seat_choices(env_cls: type[DialogueEnv]) -> list[tuple[str, str]]:
    """The "Play as" choices, named with the environment's roles: the user (TEACh's Commander) or the agent."""
    return [(f"user ({env_cls.user_role})", "user"), (f"agent ({env_cls.agent_role})", "agent")]


def seat_updates(env: str, seat: str) -> tuple:
    """The world controls for environment ``env`` and the person's seat (see :attr:`WorldControls.components`)."""
    cls = env_class(env)
    world = has_world(cls)
    seat = seat if world else "user"
    driver = world and seat == "agent"
    acts = (gr.update(choices=list(DRIVER_ACTS), value=[DRIVER_ACTS[0]], visible=True) if driver else
            gr.update(choices=list(COMMANDER_ACTS), value=["Instruction"], visible=world))
    return (gr.update(choices=seat_choices(cls), value=seat, visible=world), gr.update(visible=world, value=""), acts,
            gr.update(visible=world and not driver), *(gr.update(visible=driver) for _ in range(3)))


def session_updates(session: ChatSession) -> tuple:
    """The world view and the object picker after a turn of ``session`` (left alone without a world)."""
    if "world" not in session.state.hidden:
        return gr.update(visible=False), gr.update()
    if isinstance(session, DriverSession):
        objects = session.objects()
        return gr.update(value=session.world_text(), visible=True), gr.update(choices=objects)
    return gr.update(value=commander_view(session), visible=True), gr.update()

