"""Progress of long jobs: units of work done out of a planned total, for a terminal bar and for a callback.

A :class:`Meter` draws a tqdm bar, whose ETA appears once the first unit is done, and hands every change
to an ``on_progress`` callback as a :class:`Progress` (so the app can show the same numbers). Its total may
be an estimate that the job refines as it learns more (:meth:`Meter.plan`).

Work that one call does in bulk (a batched ``generate`` over hundreds of sequences) moves a meter while it
runs: inside ``with meter.calls(n):`` the meter is the *current sink* (:func:`current_sink`, a context
variable, so each thread and job has its own), and local models report to it every sequence they finish
and the tokens they decode (:class:`workbench.llm.local.LocalChatModel`; the shared batcher carries each
request's sink to its worker). A meter counting model calls thus moves within a call, at most up to the
``n`` units of that call, which it reaches when the call returns (remote models report nothing).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from tqdm.auto import tqdm


@dataclass(frozen=True)
class Progress:
    """One reading of a meter."""

    done: int
    total: int
    """Planned units (an estimate that the job may refine; ``done == total`` at the end)."""
    unit: str
    elapsed: float
    """Seconds since the meter started."""
    note: str = ""
    """What is in flight, e.g. ``3/8 ep, turn 2-3``."""
    tokens: int = 0
    """Tokens decoded by local models for this job so far."""

    @property
    def eta(self) -> float | None:
        """Seconds left at the mean rate so far; None before the first unit is done."""
        return self.elapsed * (self.total - self.done) / self.done if self.done > 0 else None


ProgressFn = Callable[[Progress], None]
"""Receives every change of a meter; it may be called from a model's worker thread."""


class Sink(Protocol):
    """What local models report generation to."""

    def generated(self, sequences: int, tokens: int) -> None:
        """``sequences`` more finished and ``tokens`` more decoded (since the last report)."""


_SINK: ContextVar[Sink | None] = ContextVar("workbench_progress_sink", default=None)


def current_sink() -> Sink | None:
    """The sink that generation in this context reports to, if any."""
    return _SINK.get()


@contextmanager
def reporting_to(sink: Sink | None) -> Iterator[None]:
    """Make ``sink`` the current sink inside the block."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


class Meter:
    """Units done out of ``total``: a tqdm bar (``show``) and ``on_progress``; a :class:`Sink` inside
    :meth:`calls`. Use it as a context manager, which closes the bar."""

    def __init__(self, total: int, *, desc: str, unit: str = "call", show: bool = True,
                 on_progress: ProgressFn | None = None, **bar: Any):
        self.done, self.total, self.tokens, self.unit, self.note = 0, max(total, 0), 0, unit, ""
        self._limit: int | None = None
        self._on_progress = on_progress
        self._watched = show or on_progress is not None
        self._lock = threading.RLock()
        self._start = time.monotonic()
        # smoothing=0: the ETA uses the mean rate since the start; miniters=0: redraw on time, also without
        # new units (tokens, a refined total)
        self._bar = tqdm(total=self.total, desc=desc, unit=unit, disable=not show, smoothing=0, miniters=0,
                         dynamic_ncols=True, **bar)
        self._shown = 0
        self._emit()

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def reading(self) -> Progress:
        """The meter now."""
        return Progress(self.done, self.total, self.unit, time.monotonic() - self._start, self.note, self.tokens)

    def advance(self, units: int = 1) -> None:
        """``units`` more done."""
        with self._lock:
            self.done += units
            self.total = max(self.total, self.done)
            self._emit()

    def plan(self, total: int) -> None:
        """Refine the planned total (never below what is done)."""
        with self._lock:
            self.total = max(total, self.done)
            self._emit()

    def describe(self, note: str) -> None:
        """Say what is in flight (shown after the counts)."""
        with self._lock:
            self.note = note
            self._emit()

    @contextmanager
    def calls(self, units: int) -> Iterator[None]:
        """The block does ``units`` units: sequences that local models finish inside it count towards them
        (and no further), and all of them are done when it ends without an error."""
        with self._lock:
            self._limit = self.done + units
            self.total = max(self.total, self._limit)
        try:
            if self._watched:
                with reporting_to(self):
                    yield
            else:
                yield
            with self._lock:
                self.done = self._limit
                self._emit()
        finally:
            self._limit = None

    def generated(self, sequences: int, tokens: int) -> None:
        """A local model's report (see :class:`Sink`)."""
        with self._lock:
            if self._limit is not None:
                self.done = min(self.done + sequences, self._limit)
            self.tokens += tokens
            self._emit()

    def _emit(self) -> None:
        if not self._watched:
            return
        self._bar.total = self.total
        tokens = f"{self.tokens} tok" if self.tokens else ""
        self._bar.set_postfix_str(", ".join(part for part in (self.note, tokens) if part), refresh=False)
        self._bar.update(self.done - self._shown)
        self._shown = self.done
        if self._on_progress is not None:
            self._on_progress(self.reading())
