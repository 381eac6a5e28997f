"""What every simulation command shares: the environment, user simulator, critic and models.

``selfplay``, ``train ppdpp`` and ``evaluate`` all play an agent against a user simulator judged
by a critic; :class:`SimulationConfig` holds those options once and :func:`build_simulation`
loads the models (once per distinct spec) and wires the environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from workbench.config import out_field
from workbench.errors import WorkbenchError
from workbench.registry import CRITICS

if TYPE_CHECKING:  # the configs stay importable (for --help) without LangChain or torch
    from langchain_core.language_models import BaseChatModel

    from agents.policies import Policy
    from workbench.env import Agent, DialogueEnv

EMBEDDED = "embedded:gemma-3-270m"


@dataclass
class SimulationConfig:
    env: str = field(default="negotiation", metadata={"help": "environment (see `workbench envs`)"})
    data: str | None = field(default=None, metadata={
        "help": "case file; default: the environment's shared data", "path": "in"})
    simulator: str = field(default="scripted", metadata={"help": "user simulator: scripted or llm"})
    agent_model: str | None = field(default=None, metadata={
        "help": "agent chat model spec (embedded:gemma-3-270m, a path, openai:MODEL@URL); none: template agent"})
    sim_model: str | None = field(default=None, metadata={
        "help": f"simulator model spec for --simulator llm; default: the agent model, else {EMBEDDED}"})
    critic: str = field(default="auto", metadata={
        "help": "auto (ground truth for scripted, llm otherwise), ground-truth, llm (PPDPP's sampled verdicts) or "
                "critique (the model writes ACU critiques; its verdict and score are the reward)", "choices": CRITICS})
    critic_model: str | None = field(default=None, metadata={
        "help": "critic model spec (critic:<folder>: a critic trained by `workbench train critic`, its verdict and "
                "score the reward); default: the simulator model"})
    adapters: list[str] | None = field(default=None, metadata={
        "help": "feedback adapters (see `workbench feedback list`; `enabled`: the enabled ones) the agent model "
                "speaks with; several are combined. The simulator and critic stay on the base model"})
    adapter_library: str | None = field(default=None, metadata={
        "help": "adapter library folder; default: runs/adapters"})
    critic_samples: int = field(default=10, metadata={"help": "verdicts sampled per judgement (PPDPP: 10)", "min": 1})
    critic_temperature: float = field(default=1.1, metadata={
        "help": "critic sampling temperature (PPDPP: 1.1)", "min": 0})
    sentence_rewards: float = field(default=0.0, metadata={
        "help": "weight of Refine-and-Imitate's sentence-level rewards (repetition, inconsistency, task relevance, "
                "length) added to the critic's reward; 0: off", "min": 0})
    max_turns: int | None = field(default=None, metadata={
        "help": "agent turns per episode; default: the env's", "min": 1})
    batch_size: int = field(default=32, metadata={
        "help": "episodes in lockstep (one batched model call each)", "min": 1})
    temperature: float = field(default=0.7, metadata={"help": "agent and simulator sampling temperature", "min": 0})
    max_new_tokens: int = field(default=40, metadata={"help": "new tokens per agent or simulator turn", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed"})
    out: str | None = out_field("<command>")
    resume: bool = field(default=False, metadata={"help": "continue an interrupted run in --out"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})
    fallback_warning: float = field(default=0.2, metadata={
        "help": "warn (one line at the end) when a fallback rate passes this share: critic samples unparsable, "
                "model replies replaced, critic votes dropped, model plans unparsed", "min": 0})


@dataclass
class Simulation:
    """A wired simulation: the environment class and instance, the loaded models and provenance."""

    cls: type[DialogueEnv]
    env: DialogueEnv
    models: dict[str, BaseChatModel | None]
    specs: dict[str, str | None]
    settings: dict[str, Any]

    def agent(self, policy: Policy | None, config: SimulationConfig) -> Agent:
        return make_agent(self.cls, self.models["agent"], policy, config.temperature, config.max_new_tokens)

    def provenance(self, resumable: tuple[str, ...]) -> dict[str, Any]:
        fixed = json.dumps({k: v for k, v in self.settings.items() if k not in resumable}, sort_keys=True,
                           default=str)
        return {"models": self.specs, "seed": self.settings["seed"], "python": platform.python_version(),
                "config_hash": hashlib.sha256(fixed.encode()).hexdigest()[:16]}


def make_agent(cls: type[DialogueEnv], model: BaseChatModel | None, policy: Policy | None,
               temperature: float, max_tokens: int) -> Agent:
    """The template agent when there is no agent model (it needs a policy), else the prompted LLM agent."""
    if model is None:
        from agents.template import TemplateAgent

        if policy is None:
            raise WorkbenchError("the template agent needs a strategy policy (random, most-frequent, "
                                 "fixed:<strategy> or planner:<folder>); `none` and `procot` need an agent model")
        return TemplateAgent(cls, policy)
    from agents.prompted import PromptedAgent

    return PromptedAgent(model, cls, policy, temperature=temperature, max_tokens=max_tokens)


def adapter_names(names: list[str], library: str | None) -> list[str]:
    """``--adapters`` with ``enabled`` resolved to the library's enabled adapters (stored so, a resumed run
    keeps the agent it started with)."""
    from agents.c3po.config import DEFAULT_LIBRARY
    from agents.c3po.library import ENABLED, AdapterLibrary

    if names != [ENABLED]:
        return names
    resolved = AdapterLibrary(library or DEFAULT_LIBRARY).enabled()
    if not resolved:
        raise WorkbenchError(f"--adapters enabled: no adapter is enabled in {library or DEFAULT_LIBRARY}")
    return resolved


def with_adapters(model: BaseChatModel | None, names: list[str], library: str | None) -> BaseChatModel:
    """The agent model speaking with library adapters ``names`` on every call; calls by others that share
    the loaded model (simulator, critic) keep the base model."""
    from agents.c3po.config import DEFAULT_LIBRARY
    from agents.c3po.library import AdapterLibrary
    from workbench.llm.local import LocalChatModel

    if not isinstance(model, LocalChatModel):
        raise WorkbenchError("--adapters need a local --agent_model (embedded:gemma-3-270m or a model folder)")
    active = AdapterLibrary(library or DEFAULT_LIBRARY).attach(model, names)
    model.disable_adapters()
    return model.bind(adapter=active)


ModelLoader = Callable[[dict[str, str | None], int], dict[str, "BaseChatModel | None"]]
"""``workbench.llm.resolve.load_models``'s signature: role -> spec in, role -> chat model out."""


