"""Deterministic train / held-out splits of a case file, by a hash of each case id.

A case is held out when ``crc32(id) / 2**32 < heldout``; the assignment depends only on the id
(``"<file stem>:<line>"``), so training and evaluation agree on it in any process, and growing a
file does not move old cases between splits. A second, independent hash carves a validation set
out of the training split (for supervised checkpoint selection).
"""

from __future__ import annotations

import zlib
from typing import Literal, Sequence, TypeVar

from workbench.episodes import Case
from workbench.errors import WorkbenchError

Split = Literal["all", "train", "heldout"]
SPLITS = ("all", "train", "heldout")
T = TypeVar("T")


def unit_hash(key: str) -> float:
    return zlib.crc32(key.encode("utf-8")) / 2**32


def split_cases(cases: Sequence[Case], split: str, heldout: float = 0.3) -> list[Case]:
    """The cases of ``split`` ("all", "train" or "heldout") for a held-out share ``heldout``."""
    if split not in SPLITS:
        raise WorkbenchError(f"unknown split {split!r} (use {', '.join(SPLITS)})")
    if not 0.0 <= heldout < 1.0:
        raise WorkbenchError(f"heldout must be in [0, 1), got {heldout}")
    if split == "all":
        return list(cases)
    chosen = [c for c in cases if (unit_hash(c.id) < heldout) == (split == "heldout")]
    if not chosen:
        raise WorkbenchError(f"the {split} split of {len(cases)} cases is empty (heldout={heldout})")
    return chosen


def validation_split(items: Sequence[T], keys: Sequence[str], fraction: float) -> tuple[list[T], list[T]]:
    """``(train, validation)``: an item goes to validation when ``hash("val:" + key) < fraction``."""
    train, val = [], []
    for item, key in zip(items, keys, strict=True):
        (val if unit_hash(f"val:{key}") < fraction else train).append(item)
    return train, val
