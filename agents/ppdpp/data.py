"""The planner's supervised data: annotated human dialogues as (history, next strategy) examples.

PPDPP (Deng et al., ICLR 2024, Sec. 3.2) fine-tunes the planner on the human strategy labels of
the corpus before self-play RL. Examples come from the environment's ``sft_sources()`` (or the
files given); a file that is also the RL/evaluation case file contributes only its training split,
so the planner never sees the human dialogues of the cases it will be evaluated on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from workbench.env import DialogueEnv, Strategy
from workbench.errors import WorkbenchError
from workbench.splits import split_cases


@dataclass(frozen=True)
class PlannerExample:
    text: str
    label: int
    case_id: str


def annotated_examples(env: type[DialogueEnv], files: Sequence[str | Path] | None = None, *,
                       case_file: str | Path | None = None, heldout: float = 0.3) -> list[PlannerExample]:
    """Examples from ``files`` (default: ``env.sft_sources()``); ``case_file`` (default: the env's
    case file) is restricted to its training split. An unknown strategy label is an error naming its case."""
    index = {s.name: i for i, s in enumerate(env.strategies)}
    case_path = Path(case_file) if case_file is not None else env.default_source()
    sources, examples = list(files or env.sft_sources()), []
    for file in sources:
        cases = env.cases(file)
        if Path(file).resolve() == case_path.resolve():
            cases = split_cases(cases, "train", heldout)
        for case in cases:
            for text, strategy in env.planner_examples([case]):
                if strategy not in index:
                    raise WorkbenchError(f"{case.id}: unknown strategy {strategy!r} for {env.name!r} "
                                         f"(known: {', '.join(index)})")
                examples.append(PlannerExample(text, index[strategy], case.id))
    if not examples:
        raise WorkbenchError(f"no strategy-annotated agent turns in {', '.join(map(str, sources)) or 'any file'}: "
                             f"{env.name!r} has no annotated dialogues (most-frequent needs them)")
    return examples


def most_frequent_strategy(env: type[DialogueEnv], files: Sequence[str | Path] | None = None) -> Strategy:
    """The strategy human agents use most often in the annotated training data (a PPDPP baseline)."""
    counts = Counter(e.label for e in annotated_examples(env, files))
    return env.strategies[counts.most_common(1)[0][0]]
