"""Trained Commander user agents for the TEACh household games (Philipov et al. 2024, arXiv 2410.23535).

Two agents learn from the human Commanders of TEACh (Padmakumar et al., AAAI 2022) when to speak and with
which dialogue acts: :mod:`.classifier` (the PPDPP planner's encoder with a speak head and an act head) and
:mod:`.lora` (LoRA supervised fine-tuning of a causal LM on the Instruction/Response examples). This module
stays light: it declares their ``workbench train`` methods (:data:`METHODS`) and adds their user-agent specs
``classifier:<folder>`` and ``sft:<folder>`` to :mod:`simulators.household.humanlike`
(:func:`register_user_agents`).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from workbench.errors import WorkbenchError
from workbench.methods import Method

_GAMES = "TEACh turn-level games (--data; default: the shared development games), split by game id"

METHODS = (
    Method("user-classifier", "TEACh Commander user agent: encoder with speak and dialogue-act heads",
           "agents.user_agents.config:UserClassifierConfig", "agents.user_agents.run:run_user_classifier",
           _GAMES, inputs=("data",)),
    Method("user-sft", "TEACh Commander user agent: LoRA SFT of a causal LM on the human Commander's answers",
           "agents.user_agents.config:UserSFTConfig", "agents.user_agents.run:run_user_sft",
           _GAMES + "; balanced speak / observe steps", inputs=("model", "data")),
)

CLASSIFIER_MARKER = "user_classifier.json"
SFT_MARKER = "user_agent.json"


def agent_folder(argument: str, inner: str, marker: str) -> Path:
    """The agent folder a user-agent spec names: ``argument`` itself, or ``argument/inner`` (the run folder's)."""
    if not argument:
        raise WorkbenchError(f"this user agent needs a folder: <prefix>:<folder> (with {marker})")
    path = Path(argument).expanduser()
    for candidate in (path, path / inner):
        if (candidate / marker).is_file():
            return candidate
    raise WorkbenchError(f"{path}: no trained user agent here or in {path / inner} (missing {marker})")


def _check_classifier(argument: str) -> None:
    agent_folder(argument, "agent", CLASSIFIER_MARKER)


def _check_sft(argument: str) -> None:
    agent_folder(argument, "sft/model", SFT_MARKER)


def _build_classifier(argument: str, train_games: Sequence[Any], options: Any) -> Any:
    from agents.user_agents.classifier import ClassifierUserAgent

    return ClassifierUserAgent.load(agent_folder(argument, "agent", CLASSIFIER_MARKER))


def _build_sft(argument: str, train_games: Sequence[Any], options: Any) -> Any:
    from agents.user_agents.lora import LoRAUserAgent

    return LoRAUserAgent.load(agent_folder(argument, "sft/model", SFT_MARKER))


def household_kit() -> ModuleType:
    """The household environment's Commander kit (games, prompts, parser, user-agent registry), reached through
    the environment registry: ``agents`` never imports ``simulators``."""
    from workbench.registry import env_class

    return env_class("household").commander_kit()


def register_user_agents() -> None:
    """Add ``classifier:<folder>`` and ``sft:<folder>`` (an agent folder or its training run folder) to the user
    agents of :func:`simulators.household.humanlike.make_user_agent`."""
    kit = household_kit()
    UserAgentKind, register_user_agent = kit.UserAgentKind, kit.register_user_agent

    register_user_agent("classifier", UserAgentKind(
        _build_classifier, "trained speak / act classifier, classifier:<folder> (workbench train user-classifier)",
        _check_classifier))
    register_user_agent("sft", UserAgentKind(
        _build_sft, "LoRA-tuned LLM Commander, sft:<folder> (workbench train user-sft)", _check_sft))
