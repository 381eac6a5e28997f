"""``workbench chat`` in the terminal: commands never reach the agent, the person sees their role's brief,
the environment's rules end a dialogue without a critic model, and every ending prints and saves the outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable

import pytest

from apps.chat import ChatConfig, run_chat
from simulators.negotiation.prices import fmt
from workbench.runs import Run

from .conftest import DATA

ROOT = Path(__file__).resolve().parents[1]


def chat_cli(tmp_path: Path, typed: str, *args: str) -> str:
    """``python -m apps.cli chat`` in ``tmp_path`` with ``typed`` on stdin; its stdout."""
    env = {**os.environ, "WORKBENCH_DATA": str(DATA), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "apps.cli", "chat", *args], input=typed, capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def only_run(tmp_path: Path) -> Run:
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("chat-")
    return Run(folder)


def test_commands_stay_out_of_the_dialogue_and_quit_saves_the_outcome(tmp_path):
    out = chat_cli(tmp_path, "/help\nHello there, it is in great shape.\n/nonsense\nIt is barely used.\n/quit\n",
                   "--env", "negotiation", "--policy", "fixed:inquire", "--seed", "1")
    assert out.startswith("You are the Seller; the agent is the Buyer. You are selling an item listed under")
    assert "/undo" in out and "/restart" in out and "list these commands" in out
    assert "unknown command /nonsense; type /help for the commands" in out
    assert "outcome: you quit" in out and "success no" in out and "turns 2" in out and "saved to runs/chat-" in out
    (episode,) = only_run(tmp_path).episodes()
    seller = [t.text for t in episode.turns if t.role == "Seller"]
    assert seller[1:] == ["Hello there, it is in great shape.", "It is barely used."]
    assert not any(t.text.startswith("/") for t in episode.turns)
    assert episode.outcome["ended_by"] == "quit" and episode.outcome["deal"] is False


def test_the_seller_agreeing_ends_the_chat_by_the_rule(tmp_path):
    out = chat_cli(tmp_path, "It's in great shape.\nDeal, it's yours.\nthis line is never read\n",
                   "--env", "negotiation", "--policy", "fixed:propose", "--seed", "1")
    assert "ended by the rule: price agreed at $" in out and "success yes" in out
    (episode,) = only_run(tmp_path).episodes()
    offer = [t for t in episode.turns if t.role == "Buyer"][-1]
    assert episode.outcome["ended_by"] == "rule" and episode.outcome["deal"]
    assert fmt(episode.outcome["price"]) in offer.text
    assert episode.provenance["models"]["critic"] is None
    assert episode.turns[-1].info["verdict"]["source"] == "rule"
    assert "this line is never read" not in out and "never read" not in {t.text for t in episode.turns}
    assert "ended by the rule 1" in out


def scripted(lines: Iterable[str]):
    """A ``read`` that types ``lines`` and then closes the input (EOF)."""
    it = iter(lines)

    def read(_prompt: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read


def test_undo_and_restart(cb_file, tmp_path):
    shown: list[str] = []
    config = ChatConfig(data=str(cb_file), seed=2, policy="random", out=str(tmp_path / "chats"))
    episode = run_chat(config, read=scripted(["First line.", "/undo", "Second try.", "Another line.", "/undo",
                                              "/undo", "/undo", "Third try."]), write=shown.append)
    assert shown.count("nothing to undo") == 1
    stood = [s for s in shown if s.startswith("Buyer [")]
    # A1, A2, /undo: A1, A2', A3, /undo: A2', /undo: A1, (nothing to undo), A2''
    assert len(stood) == 8 and stood[0] == stood[2] == stood[6] and stood[3] == stood[5]
    seller = [t.text for t in episode.turns if t.role == "Seller"][1:]
    assert seller == ["Third try."]
    assert "outcome: you quit" in shown  # EOF ends like /quit
    shown.clear()
    episode = run_chat(config, read=scripted(["Hi.", "/restart", "Hello again."]), write=shown.append)
    assert "starting this case again" in shown
    assert [t.text for t in episode.turns if t.role == "Seller"][1:] == ["Hello again."]
    assert len(Run(tmp_path / "chats").episodes()) == 2


def test_the_buyer_accepting_and_the_seller_confirming_is_a_deal_at_the_ask(cb_file, tmp_path):
    shown: list[str] = []
    config = ChatConfig(data=str(cb_file), seed=0, policy="fixed:agree", out=str(tmp_path / "chats"))
    episode = run_chat(config, read=scripted(["Great, thank you!"]), write=shown.append)
    listed = float(episode.case.fields["seller_price"])
    assert episode.outcome["price"] == listed and episode.outcome["sl"] == 0.0 and episode.outcome["ended_by"] == "rule"
    assert episode.total_reward == 0.0  # the SL ratio of a deal at the list price, as the critic would score it


def test_nothing_said_nothing_saved(cb_file, tmp_path):
    shown: list[str] = []
    run_chat(ChatConfig(data=str(cb_file), out=str(tmp_path / "chats")), read=scripted(["/help", "/quit"]),
             write=shown.append)
    assert "nothing was said; nothing saved" in shown and not (tmp_path / "chats").exists()


def test_out_of_turns_is_counted(cb_file, tmp_path):
    shown: list[str] = []
    config = ChatConfig(data=str(cb_file), policy="fixed:inquire", max_turns=2, out=str(tmp_path / "chats"))
    episode = run_chat(config, read=scripted(["It works well.", "Yes, it does."]), write=shown.append)
    assert episode.outcome["ended_by"] == "max_turns" and "outcome: out of turns (2 of 2)" in shown
    assert episode.total_reward == pytest.approx(-0.2)  # the negotiation's -0.1 per turn without a deal
    assert any("out of turns 1" in s for s in shown)


def test_chat_module_imports_no_model_libraries():
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import apps.chat"], capture_output=True,
                          text=True, cwd=ROOT)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "transformers", "langchain_core", "datasets"}
