"""One browser session's chat: the person speaks for the user side, the agent answers with its strategy.

The dialogue runs through the environment's own batched core (``begin`` / ``advance``), so the critic
judges every user turn exactly as in self-play. The agent's reply waits as ``pending`` until the person
answers it; undo and retry work on snapshots of that state. Likes, dislikes and edits of agent messages
are appended to a feedback log that is kept in TRL's preference formats for ``workbench train dpo``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from apps.chat import rule_critic
from workbench.env import Agent, DialogueEnv, DialogueState, Verdict
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.evaluate import fallback_rates, rounded
from workbench.runs import Run, append_lines, atomic_write
from workbench.training.episodic import dialogue_messages
from workbench.training.preferences import feedback_rows

FEEDBACK = "app-feedback"
CHATS = "app-chats"


class PersonTurns:
    """The user simulator of a chat: it speaks the text the person just typed."""

    name = "human"

    def __init__(self) -> None:
        self.text = ""
        self.acts: list[str] = []
        """The dialogue acts the person gave the text (environments with acts, e.g. TEACh's), the first as its
        strategy."""

    def start(self, state: DialogueState) -> None:
        """A person needs no drawn persona."""

    def respond(self, states: Sequence[DialogueState]) -> list[Turn]:
        if not self.acts:
            return [Turn(role=s.user_role, text=self.text) for s in states]
        return [Turn(role=s.user_role, text=self.text, strategy=self.acts[0], info={"das": list(self.acts)})
                for s in states]


@dataclass
class ChatSession:
    """A dialogue between a person and an agent, with undo and retry."""

    env: DialogueEnv
    agent: Agent
    case: Case
    seed: int
    specs: dict[str, Any] = field(default_factory=dict)
    """The models, planner and adapters the chat was started with (kept with the saved episode)."""
    state: DialogueState | None = None
    pending: Turn | None = None
    history: list[tuple[DialogueState, Turn | None]] = field(default_factory=list)
    lock: Any = field(default_factory=threading.Lock, repr=False)
    """Held by every change, so a double click cannot interleave two turns."""

    @classmethod
    def start(cls, env_cls: type[DialogueEnv], agent: Agent, critic: Any, case: Case, *, seed: int,
              max_turns: int | None = None, specs: dict[str, Any] | None = None) -> ChatSession:
        """A new dialogue on ``case``; the agent makes its first move (``critic`` None: the environment's
        ground-truth rules judge, as in the terminal chat)."""
        env = env_cls(PersonTurns(), critic or rule_critic(env_cls), max_turns=max_turns)
        session = cls(env=env, agent=agent, case=case, seed=seed, specs=dict(specs or {}))
        session.state = env.begin(case, seed)
        session.pending = session._agent_turn()
        return session

    @property
    def finished(self) -> bool:
        return self.state.done or self.state.truncated

    def _agent_turn(self) -> Turn:
        (turn,) = self.agent.act([self.state])
        return turn

    def send(self, text: str, acts: Sequence[str] = ()) -> None:
        """The person answers the pending agent turn (with its dialogue ``acts``, where the environment has them);
        the critic judges; the agent answers unless it ended.

        The agent's answer does not depend on the verdict, so it is generated while the critic judges (on a
        shared ``BatchingChatModel`` both are one ``generate``) and dropped if the verdict ends the dialogue. In an
        environment with a world (``world_ground_truth``) the agent's last turn changes the world its next one
        reads, so there it answers after the turn is applied."""
        with self.lock:
            self._send(" ".join(text.split()), list(acts))

    def _send(self, text: str, acts: list[str]) -> None:
        if not text:
            raise WorkbenchError("type a message first")
        if self.finished or self.pending is None:
            raise WorkbenchError("this dialogue has ended: start a new chat")
        self.history.append(copy.deepcopy((self.state, self.pending)))
        self.env.simulator.text, self.env.simulator.acts = text, acts
        if self.env.world_ground_truth:
            try:
                self.env.advance([self.state], [self.pending])
                self.pending = None if self.finished else self._agent_turn()
            except Exception:
                self.state, self.pending = self.history.pop()
                raise
            return
        ahead = copy.deepcopy(self.state)  # the dialogue as the agent sees it once the person has spoken
        ahead.turns += [copy.deepcopy(self.pending), Turn(role=ahead.user_role, text=text)]
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                answer = pool.submit(lambda: self.agent.act([ahead])[0])
                self.env.advance([self.state], [self.pending])
                turn = answer.result()
        except Exception:  # nothing half-done stays: the dialogue is as before the message
            self.state, self.pending = self.history.pop()
            raise
        self.pending = None if self.finished else turn
        self.state.rng.setstate(ahead.rng.getstate())  # the agent's draws advance the dialogue's own stream

    def unattended(self) -> Iterator[None]:
        """Play on the agent's turns that do not wait for the person (``DialogueEnv.addresses_user``: e.g. a tool
        call, which the environment answers with its result), one at a time, yielding after each so the page can
        show it as it happens; they are part of the person's last message for undo."""
        while True:
            with self.lock:
                if self.finished or self.pending is None or self.env.addresses_user(self.state, self.pending):
                    return
                self.env.advance([self.state], [self.pending])
                self.pending = None if self.finished else self._agent_turn()
            yield

    def undo(self) -> None:
        """Take back the person's last message (and what followed it)."""
        with self.lock:
            if not self.history:
                raise WorkbenchError("nothing to undo")
            self.state, self.pending = self.history.pop()

    def retry(self) -> None:
        """Let the agent answer the same dialogue again."""
        with self.lock:
            if self.pending is None:
                raise WorkbenchError("the dialogue has ended: there is no agent reply to retry")
            self.pending = self._agent_turn()

    # ----- what the page shows -----

    def brief(self) -> str:
        """What the person's side knows (the environment's brief of the user)."""
        return self.env.user_brief(self.case)

    def turns(self) -> list[Turn]:
        return self.state.turns + ([self.pending] if self.pending else [])

    def messages(self) -> list[dict[str, Any]]:
        """Chatbot messages: the agent as the assistant, with its strategy and probability under each reply."""
        out: list[dict[str, Any]] = []
        for turn in self.turns():
            if turn.role not in (self.state.agent_role, self.state.user_role):  # the environment's own answer
                out.append({"role": "assistant", "content": literal(turn.text), "metadata": {"title": turn.role}})
                continue
            if turn.role != self.state.agent_role:
                out.append({"role": "user", "content": literal(turn.text)})
                continue
            note = ""
            if turn.strategy:
                prob = turn.info.get("strategy_prob")
                note = f"\n\n*strategy: {turn.strategy}" + ("" if prob is None else f" (p = {prob:.2f})") + "*"
            out.append({"role": "assistant", "content": literal(turn.text) + note})
        return out

    def verdicts(self) -> list[list[Any]]:
        """One row per judged user turn: turn, the agent's strategy, the critic's verdict in words
        (:func:`describe`), where the agent's reply came from (model, template, or the fallback that replaced an
        empty model reply), reward, running reward."""
        rows, total = [], 0.0
        agent_turns = [t for t in self.state.turns[self.state.opening:] if t.role == self.state.agent_role]
        for n, (turn, verdict) in enumerate(zip(agent_turns, self.state.verdicts), 1):
            total += verdict.reward
            reply = (f"replaced: {turn.info['fallback']}" if "fallback" in turn.info else
                     "model" if turn.info.get("generated") else "template")
            rows.append([n, turn.strategy or "", describe(verdict), reply,
                         rounded(verdict.reward), rounded(total)])
        return rows

    def fallback_rates(self) -> dict[str, float]:
        """The dialogue's fallback rates so far (``workbench.evaluate.fallback_rates``)."""
        return fallback_rates([Episode(id="chat", env=self.env.name, case=self.case, turns=self.turns())])

    def outcome(self) -> dict[str, Any] | None:
        return self.env.outcome(self.state) if self.finished else None

    def episode(self, provenance: dict[str, Any]) -> Episode:
        return self.env.finish(self.state, provenance=provenance)

    # ----- feedback on agent messages -----

    def agent_turn_at(self, index: int) -> Turn:
        turns = self.turns()
        if not self.state.opening <= index < len(turns) or turns[index].role != self.state.agent_role:
            raise WorkbenchError("only the agent's own replies take likes, dislikes and edits (not the user's "
                                 "messages or the scripted opening)")
        return turns[index]

    def feedback_record(self, index: int, *, rating: str | None = None, edit: str | None = None) -> dict[str, Any]:
        """The app feedback record (``workbench.training.preferences.feedback_rows``) of agent message ``index``:
        the dialogue before it as the prompt, in TRL's conversational format."""
        turn = self.agent_turn_at(index)
        return {"prompt": dialogue_messages(self.turns()[:index], self.state.agent_role), "response": turn.text,
                "rating": rating, "edit": edit, "env": self.env.name, "case": self.case.id,
                "strategy": turn.strategy, "time": time.time()}

    def edit(self, index: int, text: str) -> dict[str, Any]:
        """Replace agent message ``index`` by the person's text (later turns see it); returns its feedback record."""
        text = " ".join(text.replace("&lt;", "<").split())  # as typed, not as :func:`literal` shows it
        if not text:
            raise WorkbenchError("an edited message cannot be empty")
        with self.lock:
            record = self.feedback_record(index, edit=text)
            self.agent_turn_at(index).text = text
        return record


