"""MultiCritique's agents (Lan et al. 2024, Sec. 3.1-3.2): a panel of critic agents and the meta-critics that rate
their ACUs.

The panel is every (model, persona) pair: several chat-model specs, or one model with several personas
(:data:`~workbench.critique.prompts.PERSONAS`), each persona shown its own worked example (another criterion and turn,
so that a base model's critics do not all echo one); each critiques every dialogue, one batched call per persona. A meta-critic
rates each ACU: :class:`LLMMetaCritic` asks a model ("yes 7"; an unparsable answer is counted and rates nothing),
:class:`GroundTruthMeta` reads the scripted persona's labels (:mod:`workbench.critique.labels`): an ACU is correct when
its turn did harm under its criterion, its importance that harm on the 1-10 scale, and it knows the verdict and score.
"""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel

from workbench.critique.acu import Critique
from workbench.critique.critic import critique_many
from workbench.critique.labels import severity
from workbench.critique.merge import Rating
from workbench.critique.prompts import PERSONAS, agent_turn_numbers, meta_prompt, parse_meta, transcript_options
from workbench.env import DialogueEnv
from workbench.episodes import Turn

Dialogue = Sequence[Turn]


class CriticPanel:
    """``personas`` critic agents per model (one without a persona when ``personas`` is 1)."""

    def __init__(self, models: Sequence[BaseChatModel], personas: int = 3, *, acus: int = 3, temperature: float = 0.9,
                 max_tokens: int = 120):
        if not 1 <= personas <= len(PERSONAS):
            raise ValueError(f"personas must be 1-{len(PERSONAS)}")
        self.models, self.personas = list(models), [None] if personas == 1 else list(PERSONAS[:personas])
        self.options = {"acus": acus, "temperature": temperature, "max_tokens": max_tokens}

    @property
    def size(self) -> int:
        return len(self.models) * len(self.personas)

    def critique(self, env: type[DialogueEnv], dialogues: Sequence[Dialogue], progress: bool = False
                 ) -> list[list[Critique]]:
        """Each dialogue's critiques, one per critic agent (model-major order); ``info["text"]`` keeps the raw text."""
        from workbench.progress import Meter

        found: list[list[Critique]] = [[] for _ in dialogues]
        with Meter(len(dialogues) * self.size, desc=f"{env.name} critiques", show=progress) as meter:
            for model in self.models:
                for example, persona in enumerate(self.personas):
                    with meter.calls(len(dialogues)):
                        critiques = critique_many(model, env, dialogues, persona=persona, example=example,
                                                  **self.options)
                    for i, critique in enumerate(critiques):
                        found[i].append(critique)
        return found


class LLMMetaCritic:
    """A model rates each ACU (module docstring); ``unparsable`` counts answers that said neither yes nor no."""

    def __init__(self, model: BaseChatModel):
        self.model = model.bind(temperature=0.0, max_tokens=6, stop=["\n"], **transcript_options(model))
        self.unparsable = self.asked = 0

    def rate(self, env: type[DialogueEnv], dialogues: Sequence[Dialogue], critiques: Sequence[Sequence[Critique]]
             ) -> list[list[list[Rating | None]]]:
        where = [(i, k, j) for i, cs in enumerate(critiques) for k, c in enumerate(cs) for j in range(len(c.acus))]
        answers = self.model.batch([meta_prompt(env, dialogues[i], critiques[i][k].acus[j]) for i, k, j in where]) \
            if where else []
        ratings: list[list[list[Rating | None]]] = [[[None] * len(c.acus) for c in cs] for cs in critiques]
        for (i, k, j), answer in zip(where, answers, strict=True):
            parsed = parse_meta(str(answer.content))
            self.asked += 1
            self.unparsable += parsed is None
            ratings[i][k][j] = None if parsed is None else Rating(*parsed)
        return ratings

    def verdict(self, dialogue: Dialogue, finished: bool) -> tuple[None, None]:
        """The merged critique's verdict and score: the critics' own (a model meta-critic does not overrule them)."""
        return None, None


class GroundTruthMeta:
    """The scripted persona's labels as the meta-critic (module docstring); dialogues must be traced."""

    def __init__(self, env: type[DialogueEnv]):
        self.env = env

    def harms(self, dialogue: Dialogue) -> list[dict[str, Any] | None]:
        return [dialogue[i].info.get("flaw") for i in agent_turn_numbers(dialogue, self.env.agent_role)]

    def rate(self, env: type[DialogueEnv], dialogues: Sequence[Dialogue], critiques: Sequence[Sequence[Critique]]
             ) -> list[list[list[Rating | None]]]:
        ratings = []
        for dialogue, cs in zip(dialogues, critiques, strict=True):
            harms = self.harms(dialogue)
            ratings.append([[self._rating(harms[a.turn - 1], a.criterion) for a in c.acus] for c in cs])
        return ratings

    @staticmethod
    def _rating(flaw: dict[str, Any] | None, criterion: str) -> Rating:
        if flaw is None or flaw["criterion"] != criterion:
            return Rating(False)
        return Rating(True, severity(flaw["harm"]))

    def verdict(self, dialogue: Dialogue, finished: bool) -> tuple[str, float]:
        """The true verdict (the ground-truth critic's last verdict; a ``finished`` dialogue that was not done ran out
        of turns: failure) and score (``11 - severity`` of the worst harm, 10 for a harmless dialogue)."""
        last = next((t.info["verdict"] for t in reversed(dialogue) if "verdict" in t.info), None)
        success = last is not None and last["success"]
        verdict = "success" if success else "failure" if finished or (last is not None and last["done"]) else "ongoing"
        worst = max((h["harm"] for h in self.harms(dialogue) if h), default=0.0)
        return verdict, float(11 - severity(worst)) if worst > 0 else 10.0
