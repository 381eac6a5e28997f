"""Rewards from playing the environment, for TRL's online trainers.

- :func:`episode_rollout_func`: GRPO's ``rollout_func``. Each prompt is an episode start; the
  policy plays the whole episode (``EpisodePlayer``), the completion is every turn after the
  opening with the user's turns masked out (``env_mask``), and the reward is the episode return.
- :class:`ContinuationReward`: a reward function for RLOO and Online DPO, whose completions are
  single agent turns: the completion is played as the agent's first move, an agent the caller gives
  (the template agent under a strategy policy) plays the rest of the episode, and the reward is the
  return.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from workbench.env import Agent, DialogueEnv, DialogueState
from workbench.episodes import Case, Turn
from workbench.errors import WorkbenchError
from workbench.rollout import episode_seed, rollout
from workbench.training.episodic import EpisodePlayer, completion_logprobs, dialogue_messages
from workbench.training.masking import role_labels, transcript_prompt


def prompt_text(env: DialogueEnv, case: Case, tokenizer: Any, *, chat: bool, system: str | None) -> str:
    """The policy's prompt for a case's episode start: its opening as chat-template or transcript text."""
    state = env.begin(case, 0)
    messages = dialogue_messages(state.turns, env.agent_role, system)
    if chat:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return transcript_prompt(messages, role_labels(env.user_role, env.agent_role))


def case_prompts(env: DialogueEnv, cases: Sequence[Case], tokenizer: Any, *, chat: bool,
                 system: str | None) -> tuple[list[dict[str, Any]], dict[str, Case]]:
    """Dataset rows ``{"prompt", "case_id"}``, one per case, and the cases by prompt text (a prompt
    shared by several cases plays the first of them)."""
    rows, by_prompt = [], {}
    for case in cases:
        text = prompt_text(env, case, tokenizer, chat=chat, system=system)
        by_prompt.setdefault(text, case)
        rows.append({"prompt": text, "case_id": case.id})
    return rows, by_prompt


def episode_rollout_func(player: EpisodePlayer, by_prompt: dict[str, Case], seed: int) -> Callable:
    """GRPO ``rollout_func``: one whole episode per prompt entry, played by the trainer's policy."""
    calls = [0]

    def rollout_func(prompts: list[str], trainer: Any) -> dict[str, Any]:
        unknown = [p for p in prompts if p not in by_prompt]
        if unknown:
            raise WorkbenchError(f"prompt {json.dumps(unknown[0])[:80]} is no episode start of {player.env.name}")
        model = trainer.accelerator.unwrap_model(trainer.model)
        calls[0] += 1
        played = player.play(model, [by_prompt[p] for p in prompts],
                             seed=episode_seed(seed, calls[0] * 1009 + trainer.accelerator.process_index))
        pad = player.tokenizer.pad_token_id
        return {"prompt_ids": [p.prompt_ids for p in played], "completion_ids": [p.completion_ids for p in played],
                "logprobs": completion_logprobs(model, played, pad),
                "env_mask": [p.agent_mask for p in played],
                "episode_return": [p.ret for p in played]}

    return rollout_func


def episode_return_reward(completions: list, episode_return: list[float], **_: Any) -> list[float]:
    """GRPO reward function: the return of the episode the rollout function played."""
    return [float(r) for r in episode_return]


class _FirstMoveAgent:
    """Plays a given text as each episode's first agent move, then defers to ``rest``."""

    def __init__(self, first: dict[int, str], rest: Agent):
        self.first, self.rest = first, rest

    def act(self, states: Sequence[DialogueState]) -> list[Turn]:
        later = [s for s in states if s.agent_turns > 0]
        planned = iter(self.rest.act(later)) if later else iter(())
        return [next(planned) if s.agent_turns > 0 else Turn(role=s.agent_role, text=self.first[s.seed])
                for s in states]


class ContinuationReward:
    """Reward of an agent turn = the return of the episode it opens, the rest played by ``rest`` (e.g. the
    template agent under a strategy policy)."""

    __name__ = "episode_return"

    def __init__(self, env: DialogueEnv, cases: dict[str, Case], rest: Agent, seed: int = 0):
        self.env, self.cases, self.rest, self.seed = env, cases, rest, seed
        self.calls = 0

    def __call__(self, prompts: list, completions: list, case_id: list[str], **_: Any) -> list[float]:
        self.calls += 1
        base = self.seed * 7919 + self.calls
        texts = [c[0]["content"] if isinstance(c, list) else str(c) for c in completions]
        first = {episode_seed(base, i): t.strip().split("\n")[0] for i, t in enumerate(texts)}
        episodes = rollout(self.env, _FirstMoveAgent(first, self.rest), [self.cases[c] for c in case_id],
                           n=len(texts), seed=base, progress=False)
        return [e.total_reward for e in episodes]
