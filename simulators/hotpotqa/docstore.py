"""A local document store for ReAct's HotpotQA actions (Yao et al., ICLR 2023), over one question's ten paragraphs
(the distractor setting), instead of the Wikipedia API:

- ``search(entity)``: the paragraph whose title matches ``entity`` (after :func:`.answers.normalize_answer`), else
  the one whose title, then text, shares the most words with it; returns its first ``SENTENCES`` sentences, and
  makes it the page that ``lookup`` reads. A search that shares no word with any paragraph returns the titles that
  exist ("Could not find [...]. Similar: [...]", as ReAct's wrapper does).
- ``lookup(keyword)``: the next sentence of the current page containing ``keyword`` (case-insensitive), as
  "(Result i / n) sentence"; a new keyword starts from the first match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .answers import normalize_answer

SENTENCES = 5


@dataclass
class DocStore:
    titles: Sequence[str]
    paragraphs: Sequence[Sequence[str]]
    page: int | None = None
    keyword: str | None = None
    hits: list[int] = field(default_factory=list)
    cursor: int = 0

    def search(self, entity: str) -> str:
        wanted = normalize_answer(entity)
        exact = [i for i, t in enumerate(self.titles) if normalize_answer(t) == wanted]
        if exact:
            best = exact[0]
        else:
            words = set(wanted.split())
            scores = [(len(words & set(normalize_answer(t).split())),
                       len(words & set(normalize_answer(" ".join(s)).split())), -i)
                      for i, (t, s) in enumerate(zip(self.titles, self.paragraphs))]
            top = max(scores)
            if top[:2] == (0, 0):
                return f"Could not find [{entity}]. Similar: {list(self.titles)}."
            best = -top[2]
        self.page, self.keyword, self.hits, self.cursor = best, None, [], 0
        return " ".join(s.strip() for s in self.paragraphs[best][:SENTENCES])

    def lookup(self, keyword: str) -> str:
        if self.page is None:
            return "No page to look up in: Search[entity] first."
        if keyword != self.keyword:
            self.keyword, self.cursor = keyword, 0
            self.hits = [i for i, s in enumerate(self.paragraphs[self.page]) if keyword.lower() in s.lower()]
        if self.cursor >= len(self.hits):
            return "No more results."
        sentence = self.paragraphs[self.page][self.hits[self.cursor]].strip()
        self.cursor += 1
        return f"(Result {self.cursor} / {len(self.hits)}) {sentence}"