def literal(text: str) -> str:
    """``text`` as the page's Markdown shows it: "<" escaped, so that an action such as "<pickup> Mug_1" is not
    taken for an HTML tag (and removed)."""
    return text.replace("<", "&lt;")


COUNTS = ("samples", "parsed", "unparsable", "dropped_votes", "source", "rule")
"""Verdict facts :func:`describe` says in its own words (the critic's sample counts) or leaves out (where the verdict
came from), rather than as findings."""


def describe(verdict: Verdict) -> str:
    """A verdict in words, for any environment: the dialogue's state (going on, success, failure) with the critic's
    findings (``info``: a true switch by its name, a false one as "no <name>", a number rounded), the reward and,
    from an LLM critic, how many of its samples parsed and how many votes were dropped, e.g. "going on: no deal ·
    reward -0.10 · 3 of 5 critic samples parsed" or "success: deal, price 12,000 · reward 0.42 · 5 of 5 critic
    samples parsed"."""
    state = ("success" if verdict.success else "failure") if verdict.done else "going on"
    findings = [finding(key, value) for key, value in verdict.info.items() if key not in COUNTS and value is not None]
    parts = [f"{state}: {', '.join(findings)}" if findings else state, f"reward {verdict.reward:.2f}"]
    info = verdict.info
    if info.get("samples"):
        parts.append(f"{info.get('parsed', 0)} of {info['samples']} critic samples parsed")
    if info.get("dropped_votes"):
        parts.append(f"{info['dropped_votes']} of the parsed votes dropped")
    if info.get("source") == "rule":
        parts.append(f"by the rule: {info['rule']}" if info.get("rule") else "judged by the rules")
    return " · ".join(parts)


