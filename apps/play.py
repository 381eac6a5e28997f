"""``workbench play --env moba``: a person takes the human hero's seat in the MOBA lane game (issue 22, after RLHG,
Gao et al., ICLR 2024), beside the agent heroes, against the scripted enemy.

Each step the lanes are drawn as text and the person types an action: its number or name (``farm``,
``attack_hero``, ...), optionally with a count to repeat it (``farm 10``); an empty line repeats the last one.
``/help`` lists the actions, ``/quit`` (or end of input) stops. The finished (or stopped) match is saved as one
episode in the run folder: a turn per step for the human and for the agents, the outcome the match's metrics
(win, each human goal). :class:`MobaMatch` and :func:`save_match` are shared with the app's Play tab
(``apps.gui.play``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.config import out_field, resolve_out
from workbench.errors import WorkbenchError

GAMES = ("moba",)


@dataclass
class PlayConfig:
    env: str = field(default="moba", metadata={"help": "the game (moba)", "choices": GAMES})
    persona: str = field(default="allrounder-high", metadata={
        "help": "whose goals the match scores as the human's (slayer, farmer, pusher, survivor, allrounder; -low or "
                "-high skill); the person plays the hero"})
    agents: str = field(default="scripted", metadata={
        "help": "who plays the agent heroes: scripted (the rule-based allies), follow (always at your side) or a "
                "`workbench train rlhg` run folder"})
    greedy: bool = field(default=False, metadata={
        "help": "a trained team takes its most likely actions", "no_help": "a trained team samples, as in training"})
    seed: int = field(default=0, metadata={"help": "match seed"})
    max_steps: int = field(default=300, metadata={"help": "match length in steps", "min": 10})
    out: str | None = out_field("play")


def run_play(config: PlayConfig, read: Callable[[str], str] = input, write: Callable[[str], Any] = print):
    """Play one match with a person in the human seat; return the saved episode."""
    from simulators.moba.rules import ACTION_NAMES

    from agents.rlhg.team import load_team

    team = load_team(config.agents, config.greedy, config.seed)
    match = MobaMatch(config.persona, config.seed, config.max_steps, env=config.env, allies=team,
                      agents=config.agents)
    out = resolve_out(config.out, False, "play")
    last, repeat = 0, 0
    help_text = "actions: " + ", ".join(f"{i} {name}" for i, name in enumerate(ACTION_NAMES)) + \
        " (a count repeats: 'farm 10'; empty line: the last action again; /quit stops)"
    write(help_text)
    while not match.finished:
        if repeat == 0:
            write(match.render_text())
            choice = _ask(read, write, ACTION_NAMES, help_text)
            if choice is None:
                break
            if choice[0] is not None:
                last = choice[0]
            repeat = choice[1]
        repeat -= 1
        match.step(last)
    outcome = match.outcome()
    write("match over: " + ", ".join(f"{k} {v}" for k, v in outcome.items()))
    episode = save_match(match, out, config={**vars(config), "out": out})
    write(f"saved to {out}")
    return episode


class MobaMatch:
    """One MOBA match with a person in the human seat (hero 0) beside an agent team, against the scripted enemy:
    :meth:`step` plays one step with the person's action and records a turn for the human and one for the agents.
    Once the match ends it stays on show (``game`` is its final state) and :attr:`metrics` holds its metrics (win,
    each human goal)."""

    def __init__(self, persona: str, seed: int, max_steps: int, env: str = "moba", allies: Any = None,
                 agents: str = "scripted"):
        """``allies``: the agent heroes' team (:mod:`agents.rlhg.team`, ``act(env, obs) -> (1, 2)`` actions; default
        the game's scripted allies), ``agents`` its spec as the episode records it."""
        from agents.rlhg.team import ScriptedTeam
        from simulators.moba import PERSONAS

        if persona not in PERSONAS:
            raise WorkbenchError(f"unknown persona {persona!r} (known: {', '.join(sorted(PERSONAS))})")
        if int(max_steps) < 1:
            raise WorkbenchError(f"max_steps must be at least 1, not {max_steps}")
        self.persona, self.seed, self.max_steps, self.env_name = persona, int(seed), int(max_steps), env
        self.env = _one_match_env(persona, self.seed, self.max_steps)
        self.obs, _ = self.env.reset(seed=self.seed)
        self.allies = ScriptedTeam() if allies is None else allies
        self.agents = agents
        self.turns: list = []
        self.metrics: dict[str, Any] | None = None
        self.steps = 0

    @property
    def game(self):
        """The match's :class:`simulators.moba.game.MobaGame` (one match, index 0)."""
        return self.env.game

    @property
    def finished(self) -> bool:
        """Whether the match has ended (by a base, or at ``max_steps``)."""
        return self.metrics is not None

    def render_text(self) -> str:
        return self.env.render_text(0)

    def step(self, action: int) -> bool:
        """One step with the person's ``action`` (an index of ``rules.ACTION_NAMES``); whether the match ended."""
        import numpy as np

        from simulators.moba.rules import ACTION_NAMES
        from workbench.episodes import Turn

        if self.finished:
            raise WorkbenchError("this match is over: start a new one")
        if not 0 <= int(action) < len(ACTION_NAMES):
            raise WorkbenchError(f"unknown action {action!r} (0 to {len(ACTION_NAMES) - 1})")
        action = int(action)
        agents = np.asarray(self.allies.act(self.env, self.obs)).reshape(1, 2)
        self.obs, _, terminated, _, info = self.env.step(agents, human_actions=np.array([action]))
        self.turns.append(Turn(role="Human", text=ACTION_NAMES[action], info={"step": self.steps}))
        self.turns.append(Turn(role="Agents", text=", ".join(ACTION_NAMES[a] for a in agents[0]),
                               info={"human_goals": {k: float(v[0]) for k, v in info["human_goals"].items()}}))
        self.steps += 1
        if terminated[0]:
            self.metrics = {k: _plain(v) for k, v in info["final_info"].items() if not k.startswith("_")}
        return self.finished

    def outcome(self) -> dict[str, Any]:
        """The match's metrics once it ended, else that it was stopped and after how many steps."""
        return dict(self.metrics) if self.metrics else {"stopped": True, "steps": self.steps}

    def episode(self):
        """The match (finished or stopped) as an episode: a turn per step for the human and for the agents."""
        from workbench.episodes import Case, Episode

        outcome = self.outcome()
        case = Case(id=f"moba:{self.persona}:{self.seed}", env=self.env_name,
                    fields={"persona": self.persona, "seed": self.seed, "max_steps": self.max_steps})
        return Episode(id=f"{case.id}@human", env=self.env_name, case=case, turns=list(self.turns),
                       outcome={"success": outcome.get("outcome") == 1, **outcome},
                       provenance={"human": "person", "agents": self.agents})


