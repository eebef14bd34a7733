"""BM25 over passages, with the section question counted as part of each passage.

BM25 (rank-bm25) orders passages; the confidence is how much of the question
a passage answers: the share of the question's concepts, weighted by their
IDF, found in the passage or its section question. A word the article never
uses ("cost", "alcohol", "world cup") weighs as much as the rarest article
word, so questions about things the article does not discuss score low
instead of landing on the nearest passage.
"""
from __future__ import annotations

from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from chatbot.core.corpus import Passage
from chatbot.core.lexicon import ENTITY_GROUPS, Lexicon
from chatbot.core.query import Concept, Query
from chatbot.core.text import Analyzer, words

# How passages are ordered: mostly by how much of the question they answer,
# then by BM25, by whether the section question itself matches, by whether the
# question's word pairs appear side by side ("side effects of JAK inhibitors"),
# and a nudge toward a section's first passage, which answers its question directly.
WEIGHTS = {"coverage": 0.65, "bm25": 0.07, "heading": 0.15, "pairs": 0.08, "named": 0.08,
           "early": 0.06, "lead": 0.03}
# "what is X?" is answered by the section that asks it
DEFINITION_WEIGHTS = {**WEIGHTS, "heading": 0.3, "early": 0.0}
EARLY_WORDS = 8
CONTEXT_WEIGHT = 0.3
UNKNOWN_WEIGHT = 0.75  # a word the article never uses, relative to its rarest word  # what a passage is about is said in its first words


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # ranking score
    coverage: float  # 0..1: share of the question this passage answers


class Index:
    def __init__(self, passages: list[Passage], analyzer: Analyzer, lexicon: Lexicon):
        if not passages:
            raise ValueError("cannot index an empty corpus")
        self.passages = passages
        self.analyzer = analyzer
        self.lexicon = lexicon
        docs = [self.passage_terms(p) for p in passages]
        self.bm25 = BM25Okapi(docs)
        self.doc_sets = [frozenset(d) for d in docs]
        self.heading_sets = [(frozenset(self.terms(p.section)), frozenset(analyzer.terms(p.section)))
                             for p in passages]
        self.pair_sets = [self.pairs(p.section + " . " + p.text) for p in passages]
        self.text_sets = [frozenset(self.terms(p.text)) for p in passages]
        self.leads = [p.id.endswith("/1") for p in passages]
        self.early_sets = [frozenset(self.terms(" ".join(p.text.split()[:EARLY_WORDS]))) for p in passages]
        self.vocabulary = frozenset().union(*self.doc_sets)
        self.unknown_weight = UNKNOWN_WEIGHT * max(self.bm25.idf.values())

    def passage_terms(self, passage: Passage) -> list[str]:
        """Stems of the section question and the text, plus the generic/brand names of medicines in them."""
        return self.terms(passage.section + " . " + passage.text)

    def pairs(self, text: str) -> frozenset[tuple[str, str]]:
        """Neighbouring content stems, for phrase matches."""
        stems = self.analyzer.terms(text)
        return frozenset(zip(stems, stems[1:]))

    def terms(self, text: str) -> list[str]:
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

    def heading_match(self, query: Query, heading: tuple[frozenset[str], frozenset[str]]) -> float:
        """F1 of question and section question: covering the question, and not much besides."""
        expanded, heading = heading
        if not heading:
            return 0.0
        recall = self.coverage(query, expanded)
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
            cov = self.coverage(query, self.doc_sets[i])
            score = (w["coverage"] * cov + w["named"] * self.named_share(query, self.text_sets[i]) + w["bm25"] * scores[i] / top
                     + w["heading"] * self.heading_match(query, self.heading_sets[i])
                     + w["pairs"] * self.pair_share(query, self.pair_sets[i])
                     + w["early"] * self.coverage(query, self.early_sets[i])
                     + w["lead"] * self.leads[i])
            hits.append(Hit(passage, score, cov))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