def finding(key: str, value: Any) -> str:
    """One critic finding in words: ``deal`` True -> "deal", False -> "no deal"; ``price`` 12000.0 -> "price
    12,000"; anything else as "<name> <value>"."""
    name = key.replace("_", " ")
    if isinstance(value, bool):
        return name if value else f"no {name}"
    if isinstance(value, (int, float)):
        return f"{name} {rounded(float(value)):,g}"
    return f"{name} {value}"


class FeedbackLog:
    """The app's feedback dataset: ``feedback.jsonl`` (every record), ``preferences.jsonl`` (TRL pairs, for
    ``train dpo``) and ``unpaired.jsonl`` (TRL unpaired preference rows, for ``train kto``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    @property
    def records_file(self) -> Path:
        return self.folder / "feedback.jsonl"

    def records(self) -> list[dict[str, Any]]:
        file = self.records_file
        return [json.loads(line) for line in file.read_text().splitlines() if line.strip()] if file.exists() else []

    def add(self, record: dict[str, Any]) -> tuple[int, int]:
        """Append ``record`` and rewrite the TRL files; returns (pairs, unpaired rows) now in them."""
        with self._lock:
            append_lines(self.records_file, [record])
            pairs, unpaired = feedback_rows(self.records())
            atomic_write(self.folder / "preferences.jsonl", "".join(json.dumps(r) + "\n" for r in pairs))
            atomic_write(self.folder / "unpaired.jsonl", "".join(json.dumps(r) + "\n" for r in unpaired))
        return len(pairs), len(unpaired)


_SAVING = threading.Lock()
"""Sessions that finish at the same moment save one after the other (each save holds the run folder's lock)."""


def save_chat(runs_root: Path, session: ChatSession) -> Path:
    """Append a finished chat as an episode to ``<runs>/app-chats/<env>``."""
    with _SAVING, Run.open(runs_root / CHATS / session.env.name, {"env": session.env.name, "kind": "chat"},
                           resume=True) as run:
        run.append_episodes([session.episode({"models": session.specs, "seed": session.seed, "user": "human"})])
        return run.path
