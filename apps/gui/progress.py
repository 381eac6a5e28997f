"""Progress as the page shows it, "37% · 37/100 · ETA 1:20": read from a job's tqdm bar, or estimated from a
self-play run's finished episodes and its elapsed time."""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.progress import Progress as Reading

_BAR = re.compile(r"(?:([^\r\n|:]{1,60}):\s*)?(\d+)%\|[^|\r\n]*\|\s*(\d+)/(\d+)(?:\s*\[([\d:]+)<([\d:]+|\?))?")
"""A tqdm bar: "label:  37%|███▋      | 37/100 [00:30<01:20, 1.2it/s]" (label and times optional)."""


@dataclass(frozen=True)
class Progress:
    """How far a piece of work is: ``done`` of ``total`` steps, with the time it took and the time it needs."""

    label: str
    done: int
    total: int
    elapsed_s: float | None = None
    eta_s: float | None = None
    """Seconds still needed (None: unknown)."""

    @classmethod
    def estimate(cls, label: str, done: int, total: int, elapsed_s: float) -> Progress:
        """Progress whose remaining time assumes the pace so far (unknown before the first step is done)."""
        eta = elapsed_s / done * (total - done) if done else None
        return cls(label, done, total, elapsed_s, eta)

    @classmethod
    def of(cls, label: str, reading: Reading) -> Progress:
        """A reading of a ``workbench.progress`` meter (model calls of a rollout, refined as it goes)."""
        return cls(label, reading.done, reading.total, reading.elapsed, reading.eta)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def text(self) -> str:
        """E.g. "planner SFT 37% · 37/100 · ETA 1:20" (no ETA once done or while unknown)."""
        parts = [f"{self.label} {self.fraction:.0%}".strip(), f"{self.done}/{self.total}"]
        if self.done < self.total and self.eta_s is not None:
            parts.append(f"ETA {clock(self.eta_s)}")
        elif self.done >= self.total and self.elapsed_s is not None:
            parts.append(f"took {clock(self.elapsed_s)}")
        return " · ".join(parts)


def clock(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _seconds(text: str | None) -> float | None:
    """tqdm's "01:20" or "1:02:03" as seconds; None for "?" or nothing."""
    if not text or text == "?":
        return None
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return float(total)


def last_bar(text: str) -> Progress | None:
    """The latest tqdm bar in ``text`` (a job's output), or None when it has none."""
    found = list(_BAR.finditer(text))
    if not found:
        return None
    label, _, done, total, elapsed, eta = found[-1].groups()
    return Progress((label or "").strip(), int(done), int(total), _seconds(elapsed), _seconds(eta))
