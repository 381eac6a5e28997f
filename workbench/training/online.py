"""Environment-in-the-loop wiring of the online methods (GRPO, RLOO, Online DPO, PPO).

The prompts are episode starts of ``--env``'s training cases (the held-out split is left for
``workbench evaluate``). GRPO plays whole episodes through TRL's ``rollout_func``; RLOO and
Online DPO generate one agent turn per prompt and score it by the episode it opens, the rest
played by ``--continuation``.
"""

from __future__ import annotations

import random
from typing import Any

from workbench.env import Agent, DialogueEnv
from workbench.episodes import Case
from workbench.errors import WorkbenchError
from workbench.registry import env_class, make_env
from workbench.splits import split_cases
from workbench.training.config import OnlineOptions
from workbench.training.env_rewards import (ContinuationReward, case_prompts, episode_return_reward,
                                            episode_rollout_func)
from workbench.training.episodic import EpisodePlayer


def build_env(config: OnlineOptions) -> tuple[DialogueEnv, list[Case]]:
    """The environment (its scripted or LLM simulator and critic) and up to ``--prompts`` training cases."""
    cls = env_class(config.env)
    model = None
    if config.simulator != "scripted":
        from workbench.llm.resolve import EMBEDDED, chat_model, frozen_role_spec

        model = chat_model(frozen_role_spec(config.simulator_model or EMBEDDED))
    env = make_env(config.env, simulator=config.simulator, sim_model=model, critic_model=model,
                   max_turns=config.max_turns)
    cases = split_cases(cls.cases(config.cases), "train")
    random.Random(config.seed).shuffle(cases)
    return env, cases[: config.prompts]


def player(config: OnlineOptions, env: DialogueEnv, tokenizer: Any, chat: bool) -> EpisodePlayer:
    return EpisodePlayer(env, tokenizer, chat=chat, system=config.system, max_new_tokens=config.max_new_tokens,
                         temperature=config.temperature)


def env_setup(config: OnlineOptions, tokenizer: Any, chat: bool,
              continuation: Agent | None) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], DialogueEnv]:
    """``(prompt rows, trainer kwargs, TRL options, env)`` for ``config.method`` with rewards from ``--env``;
    ``continuation`` plays the episodes on after the trained turn (RLOO, Online DPO)."""
    env, cases = build_env(config)
    rows, by_prompt = case_prompts(env, cases, tokenizer, chat=chat, system=config.system)
    if config.method == "grpo":
        turns = config.max_turns or env.max_turns
        kwargs = {"reward_funcs": [episode_return_reward],
                  "rollout_func": episode_rollout_func(player(config, env, tokenizer, chat), by_prompt, config.seed)}
        return rows, kwargs, {"max_completion_length": turns * config.max_new_tokens * 4}, env
    if continuation is None:
        raise WorkbenchError(f"{config.method} with --env needs a continuation agent to play the episodes on")
    reward = ContinuationReward(env, {c.id: c for c in cases}, continuation, seed=config.seed)
    length = {"max_new_tokens": config.max_new_tokens, "max_completion_length": config.max_new_tokens}
    return rows, {"reward_funcs": [reward]}, length, env
