"""The retrospective model: a chat model that reads a failed trial and writes one reflection.

The prompt is Reflexion's self-reflection prompt (Shinn et al. 2023, Appendix) adapted to the workbench's
environments and to base models: an instruction, one worked example (the environment's
``reflection_example`` when it has one, else one built from its strategy names), then the failed trial as
"Role [strategy]: text" lines with its result and return and the reflections written before (the actor's memory);
the reply's first line is the reflection. All failed trials of a batch are one ``batch``
call. An empty reply is replaced by :data:`EMPTY` and marked ``info["fallback"]``, so it is counted
(:func:`workbench.trials.reflection_fallback_rate`) and left out of training data.

Untrained (the base model) it is Reflexion's reflector; trained by ``workbench train retroformer`` it is
Retroformer's retrospective model (Yao et al., ICLR 2024).
"""

from __future__ import annotations

from typing import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from workbench.env import DialogueEnv
from workbench.episodes import Episode
from workbench.roleplay import clean_utterance
from workbench.trials import Reflection

EMPTY = "No reflection."
"""What stands in for an empty reflection (marked as a fallback)."""
TURN_CHARS = 100
"""Characters kept of each turn's text in the prompt."""


def _clip(text: str, limit: int = TURN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def trajectory(episode: Episode, agent_role: str, max_turns: int = 10) -> str:
    """The trial as "Role [strategy]: text" lines (the last ``max_turns`` turns) and its result."""
    lines = [f"{t.role}{f' [{t.strategy}]' if t.strategy and t.role == agent_role else ''}: {_clip(t.text)}"
             for t in episode.turns[-max_turns:]]
    result = "success" if episode.success else "failure"
    return "\n".join(lines + [f"Result: {result} (return {episode.total_reward:.2f})"])


def strategy_example(env: type[DialogueEnv]) -> tuple[str, str]:
    """A worked example (attempt, reflection) built from the environment's strategies, for environments without
    their own ``reflection_example``."""
    names = [s.name for s in env.strategies]
    a, b, c = (names * 3)[:3]
    attempt = (f"{env.agent_role} [{a}]: ...\n{env.user_role}: (not convinced)\n{env.agent_role} [{a}]: ...\n"
               f"{env.user_role}: (cooler, losing interest)\nResult: failure (return 0.00)")
    return attempt, (f"Repeating {a} made the {env.user_role} lose interest. Next time use {b} first, prefer {c}, "
                     f"and avoid {a}.")


def reflection_prompt(env: type[DialogueEnv], episode: Episode, memory: Sequence[str]) -> list[BaseMessage]:
    """The reflector's prompt for one failed trial (module docstring): the instruction, the worked example as an
    "Attempt" and its "Reflection", then this attempt; a base model sees a transcript ending in "Reflection:"."""
    example = getattr(env, "reflection_example", None)
    attempt, reflection = example() if callable(example) else strategy_example(env)
    names = ", ".join(s.name for s in env.strategies)
    earlier = "".join(f"\nEarlier reflection: {m}" for m in memory)
    system = (f"You review a failed attempt of the {env.agent_role} ({env.description.rstrip('.')}) and write a one-sentence "
              f"reflection: what went wrong, and which strategies to use first, to prefer and to avoid next time.\n"
              f"Strategies: {names}.")
    return [SystemMessage(system), HumanMessage(attempt, name="Attempt"), AIMessage(reflection, name="Reflection"),
            HumanMessage(trajectory(episode, env.agent_role) + earlier, name="Attempt")]


class LLMReflector:
    """A chat model as the reflector (module docstring); ``model`` may carry a trained LoRA adapter."""

    def __init__(self, model: BaseChatModel, env: type[DialogueEnv], *, temperature: float = 0.7,
                 max_tokens: int = 48):
        self.model = model.bind(temperature=temperature, max_tokens=max_tokens, stop=["\n"])
        self.env = env

    def prompts(self, episodes: Sequence[Episode], memories: Sequence[Sequence[str]]) -> list[list[BaseMessage]]:
        return [reflection_prompt(self.env, e, m) for e, m in zip(episodes, memories, strict=True)]

    def reflect(self, episodes: Sequence[Episode], memories: Sequence[Sequence[str]]) -> list[Reflection]:
        if not episodes:
            return []
        replies = self.model.batch(self.prompts(episodes, memories))
        out = []
        for reply in replies:
            text = clean_utterance(str(reply.content).split("\n")[0])
            out.append(Reflection(text, {"generated": True}) if text
                       else Reflection(EMPTY, {"generated": True, "fallback": "empty reflection -> " + repr(EMPTY)}))
        return out


def transcript_models(models: dict[str, BaseChatModel | None]) -> dict[str, BaseChatModel | None]:
    """``models`` with every local model set to read "Role: text" transcripts, the prompt form Retroformer's
    training data are written in (:func:`agents.retroformer.train.prompt_texts`), also where its tokenizer has a chat
    template; other chat models (a server's) are left as they are."""
    from workbench.llm.local import LocalChatModel

    for model in models.values():
        if isinstance(model, LocalChatModel):
            model.use_chat_template = False
    return models
