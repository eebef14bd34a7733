"""Which words of an answer answer the question: the sentences or bullets to mark.

A passage can be a list of thirteen side effects; "does rinvoq cause acne" is answered by
one bullet of it. The reply keeps the passage verbatim and adds the spans (character
offsets into its text) of the parts that hold what was asked, so a front end can mark them
without changing a word.
"""
from __future__ import annotations

import re
from typing import Callable

from chatbot.core.query import Concept, Query
from chatbot.core.text import words

# A part is a bullet line, or a sentence of a paragraph.
_PART = re.compile(r"[^\n.!?]+(?:[.!?]+(?=\s|$)|(?=\n)|$)")


def parts(text: str) -> list[tuple[int, int]]:
    """(start, end) of each bullet and sentence, without surrounding white space."""
    out = []
    for m in _PART.finditer(text):
        chunk = m.group()
        start = m.start() + len(chunk) - len(chunk.lstrip())
        end = m.end() - (len(chunk) - len(chunk.rstrip()))
        if end > start and any(c.isalnum() for c in text[start:end]):
            out.append((start, end))
    return out


def _holds(concept: Concept, stems: set[str]) -> bool:
    return any(alt <= stems for alt, _ in concept.alternatives)


class Highlighter:
    """Marks the parts of an answer that answer the question. An answer is article text, so
    each one's parts and their stems are worked out the first time it is given and kept
    (nothing a patient typed is kept: the question is read afresh each time)."""

    def __init__(self, stem: Callable[[str], str]):
        self.stem = stem
        self._parts: dict[str, list[tuple[int, int, frozenset[str]]]] = {}

    def parts(self, text: str) -> list[tuple[int, int, frozenset[str]]]:
        """Each part of an answer's text (parts) with the stems of its words."""
        found = self._parts.get(text)
        if found is None:
            found = self._parts[text] = [
                (start, end, frozenset(self.stem(w) for w in words(text[start:end])))
                for start, end in parts(text)]
        return found

    def spans(self, text: str, query: Query, weight: Callable[[Concept], float]) -> list[list[int]]:
        """The spans of `text` that hold the most of what the question asks about (its topic
        words, weighted by `weight`, not the medicine it names); none when that is every
        part, or no part holds any of it."""
        asked = [c for c in query.concepts if not c.is_entity and not c.from_context]
        found = self.parts(text)
        if not asked or len(found) < 2:
            return []
        weights = [weight(c) for c in asked]
        scores = [sum(w for c, w in zip(asked, weights) if _holds(c, stems))
                  for _, _, stems in found]
        best = max(scores)
        marked = [[s, e] for (s, e, _), score in zip(found, scores) if best > 0 and score == best]
        return marked if len(marked) < len(found) else []
