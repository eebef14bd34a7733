"""Which words of an answer answer the question: the sentences or bullets to mark.

A passage can be a list of thirteen side effects; "does rinvoq cause acne" is answered by
one bullet of it. The reply keeps the passage verbatim and adds the spans (character
offsets into its text) of the parts that hold what was asked, so a front end can mark them
without changing a word.
"""
from __future__ import annotations

import re

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


def highlights(text: str, query: Query, stem, weight) -> list[list[int]]:
    """The spans of `text` that hold the most of what the question asks about (its topic
    words, weighted by `weight`, not the medicine it names); none when that is every part,
    or no part holds any of it."""
    asked = [c for c in query.concepts if not c.is_entity and not c.from_context]
    spans = parts(text)
    if not asked or len(spans) < 2:
        return []
    scores = []
    for start, end in spans:
        stems = {stem(w) for w in words(text[start:end])}
        scores.append(sum(weight(c) for c in asked if _holds(c, stems)))
    best = max(scores)
    marked = [[s, e] for (s, e), score in zip(spans, scores) if best > 0 and score == best]
    return marked if len(marked) < len(spans) else []