def build_simulation(config: SimulationConfig, load: ModelLoader | None = None) -> Simulation:
    """Load the environment class, the models the config names (with ``load``, default
    ``workbench.llm.resolve.load_models``: e.g. the app's shared models) and the environment with its critic."""
    from workbench.registry import env_class, make_env

    from workbench.llm.resolve import CRITIC_SPEC, frozen_role_spec

    if load is None:
        from workbench.llm.resolve import load_models as load
    cls = env_class(config.env)
    if config.simulator not in cls.simulator_names:  # a spec the environment reads (household: classifier:<folder>)
        from agents.user_agents import register_user_agents

        register_user_agents()
    sim_spec = (config.sim_model or config.agent_model or EMBEDDED) if config.simulator == "llm" else None
    wants_llm_critic = config.critic in ("llm", "critique") or (
        config.critic == "auto" and config.simulator != "scripted" and not cls.world_ground_truth)
    critic_spec = (config.critic_model or sim_spec or config.agent_model or EMBEDDED) if wants_llm_critic else None
    critic_kind = "critique" if wants_llm_critic and critic_spec.startswith(CRITIC_SPEC) else config.critic
    sim_spec, critic_spec = (frozen_role_spec(s) if s else None for s in (sim_spec, critic_spec))
    specs = {"agent": config.agent_model, "simulator": sim_spec, "critic": critic_spec}
    adapters = adapter_names(config.adapters, config.adapter_library) if config.adapters else None
    settings = dataclasses.asdict(config) | {"sim_model": sim_spec, "critic_model": critic_spec, "adapters": adapters}
    models = load(specs, config.seed)
    if adapters:
        models["agent"] = with_adapters(models["agent"], adapters, config.adapter_library)
    env = make_env(config.env, simulator=config.simulator, sim_model=models["simulator"], critic=critic_kind,
                   critic_model=models["critic"], critic_samples=config.critic_samples,
                   critic_temperature=config.critic_temperature, max_turns=config.max_turns,
                   sentence_rewards=config.sentence_rewards)
    return Simulation(cls, env, models, specs, settings)