def save_match(match: MobaMatch, out: str | Path, config: dict[str, Any]):
    """Write ``match`` as the one episode of a new run folder ``out`` (config: ``command: play`` and ``config``);
    return its episode."""
    from workbench.runs import Run

    episode = match.episode()
    with Run.open(out, {"command": "play", **config, "out": str(out)}) as run:
        run.append_episodes([episode])
    return episode


def _one_match_env(persona: str, seed: int, max_steps: int):
    """A one-match :class:`MobaVectorEnv` that does not start the next match when one ends (its auto-reset), so
    that the finished match's final state stays in ``env.game`` for the person to see."""
    from simulators.moba import MobaVectorEnv

    class OneMatch(MobaVectorEnv):
        started = False

        def _start(self, mask):
            if not self.started:  # the match of ``reset``; the auto-reset at its end keeps the finished game
                super()._start(mask)
                self.started = True

    return OneMatch(1, persona=persona, seed=seed, max_steps=max_steps)


def _plain(value: Any) -> Any:
    item = getattr(value, "tolist", None)
    value = item() if item else value
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _ask(read, write, names, help_text) -> tuple[int | None, int] | None:
    """(action or None for the last one, steps) from the person's line; None to stop."""
    while True:
        try:
            line = read("your action> ").strip().lower()
        except EOFError:
            return None
        if line in ("/quit", "/q"):
            return None
        if line in ("/help", "?"):
            write(help_text)
            continue
        if not line:
            return None, 1
        word, _, count = line.partition(" ")
        action = int(word) if word.isdigit() and int(word) < len(names) else (names.index(word) if word in names else None)
        if action is None or (count and not count.isdigit()):
            write(f"unknown action {line!r}; /help lists them")
            continue
        return action, max(1, int(count or 1))
