"""Checkable feedback: rules read from the feedback text (or given as ``KIND=VALUE``) that score a reply.

Where a feedback names something a program can verify (a length, a string to start or end with,
include or avoid, a regular expression, a language), adherence is measured by that program rather
than by a judge model, as RLVF's evaluation does for its checkable feedback categories (Stephan et
al., ICML 2024, Sec. 5). Each check can also *repair* a reply that breaks it, which data generation
uses when a small model's revision still fails the check (logged and counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.errors import WorkbenchError

KINDS = ("starts_with", "ends_with", "contains", "excludes", "regex", "max_sentences", "max_words", "language",
         "no_emoji")
_NUMBERS = {"one": 1, "a single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "twenty": 20, "thirty": 30, "fifty": 50}
_LANGUAGES = {"english": "en", "italian": "it", "french": "fr", "spanish": "es", "german": "de",
              "portuguese": "pt", "dutch": "nl", "chinese": "zh-cn", "japanese": "ja", "russian": "ru"}
_QUOTED = r"[\"“'‘]([^\"”'’]{1,80})[\"”'’]"
_COUNT = rf"(\d+|{'|'.join(_NUMBERS)})"
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF\U0000FE0F]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Check:
    """One checkable rule: ``kind`` (one of ``KINDS``) with its value."""

    kind: str
    value: str | int = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "no_emoji" else f"{self.kind}={self.value}"

    def passes(self, text: str) -> bool:
        """Whether ``text`` follows the rule."""
        text = text.strip()
        low, value = text.lower(), str(self.value).lower()
        if self.kind == "starts_with":
            return low.startswith(value)
        if self.kind == "ends_with":
            return low.rstrip().endswith(value)
        if self.kind == "contains":
            return value in low
        if self.kind == "excludes":
            return value not in low
        if self.kind == "regex":
            return re.search(str(self.value), text) is not None
        if self.kind == "max_sentences":
            return 0 < len(sentences(text)) <= int(self.value)
        if self.kind == "max_words":
            return 0 < len(text.split()) <= int(self.value)
        if self.kind == "no_emoji":
            return not _EMOJI.search(text)
        return language(text) == self.value

    def repair(self, text: str) -> str | None:
        """``text`` changed as little as possible to pass, or None where no edit is defined."""
        text = text.strip()
        if self.kind == "starts_with":
            return f"{self.value} {text[:1].lower()}{text[1:]}".strip()
        if self.kind == "ends_with":
            return f"{text} {self.value}".strip()
        if self.kind == "contains":
            return f"{text} {self.value}".strip()
        if self.kind == "excludes":
            return " ".join(re.sub(re.escape(str(self.value)), "", text, flags=re.I).split()) or None
        if self.kind == "max_sentences":
            return " ".join(sentences(text)[: int(self.value)]) or None
        if self.kind == "max_words":
            return " ".join(text.split()[: int(self.value)]) or None
        if self.kind == "no_emoji":
            return " ".join(_EMOJI.sub("", text).split()) or None
        return None


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def language(text: str) -> str | None:
    """The ISO code langdetect finds for ``text`` (seeded, so stable), or None for text without letters."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b(?:start|begin|open)\w*\b[^\"“'‘]*?\bwith\s+{_QUOTED}", re.I), "starts_with"),
    (re.compile(rf"\b(?:end|finish|close|sign off)\w*\b[^\"“'‘]*?\bwith\s+{_QUOTED}", re.I), "ends_with"),
    (re.compile(rf"\b(?:don'?t|do not|never|avoid|without)\b[^\"“'‘]*?{_QUOTED}", re.I), "excludes"),
    (re.compile(rf"\b(?:mention|include|say|use|add)\w*\b[^\"“'‘]*?{_QUOTED}", re.I), "contains"),
]
_LENGTH = re.compile(rf"\b(under|fewer than|less than|at most|no more than|up to|maximum of|max|within)\s+{_COUNT}"
                     r"\s+(sentence|word)s?\b", re.I)
_SINGLE = re.compile(r"\b(?:one|a single) (sentence|word)\b", re.I)
_LANGUAGE = re.compile(r"\b(?:in|reply in|respond in|answer in|write in|speak)\s+(" + "|".join(_LANGUAGES) + r")\b",
                       re.I)


def checks_from_text(feedback: str) -> list[Check]:
    """The checks a feedback states in plain words ("begin with \\"Hi\\"", "under two sentences", "no emojis",
    "reply in Italian"); empty when nothing is checkable (then a judge model scores adherence)."""
    found: list[Check] = []
    for pattern, kind in _PATTERNS:
        match = pattern.search(feedback)
        if match and not any(c.value == match.group(1) for c in found):
            found.append(Check(kind, match.group(1)))
    if match := _LENGTH.search(feedback):
        bound, n, unit = match.group(1).lower(), _count(match.group(2).lower()), match.group(3).lower()
        strict = bound in {"under", "fewer than", "less than"}
        found.append(Check(f"max_{unit}s", max(1, n - 1) if strict else n))
    elif match := _SINGLE.search(feedback):
        found.append(Check(f"max_{match.group(1).lower()}s", 1))
    if re.search(r"\bemoji", feedback, re.I) and re.search(r"\b(?:no|don'?t|do not|never|avoid|without)\b",
                                                            feedback, re.I):
        found = [c for c in found if "emoji" not in str(c.value).lower()] + [Check("no_emoji")]
    if match := _LANGUAGE.search(feedback):
        found.append(Check("language", _LANGUAGES[match.group(1).lower()]))
    return found


def parse_check(spec: str) -> Check:
    """``KIND=VALUE`` (or ``no_emoji``) as a check; a one-line error naming the kinds otherwise."""
    kind, sep, value = spec.partition("=")
    kind = kind.strip()
    if kind == "no_emoji" and not sep:
        return Check("no_emoji")
    if kind not in KINDS or not sep or not value:
        raise WorkbenchError(f"check {spec!r}: expected KIND=VALUE with KIND one of {', '.join(KINDS)}")
    if kind in ("max_sentences", "max_words"):
        if not value.strip().isdigit() or int(value) < 1:
            raise WorkbenchError(f"check {spec!r}: {kind} needs a positive whole number")
        return Check(kind, int(value))
    if kind == "regex":
        try:
            re.compile(value)
        except re.error as err:
            raise WorkbenchError(f"check {spec!r}: not a valid regular expression ({err})") from None
    if kind == "language":
        value = _LANGUAGES.get(value.strip().lower(), value.strip().lower())
    return Check(kind, value)


def adherence(checks: list[Check], text: str) -> float:
    """1.0 when ``text`` passes every check, else 0.0."""
    return float(all(c.passes(text) for c in checks))


def repair(checks: list[Check], text: str) -> str | None:
    """``text`` edited to pass every check, or None when some check has no edit (or the edits clash)."""
    for check in checks:
        if not check.passes(text):
            edited = check.repair(text)
            if edited is None:
                return None
            text = edited
    return text if adherence(checks, text) else None
