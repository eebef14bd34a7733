"""BM25 over passages, with the section question counted as part of each passage.

The confidence is how much of the question a passage answers: the share of
the question's concepts, weighted by their IDF, found in the passage or its
section question. A word the article never uses ("cost", "world cup") weighs
nearly as much as the rarest article word, so questions about things the
article does not discuss score low instead of landing on the nearest passage.
Passages are ordered mostly by that share; BM25 (rank-bm25) and a few
features of where the words sit break the ties.
"""
from __future__ import annotations

from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from chatbot.core.corpus import Passage
from chatbot.core.lexicon import ENTITY_GROUPS, Lexicon
from chatbot.core.query import Concept, Query
from chatbot.core.text import Analyzer, words

# coverage: share of the question answered; bm25: the classic score; heading: the section
# question matches; pairs: the question's neighbouring words are neighbours here too ("side
# effects of JAK inhibitors"); named: the medicine asked about is named, not just its class;
# early: the passage is about it from its first words; lead: a section's first passage,
# which answers the section question directly.
WEIGHTS = {"coverage": 0.65, "bm25": 0.07, "heading": 0.15, "pairs": 0.08, "named": 0.08,
           "early": 0.06, "lead": 0.03}
DEFINITION_WEIGHTS = {**WEIGHTS, "heading": 0.3, "early": 0.0}  # "what is X?": the section asking it
EARLY_WORDS = 8
ENTITY_WEIGHT = 1.5  # at most, for a medicine's name
CONTEXT_WEIGHT = 0.3  # a concept carried over from an earlier turn
UNKNOWN_WEIGHT = 1.0  # a word the article never uses weighs as much as its rarest word


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # ranking score
    coverage: float  # 0..1: share of the question this passage answers


@dataclass(frozen=True)
class Features:
    """What ranking looks at in one passage, computed once when the index is built."""
    terms: frozenset[str]  # section question + text + medicine names
    text: frozenset[str]  # the text alone
    heading: frozenset[str]  # the section question, with medicine names
    heading_plain: frozenset[str]  # the section question's own stems
    early: frozenset[str]  # the first words
    pairs: frozenset[tuple[str, str]]  # neighbouring stems
    lead: bool  # first passage of its section


class Index:
    def __init__(self, passages: list[Passage], analyzer: Analyzer, lexicon: Lexicon):
        if not passages:
            raise ValueError("cannot index an empty corpus")
        self.passages = passages
        self.analyzer = analyzer
        self.lexicon = lexicon
        headings: dict[str, list[str]] = {}
        docs, self.features = [], []
        for i, p in enumerate(passages):
            heading = headings.get(p.section)
            if heading is None:
                heading = headings[p.section] = self.terms(p.section)
            text = self.terms(p.text)
            docs.append(heading + text)
            plain = analyzer.terms(p.section + " . " + p.text)
            self.features.append(Features(
                terms=frozenset(heading + text), text=frozenset(text), heading=frozenset(heading),
                heading_plain=frozenset(analyzer.terms(p.section)),
                early=frozenset(self.terms(" ".join(p.text.split()[:EARLY_WORDS]))),
                pairs=frozenset(zip(plain, plain[1:])),
                lead=i == 0 or passages[i - 1].section != p.section))
        self.bm25 = BM25Okapi(docs)
        self.unknown_weight = UNKNOWN_WEIGHT * max(self.bm25.idf.values())

    def terms(self, text: str) -> list[str]:
        """Content stems of `text`, plus the names of the medicines and classes it mentions."""
        plain = words(text)
        stems = [self.analyzer.stem(w) for w in plain]
        terms = [s for w, s in zip(plain, stems) if self.analyzer.is_content(w)]
        for m in self.lexicon.specific(self.lexicon.matches(stems, ENTITY_GROUPS)):
            # a medicine brings all its names (brand and generic find each other); a class named
            # in other words ("immunomodulatory") brings its own name
            names = m.entry.phrases if m.entry.group == "drugs" else [" ".join(a) for a in m.entry.article]
            terms += [s for phrase in names for s in phrase.split()
                      if s not in terms and s not in self.analyzer.stopwords]
        return terms

    def weight(self, concept: Concept) -> float:
        """IDF of the concept's rarest known stem; a concept from an earlier turn counts less,
        so it picks among passages that answer the new question rather than overriding it."""
        known = [self.bm25.idf[s] for s in concept.stems if s in self.bm25.idf]
        w = max(known) if known else self.unknown_weight
        if concept.is_entity:  # a medicine's name is rare, but what is asked about it matters as much
            w = min(w, ENTITY_WEIGHT)
        return w * CONTEXT_WEIGHT if concept.from_context else w

    def coverage(self, query: Query, doc: frozenset[str]) -> float:
        total = matched = 0.0
        for c in query.concepts:
            w = self.weight(c)
            total += w
            matched += w * max((credit for stems, credit in c.alternatives if stems <= doc), default=0.0)
        return matched / total if total else 0.0

    def pair_share(self, query: Query, pairs: frozenset[tuple[str, str]]) -> float:
        """Share of the question's neighbouring concepts that are also neighbours in the passage."""
        qp = list(zip(query.concepts, query.concepts[1:]))
        if not qp:
            return 0.0
        hit = sum(1 for a, b in qp if any((x, y) in pairs or (y, x) in pairs
                                          for x in a.stems for y in b.stems))
        return hit / len(qp)

    def heading_match(self, query: Query, f: Features) -> float:
        """F1 of question and section question: covering the question, and not much besides."""
        heading = f.heading_plain
        if not heading:
            return 0.0
        recall = self.coverage(query, f.heading)
        asked = frozenset(s for c in query.concepts for alt, credit in c.alternatives if credit == 1.0
                          for s in alt)
        precision = len(heading & asked) / len(heading)
        return 2 * recall * precision / (recall + precision) if recall + precision else 0.0

    def named_share(self, query: Query, doc: frozenset[str]) -> float:
        """Share of the medicines asked about that the passage names itself (not just their class)."""
        named = [c for c in query.concepts if c.is_entity]
        if not named:
            return 0.0
        return sum(1 for c in named if any(stems <= doc for stems, credit in c.alternatives
                                           if credit == 1.0)) / len(named)

    def search(self, query: Query, k: int = 5, definition: bool = False) -> list[Hit]:
        """The k best passages, best first; empty when the query has no content words."""
        if not query.concepts:
            return []
        scores = self.bm25.get_scores(query.terms)
        top = max(scores.max(), 1e-9)
        w = DEFINITION_WEIGHTS if definition else WEIGHTS
        hits = []
        for i, passage in enumerate(self.passages):
            f = self.features[i]
            cov = self.coverage(query, f.terms)
            score = (w["coverage"] * cov + w["named"] * self.named_share(query, f.text)
                     + w["bm25"] * scores[i] / top
                     + w["heading"] * self.heading_match(query, f)
                     + w["pairs"] * self.pair_share(query, f.pairs)
                     + w["early"] * self.coverage(query, f.early)
                     + w["lead"] * f.lead)
            hits.append(Hit(passage, score, cov))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
