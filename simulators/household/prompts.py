"""The LLM Commander prompt of Philipov et al. (2024, arXiv 2410.23535), Section 4.

The prompt states the Commander's role, the goal and the game so far, one move a line, and asks for the
Commander's response at this step: ``OBSERVE`` or one or more TEACh dialogue acts and an utterance::

    Goal: Make a cup of coffee.
    COMMANDER: <observe>
    DRIVER: what should I do? <<RequestForInstruction>>
    COMMANDER: grab the mug in the sink <<Instruction, InformationOnObjectDetails>>
    COMMANDER: <observe>
    DRIVER: <pickup> Mug_1
    COMMANDER response:

A Driver move is preceded by ``COMMANDER: <observe>`` (the Commander watched it); a Commander camera
``<move>`` is also rendered as ``<observe>``, since at that step the Commander chose not to speak.
Only the last ``max_lines`` history lines are kept so that prompts fit small models. Few-shot examples
(contexts from training games with the human answer) are rendered before the query in the same format.
The training target of supervised fine-tuning is :func:`answer_text`, in the Instruction/Response format.
"""

from __future__ import annotations

import random
from typing import Sequence

from .acts import COMMANDER_ACTS
from .games import Context, Decision, Game, GameTurn, contexts

OBSERVE = "OBSERVE"
MAX_LINES = 40
EXAMPLE_LINES = 10

INSTRUCTION = (
    "You are the COMMANDER in a household task game (TEACh). You know the task and can see where every object is; "
    "the DRIVER is a robot that cannot see the task and acts in the house. At each step you either watch the DRIVER "
    "or say something to it. Speak when the DRIVER needs help: to give the task, to tell where an object is, to "
    "correct a mistake or to answer a question; otherwise observe.\n"
    "Answer with one line: OBSERVE to stay silent, or the dialogue act(s) in double angle brackets followed by what "
    "you say, e.g. <<Instruction>> pick up the mug in the sink\n"
    f"Dialogue acts: {', '.join(COMMANDER_ACTS)}."
)


def turn_lines(turn: GameTurn) -> list[str]:
    """The prompt lines of one move (see the module docstring)."""
    if turn.role == "COMMANDER":
        if turn.action != "dialogue":
            return ["COMMANDER: <observe>"]
        return [f"COMMANDER: {turn.utterance} <<{', '.join(turn.das)}>>"]
    if turn.action == "dialogue":
        move = f"DRIVER: {turn.utterance} <<{', '.join(turn.das)}>>"
    else:
        move = f"DRIVER: {turn.action} {turn.target}".rstrip()
    return ["COMMANDER: <observe>", move]


def history_text(goal: str, history: Sequence[GameTurn], max_lines: int = MAX_LINES) -> str:
    """``Goal: ...``, the last whole moves of the history in at most ``max_lines`` lines, ``COMMANDER response:``."""
    kept: list[str] = []
    for turn in reversed(history):
        lines = turn_lines(turn)
        if len(kept) + len(lines) > max_lines:
            break
        kept[:0] = lines
    return "\n".join([f"Goal: {goal}", *kept, "COMMANDER response:"])


def answer_text(decision: Decision) -> str:
    """The answer line for a decision: ``OBSERVE`` or ``<<Act1, Act2>> utterance``."""
    if not decision.speak:
        return OBSERVE
    return f"<<{', '.join(decision.das)}>> {decision.utterance}".rstrip()


def commander_prompt(
    goal: str,
    history: Sequence[GameTurn],
    examples: Sequence[tuple[Context, Decision]] = (),
    max_lines: int = MAX_LINES,
    speaking: bool = False,
) -> str:
    """The full prompt: instruction, few-shot examples (context, human answer), then the query.

    ``speaking=True`` asks for the acts of an utterance the Commander makes now (dialogue-act prediction): the
    prompt then ends with ``COMMANDER response: <<`` so that the model continues with act names.
    """
    parts = [INSTRUCTION]
    for number, (context, decision) in enumerate(examples, 1):
        example = history_text(context.goal, context.history, EXAMPLE_LINES)
        parts.append(f"Example {number}:\n{example} {answer_text(decision)}")
    if examples:
        parts.append("Now the current game:")
    parts.append(history_text(goal, history, max_lines))
    return "\n\n".join(parts) + (" <<" if speaking else "")


def few_shot_examples(train_games: Sequence[Game], k: int, seed: int = 0) -> list[tuple[Context, Decision]]:
    """``k`` (context, human decision) pairs from training games, alternating speak and observe steps.

    Deterministic for a given seed; steps with an empty history are skipped (they show no game).
    """
    if k <= 0:
        return []
    steps = [pair for game in train_games for pair in contexts(game) if pair[0].history]
    rng = random.Random(seed)
    speak = [pair for pair in steps if pair[1].speak]
    observe = [pair for pair in steps if not pair[1].speak]
    rng.shuffle(speak)
    rng.shuffle(observe)
    chosen = []
    while len(chosen) < k and (speak or observe):
        pool = speak if (len(chosen) % 2 == 0 and speak) or not observe else observe
        chosen.append(pool.pop())
    return chosen


def sft_prompt(context: Context, max_lines: int = MAX_LINES) -> str:
    """The Instruction/Response prompt used for LoRA fine-tuning and for querying the tuned model."""
    prompt = commander_prompt(context.goal, context.history, max_lines=max_lines)
    return f"### Instruction:\n{prompt}\n\n### Response:\n"


def sft_example(context: Context, decision: Decision, max_lines: int = MAX_LINES) -> dict[str, str]:
    """One TRL prompt-completion row: the prompt of :func:`sft_prompt` and the human answer."""
    return {"prompt": sft_prompt(context, max_lines), "completion": answer_text(decision)}
