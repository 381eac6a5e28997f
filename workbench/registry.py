"""Environment registry and the one factory that wires an environment to its simulator and critic.

Environments are found through the ``workbench.envs`` entry-point group (``simulators`` fills it
in ``pyproject.toml``; third-party packages can add their own) and through :func:`register`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # the CLI reads CRITICS for --help without loading LangChain
    from langchain_core.language_models import BaseChatModel

    from workbench.env import Critic, DialogueEnv, UserSimulator

_EXTRA: dict[str, str] = {}
CRITICS = ("auto", "ground-truth", "llm", "critique")


def register(name: str, target: str) -> None:
    """Register an environment class by import path ``"package.module:Class"``."""
    _EXTRA[name] = target


def _targets() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group="workbench.envs")}
    return found | _EXTRA


def env_names() -> list[str]:
    return sorted(_targets())


def env_class(name: str) -> type[DialogueEnv]:
    targets = _targets()
    if name not in targets:
        raise WorkbenchError(f"unknown environment {name!r} (known: {', '.join(sorted(targets)) or 'none'})")
    module, _, attr = targets[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def game_names() -> list[str]:
    """Vectorised games with a human seat (the ``workbench.games`` entry points: ``moba``)."""
    return sorted(ep.name for ep in entry_points(group="workbench.games"))


def game_class(name: str) -> type:
    """The vector environment class of game ``name`` (Gymnasium's vector API); ``agents`` reach games through
    it instead of importing ``simulators``."""
    found = {ep.name: ep for ep in entry_points(group="workbench.games")}
    if name not in found:
        raise WorkbenchError(f"unknown game {name!r} (known: {', '.join(sorted(found)) or 'none'})")
    return found[name].load()


def make_simulator(env: type[DialogueEnv], name: str, model: BaseChatModel | None) -> UserSimulator:
    """The simulator ``name``: one of ``env.simulator_names`` or a spec the environment reads itself
    (:meth:`DialogueEnv.spec_simulator`)."""
    own = env.spec_simulator(name) if name not in env.simulator_names else None
    if own is not None:
        return own
    if name not in env.simulator_names:
        raise WorkbenchError(f"unknown simulator {name!r} for {env.name!r} (known: {', '.join(env.simulator_names)})")
    if name == "scripted":
        return env.scripted_simulator()
    if model is None:
        raise WorkbenchError(f"the {name!r} simulator needs a model (--sim-model)")
    return env.llm_simulator(model)


def make_critic(env: type[DialogueEnv], kind: str, simulator: str, model: BaseChatModel | None, *,
                samples: int = 10, temperature: float = 1.1) -> Critic:
    """``auto`` is the ground truth for the scripted simulator (for any simulator where the environment's world
    judges, ``env.world_ground_truth``) and an LLM critic otherwise; ``critique``: the model critiques the dialogue
    with ACUs and its verdict and score are the reward (:class:`workbench.critique.critic.CritiqueCritic`)."""
    if kind not in CRITICS:
        raise WorkbenchError(f"unknown critic {kind!r} (known: {', '.join(CRITICS)})")
    if kind == "auto":
        kind = "ground-truth" if simulator == "scripted" or env.world_ground_truth else "llm"
    from workbench.critics import GroundTruthCritic, LLMCritic

    if kind == "ground-truth":
        if simulator != "scripted" and not env.world_ground_truth:
            raise WorkbenchError("the ground-truth critic needs the scripted simulator's hidden state")
        return GroundTruthCritic(env.ground_truth)
    if model is None:
        raise WorkbenchError(f"the {kind} critic needs a model (--critic_model)")
    if kind == "critique":
        from workbench.critique.critic import CritiqueCritic

        return CritiqueCritic(model, env, samples=samples, temperature=temperature)
    return LLMCritic(model, env.critic_prompt, env.parse_verdict, env.aggregate_verdicts,
                     samples=samples, temperature=temperature)


def make_env(name: str, *, simulator: str = "scripted", sim_model: BaseChatModel | None = None,
             critic: str = "auto", critic_model: BaseChatModel | None = None, critic_samples: int = 10,
             critic_temperature: float = 1.1, max_turns: int | None = None,
             sentence_rewards: float = 0.0) -> DialogueEnv:
    """The environment ``name`` with its simulator and critic; ``sentence_rewards`` > 0 adds that weight of
    Refine-and-Imitate's sentence-level rewards (:mod:`workbench.sentence_rewards`) to the critic's."""
    cls = env_class(name)
    user = make_simulator(cls, simulator, sim_model)
    judge = make_critic(cls, critic, simulator, critic_model, samples=critic_samples, temperature=critic_temperature)
    if sentence_rewards:
        from workbench.llm.embedded import SentenceEncoder
        from workbench.sentence_rewards import SentenceRewardCritic, SentenceScorer

        judge = SentenceRewardCritic(judge, SentenceScorer(SentenceEncoder(), cls.description), cls.agent_role,
                                     sentence_rewards)
    return cls(user, judge, max_turns=max_turns)
