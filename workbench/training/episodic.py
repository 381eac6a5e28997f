"""Environment-in-the-loop episodes: the policy being trained speaks every agent turn.

``EpisodePlayer`` plays whole multi-turn episodes against an environment's simulator and critic
in lockstep (one batched ``generate`` per agent turn across all live episodes, via the workbench
rollout runner) and returns each as one token sequence: the opening as the prompt, then the
policy's turns and the user's replies as the completion, with a mask that is 1 exactly on the
policy's own tokens, and the critic's reward of every agent turn at that turn's last token.
GRPO (through TRL's ``rollout_func``, with the mask as its ``env_mask``) and the workbench PPO
train on these sequences, so the reward is the outcome of the whole dialogue, not of one reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from workbench.env import DialogueEnv, DialogueState
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.llm.local import LocalChatModel
from workbench.rollout import rollout
from workbench.training.masking import Message, role_labels, tokenize_dialogue


@dataclass
class PlayedEpisode:
    episode: Episode
    prompt_ids: list[int]
    completion_ids: list[int]
    agent_mask: list[int]
    """1 on the policy's own completion tokens, 0 on the environment's."""
    turn_ends: list[int]
    """Completion index of the last token of each policy turn."""
    turn_rewards: list[float]
    """The critic's reward of each policy turn."""

    @property
    def ret(self) -> float:
        return float(sum(self.turn_rewards))


def dialogue_messages(turns: Sequence[Turn], agent_role: str, system: str | None = None) -> list[Message]:
    """TRL chat messages of a dialogue, the agent as the assistant."""
    head = [{"role": "system", "content": system}] if system else []
    return head + [{"role": "assistant" if t.role == agent_role else "user", "content": t.text} for t in turns]


class PolicyAgent:
    """The trained causal LM as a workbench ``Agent``: the dialogue so far is its prompt (chat template
    or "Role: text" transcript), and one batched ``generate`` answers every live dialogue."""

    def __init__(self, chat_model: LocalChatModel, system: str | None = None):
        self.chat_model, self.system = chat_model, system

    def conversation(self, state: DialogueState) -> list[BaseMessage]:
        messages: list[BaseMessage] = [SystemMessage(self.system)] if self.system else []
        for t in state.turns:
            messages.append(AIMessage(t.text) if t.role == state.agent_role else HumanMessage(t.text))
        return messages

    def act(self, states: Sequence[DialogueState]) -> list[Turn]:
        if not states:
            return []
        stop = None if self.chat_model.use_chat_template else ["\n"]  # a transcript turn is one line
        replies = self.chat_model.generate_messages([self.conversation(s) for s in states], stop=stop)
        return [Turn(role=s.agent_role, text=str(r.content).strip()) for s, r in zip(states, replies)]


class EpisodePlayer:
    """Plays episodes of ``env`` with a causal LM policy and tokenizes them for training."""

    def __init__(self, env: DialogueEnv, tokenizer: Any, *, chat: bool, system: str | None = None,
                 max_new_tokens: int = 32, temperature: float = 1.0, batch_size: int = 32):
        self.env, self.tokenizer, self.chat, self.system = env, tokenizer, chat, system
        self.max_new_tokens, self.temperature, self.batch_size = max_new_tokens, temperature, batch_size
        self.labels = role_labels(env.user_role, env.agent_role)

    def policy(self, model: Any, seed: int) -> PolicyAgent:
        """``model`` as the agent, its sampling seeded from ``seed`` (the same calls give the same turns)."""
        chat_model = LocalChatModel(model=model, tokenizer=self.tokenizer, use_chat_template=self.chat,
                                    temperature=self.temperature, top_k=0, top_p=1.0,
                                    max_tokens=self.max_new_tokens, user_label=self.env.user_role,
                                    assistant_label=self.env.agent_role, seed=seed)
        return PolicyAgent(chat_model, self.system)

    def play(self, model: Any, cases: Sequence[Case], seed: int) -> list[PlayedEpisode]:
        """Episode ``i`` plays ``cases[i]`` with the rollout runner's seed for (``seed``, ``i``); the policy's
        sampling is seeded from ``seed`` too, so a resumed run plays what an uninterrupted one did."""
        was_training = model.training
        try:
            episodes = rollout(self.env, self.policy(model, seed), cases, n=len(cases), seed=seed,
                               batch_size=self.batch_size, progress=False)
        finally:
            model.train(was_training)
        return [self.tokenize(e) for e in episodes]

    def tokenize(self, episode: Episode) -> PlayedEpisode:
        """The episode as one token sequence; an episode in which a rewarded policy turn has no token of
        its own (so its reward would land on another turn) is refused."""
        agent = self.env.agent_role
        played = episode.outcome.get("turns", 0)
        agent_turns = [i for i, t in enumerate(episode.turns) if t.role == agent]
        own = set(agent_turns[len(agent_turns) - played:]) if played else set()
        encoded = tokenize_dialogue(dialogue_messages(episode.turns, agent, self.system), self.tokenizer,
                                    chat=self.chat, labels=self.labels, trainable=[i in own for i in agent_turns])
        ids, mask = encoded["input_ids"], encoded["assistant_masks"]
        start = mask.index(1) if 1 in mask else len(ids)
        completion_mask = mask[start:]
        ends = [k for k, m in enumerate(completion_mask)
                if m and (k + 1 == len(completion_mask) or not completion_mask[k + 1])]
        rewards = [float(episode.turns[i].reward or 0.0) for i in sorted(own)]
        if len(ends) != len(rewards):
            raise WorkbenchError(f"episode {episode.id!r}: the policy's {len(rewards)} turns tokenized to {len(ends)} "
                                 "separate spans, so their rewards cannot be placed on their turns")
        return PlayedEpisode(episode, ids[:start], ids[start:], completion_mask, ends, rewards)


def next_token_logps(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: log-probability of each token ``ids[:, t+1]`` under ``logits[:, t]``."""
    return torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def padded(played: Sequence[PlayedEpisode], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, attention)``: each episode's prompt and completion, right-padded to one width."""
    seqs = [p.prompt_ids + p.completion_ids for p in played]
    ids = torch.full((len(seqs), max(len(s) for s in seqs)), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        attention[i, : len(s)] = 1
    return ids, attention


@torch.no_grad()
def completion_logprobs(model: Any, played: Sequence[PlayedEpisode], pad_id: int) -> list[list[float]]:
    """Per-token log-probabilities of each completion under ``model`` (one padded forward pass)."""
    ids, attn = padded(played, pad_id)
    device = next(model.parameters()).device
    ids = ids.to(device)
    logps = next_token_logps(model(input_ids=ids, attention_mask=attn.to(device)).logits, ids)
    out = []
    for i, p in enumerate(played):
        start = len(p.prompt_ids) - 1
        out.append(logps[i, start: start + len(p.completion_ids)].tolist())
    return out
