"""Parse an LLM Commander's answer into a :class:`Decision` (Philipov et al. 2024, arXiv 2410.23535).

The prompt (:mod:`.prompts`) asks for ``OBSERVE`` or ``<<Act1, Act2>> utterance``. Small models stray from
it, so :func:`parse_response` applies these rules, in order:

1. **Cut.** A leading ``COMMANDER response:``, ``COMMANDER:``, ``Response:`` or ``Answer:`` label is dropped;
   the answer ends where the model starts writing the game on (a line beginning ``COMMANDER``, ``DRIVER``,
   ``Goal:``, ``Example`` or ``###``; an answer that starts so is empty). Remaining lines are joined with spaces.
2. **Unparsable.** Nothing with a letter left -> ``Decision(speak=False)``, reason ``"unparsable"``.
3. **Observe.** The answer starts with the word observe (any case, any brackets: ``OBSERVE``, ``<observe>``,
   ``<<Observe>>``) -> observe, clean.
4. **Acts.** Every ``<<...>>`` group is read as a comma/semicolon/``and``-separated list of act names
   (case, spaces and punctuation ignored, see :func:`.acts.normalise_act`) and removed from the text, wherever
   it stands (before or after the utterance); a ``<...>``, ``[...]`` or ``(...)`` group, or a
   ``Dialogue act(s):`` / ``DA:`` label, counts only when every name in it is a known act. Unmatched ``<<`` or
   ``>>`` are dropped. When no act was found that way, act names at the very start of the answer count
   (``Instruction: pick up the mug``, ``instruction, InformationOnObjectDetails - it is in the sink``).
5. **Utterance.** What is left, without an ``Utterance:`` label, surrounding quotes and dangling separators.
6. **Outcome.** Known acts and an utterance -> speak, clean. Known acts but no words -> speak with those
   acts and ``""``, reason ``"no-utterance"``. No act found: if the text contains the word observe it
   observes (clean, e.g. ``I will observe.``); otherwise it speaks without a known act -> speak with
   ``das=("Instruction",)`` (the Commander's most frequent act in TEACh) and the text, reason ``"unknown-act"``.

The caller counts every non-``None`` reason (``UserAgent.fallbacks``), so no fallback is silent.
"""

from __future__ import annotations

import re

from .acts import normalise_act
from .games import Decision

DEFAULT_ACT = "Instruction"

_PREFIX = re.compile(r"^\s*(?:commander\s*response|commander|response|answer)\s*:\s*", re.IGNORECASE)
_STOP = re.compile(r"^\s*(?:commander\b|driver\b|goal\s*:|example\b|###)", re.IGNORECASE)
_OBSERVE_START = re.compile(r"^[\W_]*observ(?:e|es|ing)?\b", re.IGNORECASE)
_OBSERVE_WORD = re.compile(r"\bobserv(?:e|es|ing)\b", re.IGNORECASE)
_DOUBLE = re.compile(r"<<([^<>]*)>>")
_SINGLE = re.compile(r"<([^<>]*)>|\[([^\[\]]*)\]|\(([^()]*)\)")
_LABEL_ACTS = re.compile(r"\b(?:dialogue\s*acts?|acts?|das?)\s*[:=]\s*([A-Za-z/ ,;]+?)(?=$|[.\n|]|\butterance\b)",
                         re.IGNORECASE)
_LABEL_UTTERANCE = re.compile(r"\butterance\s*[:=]\s*", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:,|;|\band\b|&|\+)\s*", re.IGNORECASE)
_LEADING_NAME = re.compile(r"^\s*([A-Za-z/]+)\s*(?:[,;:\-|]|\band\b)?\s*", re.IGNORECASE)


def parse_response(text: str) -> tuple[Decision, str | None]:
    """The decision in a model's answer and the fallback reason (``None`` when it parsed cleanly)."""
    body = _cut(text)
    if not re.search(r"[A-Za-z]", body):
        return Decision(False), "unparsable"
    if _OBSERVE_START.match(body):
        return Decision(False), None
    acts: list[str] = []
    unknown: list[str] = []
    body = _DOUBLE.sub(lambda m: _take(m, acts, unknown, strict=False), body)
    body = _SINGLE.sub(lambda m: _take(m, acts, unknown, strict=True), body)
    body = _LABEL_ACTS.sub(lambda m: _take(m, acts, unknown, strict=True), body)
    body = body.replace("<<", " ").replace(">>", " ")
    if not acts:
        body = _leading_acts(body, acts)
    utterance = _clean(_LABEL_UTTERANCE.sub(" ", body))
    das = tuple(dict.fromkeys(acts))
    if das:
        return Decision(True, das, utterance), (None if utterance else "no-utterance")
    if _OBSERVE_WORD.search(body):
        return Decision(False), None
    return Decision(True, (DEFAULT_ACT,), utterance), "unknown-act"


def _cut(text: str) -> str:
    text = _PREFIX.sub("", text.strip(), count=1)
    kept = []
    for line in text.splitlines():
        if _STOP.match(line):
            break
        kept.append(line.strip())
    return " ".join(kept).strip()


def _take(match: re.Match[str], acts: list[str], unknown: list[str], strict: bool) -> str:
    """Move the act names of a matched group into ``acts``; if strict and not all are acts, keep the text."""
    group = next(g for g in match.groups() if g is not None)
    names = [name for name in _SEPARATORS.split(group.strip()) if name]
    known = [normalise_act(name) for name in names]
    if strict and (not names or None in known):
        return match.group(0)
    acts.extend(act for act in known if act)
    unknown.extend(name for name, act in zip(names, known) if act is None)
    return " "


def _leading_acts(body: str, acts: list[str]) -> str:
    while True:
        match = _LEADING_NAME.match(body)
        act = normalise_act(match.group(1)) if match else None
        if act is None:
            return body
        acts.append(act)
        body = body[match.end():]


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[\s:;,.\-|>\"'`]+|[\s;,\-|<\"'`]+$", "", text)
