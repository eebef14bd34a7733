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

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from rank_bm25 import BM25Okapi

from chatbot.core.corpus import Passage, list_items
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
ASIDE_WEIGHT = 0.5  # a concept from the story around a question; a medicine's name keeps its weight
# at least, for any word the article uses: "side effects" is in many passages, so its IDF is
# low, yet it is what the question is about ("cibinqo side effects")
MIN_WEIGHT = 0.8
UNKNOWN_WEIGHT = 1.0  # a word the article never uses weighs as much as its rarest word
# A word of the question a passage leaves out rules the passage out (Index.contradicts) only
# when at most SPECIFIC_SECTIONS sections of the article use it: a fact of one or two
# sections ("diarrhea", "cold sores", "pregnant") that a passage lacks is not what it answers,
# while "pills", "eczema" or "cancer", which many sections use, say little about which passage
# answers. Out of fold (6 author folds, 81 authors, 7,120 answerable, the same fold models,
# 2026-12-02): against any word the article uses, right / wrong / refused 80.0 / 5.1 / 14.9 ->
# 81.6 / 5.6 / 12.8, not covered refused 93.6% -> 93.5%; at 1: 82.1 / 6.0 / 12.0 and 92.8%;
# at 3: 80.7 / 5.4 / 13.9 and 93.5%.
SPECIFIC_SECTIONS = 2
MASK_BYTES = 1 << 20  # a Column's masks are all built at start up to this size (Column)
ARRAY_BYTES = 112  # what numpy keeps for each array beside its data, counted against MASK_BYTES
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # ranking score
    coverage: float  # 0..1: share of the question this passage answers
    on_topic: bool = True  # names the medicine asked about (or its class), no other


class Ranking:
    """Every passage scored for one question, computed once per message: the best few
    (`hits`) are what retrieval answers from, and a section's passages (`section`) are what
    the passage choice weighs, without a second search."""

    def __init__(self, passages: list[Passage], sections: dict[str, np.ndarray],
                 score: np.ndarray, coverage: np.ndarray, on_topic: np.ndarray, k: int = 5):
        self.passages = passages
        self.sections = sections
        self.score = score
        self.coverage = coverage
        self.on_topic = on_topic
        self.k = k

    def hit(self, i: int) -> Hit:
        """Passage i as a Hit (no coverage off topic: it cannot answer)."""
        return Hit(self.passages[i], float(self.score[i]),
                   float(self.coverage[i]) if self.on_topic[i] else 0.0, bool(self.on_topic[i]))

    @cached_property
    def hits(self) -> list[Hit]:
        """The k best passages, best first."""
        return self.top(self.k)

    def top(self, k: int) -> list[Hit]:
        """The k best passages, best first (ties in article order)."""
        return [self.hit(i) for i in np.argsort(-self.score, kind="stable")[:k]]

    def section(self, section: str, on_topic: bool = True) -> list[Hit]:
        """A section's passages, best first; only those on the medicine asked about unless
        `on_topic` is False."""
        ids = self.sections.get(section, np.zeros(0, dtype=np.int64))
        if on_topic:
            ids = ids[self.on_topic[ids]]
        return [self.hit(i) for i in ids[np.argsort(-self.score[ids], kind="stable")]]


class PostingsBM25(BM25Okapi):
    """rank-bm25's Okapi BM25, scored through postings lists.

    BM25Okapi.get_scores visits every document for every query term; looking up
    only the documents that hold the term gives the same scores and keeps a
    reply fast as a clinic adds articles (bench/retrieval_scale.py).
    """

    def __init__(self, corpus: list[list[str]], **kwargs):
        super().__init__(corpus, **kwargs)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, freqs in enumerate(self.doc_freqs):
            for term, freq in freqs.items():
                docs, counts = postings.setdefault(term, ([], []))
                docs.append(i)
                counts.append(freq)
        self.postings = {t: (np.array(d), np.array(c, dtype=float)) for t, (d, c) in postings.items()}
        self.norm = self.k1 * (1 - self.b + self.b * np.array(self.doc_len) / self.avgdl)

    def get_scores(self, query: list[str]) -> np.ndarray:
        score = np.zeros(self.corpus_size)
        for q in query:
            hit = self.postings.get(q)
            if hit is not None:
                docs, freq = hit
                score[docs] += (self.idf.get(q) or 0) * (freq * (self.k1 + 1) / (freq + self.norm[docs]))
        return score


class Column:
    """One feature of every passage, as postings: which passages hold each key.

    A question is scored with a few vector operations per concept rather than a
    loop over passages. Each key's mask is built once, at start, where all of them fit in
    MASK_BYTES (the article's 3,200 keys over its 50 passages: 0.6 MB in all columns);
    over a corpus too large for that, only for the keys a question uses, so memory grows
    with the text indexed, not with keys times passages.
    """

    def __init__(self, sets: list[frozenset]):
        self.size = len(sets)
        self.none = np.zeros(self.size, dtype=bool)
        self.none.flags.writeable = False
        postings: dict = {}
        for i, keys in enumerate(sets):
            for key in keys:
                postings.setdefault(key, []).append(i)
        self.postings = {key: np.array(ids, dtype=np.int32) for key, ids in postings.items()}
        self.masks = dict(zip(self.postings, self._table())) \
            if len(self.postings) * (self.size + ARRAY_BYTES) <= MASK_BYTES else None

    def _table(self) -> np.ndarray:
        """Every key's mask, in the order of `postings`, as the rows of one read-only array
        (each row a read-only view): one allocation instead of one per key, which had been
        most of the time `ask` spends building the index's columns."""
        table = np.zeros((len(self.postings), self.size), dtype=bool)
        if self.postings:
            ids = list(self.postings.values())
            rows = np.repeat(np.arange(len(ids)), [len(i) for i in ids])
            table[rows, np.concatenate(ids)] = True
        table.flags.writeable = False
        return table

    def _mask(self, ids: np.ndarray) -> np.ndarray:
        """A read-only boolean mask of the passages `ids` (shared: nobody may change it)."""
        mask = np.zeros(self.size, dtype=bool)
        mask[ids] = True
        mask.flags.writeable = False
        return mask

    def row(self, key) -> np.ndarray:
        """Passages holding `key`, as a read-only boolean mask."""
        if self.masks is not None:
            return self.masks.get(key, self.none)
        ids = self.postings.get(key)
        return self.none if ids is None else self._mask(ids)

    def having(self, keys: frozenset) -> np.ndarray:
        """Passages holding every key."""
        mask = None
        for key in keys:
            row = self.row(key)
            mask = row if mask is None else mask & row
        return self.none if mask is None else mask


class Index:
    def __init__(self, passages: list[Passage], analyzer: Analyzer, lexicon: Lexicon):
        if not passages:
            raise ValueError("cannot index an empty corpus")
        self.passages = passages
        self.analyzer = analyzer
        self.lexicon = lexicon
        headings: dict[str, list[str]] = {}
        docs, text, heading_sets, plain_headings, early, pairs = [], [], [], [], [], []
        for p in passages:
            heading = headings.get(p.section)
            if heading is None:
                heading = headings[p.section] = self.terms(p.section)
            body = self.terms(p.text)
            docs.append(heading + body)
            text.append(frozenset(body))
            heading_sets.append(frozenset(heading))
            plain_headings.append(frozenset(analyzer.terms(p.section)))
            early.append(frozenset(self.terms(" ".join(p.text.split()[:EARLY_WORDS]))))
            plain = analyzer.terms(p.section + " . " + p.text)
            pairs.append(frozenset(zip(plain, plain[1:])) | frozenset(zip(plain[1:], plain)))
        self.bm25 = PostingsBM25(docs)
        self.unknown_weight = UNKNOWN_WEIGHT * max(self.bm25.idf.values())
        # the features ranking looks at (see WEIGHTS), one Column each
        self.term_sets = [frozenset(d) for d in docs]
        # the terms of the article's list items (side effects, conditions, medicines): facts a
        # passage states one by one, so one missing from the passage asked about is a fact
        # it does not state (contradicts, `listed`)
        self.listed = frozenset(t for p in passages for item in list_items(p.text)
                                for t in self.terms(item))
        self.section_terms: dict[str, frozenset] = {}  # every term of each section's passages
        for p, terms in zip(passages, self.term_sets):
            self.section_terms[p.section] = self.section_terms.get(p.section, frozenset()) | terms
        # ... and those of its list items, which alone count for contradicts(listed=True)
        self.section_listed = {s: terms & self.listed for s, terms in self.section_terms.items()}
        using: dict[str, set] = {}
        for section, terms in self.section_terms.items():
            for t in terms:
                using.setdefault(t, set()).add(section)
        # the sections using each term (built as sets: a frozenset union per term and section
        # would copy a common term's sections once for each of them)
        self.term_sections: dict[str, frozenset] = {t: frozenset(s) for t, s in using.items()}
        self.terms_col = Column(self.term_sets)  # section question + text + names
        self.text_col = Column(text)  # the text alone
        self.heading_col = Column(heading_sets)  # the section question, with medicine names
        self.plain_heading_col = Column(plain_headings)  # the section question's own stems
        self.heading_len = np.array([max(len(h), 1) for h in plain_headings], dtype=float)
        self.early_col = Column(early)  # the first words
        self.pairs_col = Column(pairs)  # neighbouring stems, either order
        drugs = [self.drugs_named(p.section + " . " + p.text) for p in passages]
        self.drugs_col = Column(drugs)  # the medicines each passage names
        # the terms of the sentences (and section question) of a passage naming a medicine
        # that name none: "Methotrexate can damage the liver ... Those with a history of
        # severe infections, hepatitis, and tuberculosis should also refrain from using these
        # medications" speaks of the whole class in its second sentence
        self.neutral_col = Column([self.unnamed_terms(p) if named else frozenset()
                                   for p, named in zip(passages, drugs)])
        self.names_a_drug = np.array([bool(d) for d in drugs])
        self.lead = np.array([i == 0 or passages[i - 1].section != p.section
                              for i, p in enumerate(passages)], dtype=float)
        by_section: dict[str, list[int]] = {}
        for i, p in enumerate(passages):
            by_section.setdefault(p.section, []).append(i)
        self.section_ids = {s: np.array(ids, dtype=np.int64) for s, ids in by_section.items()}

    def unnamed_terms(self, passage: Passage) -> frozenset[str]:
        """The terms of a passage's sentences, and of its section question, that name no
        medicine."""
        sentences = [passage.section] + _SENTENCE_END.split(passage.text)
        return frozenset(t for sentence in sentences if not self.drugs_named(sentence)
                         for t in self.terms(sentence))

    def drugs_named(self, text: str) -> frozenset[str]:
        """The medicines (generic names) a text names."""
        stems = [self.analyzer.stem(w) for w in words(text)]
        return frozenset(m.entry.name for m in self.lexicon.matches(stems, ("drugs",)))

    def terms(self, text: str) -> list[str]:
        """Content stems of `text`, plus the names of the medicines and classes it mentions."""
        plain = words(text)
        stems = [self.analyzer.stem(w) for w in plain]
        filler = self.analyzer.filler_positions(plain)  # "new kids on the block" is not about kids
        terms = [s for i, (w, s) in enumerate(zip(plain, stems))
                 if self.analyzer.is_content(w) and i not in filler]
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
        w = max(max(known), MIN_WEIGHT) if known else self.unknown_weight
        if concept.is_entity:  # a medicine's name is rare, but what is asked about it matters as much
            w = min(w, ENTITY_WEIGHT)
        elif concept.aside and len(concept.alternatives) == 1:
            w *= ASIDE_WEIGHT  # a word of the story the lexicon does not know: likely colour
        return w * CONTEXT_WEIGHT if concept.from_context else w

    def credits(self, concept: Concept, column: Column) -> np.ndarray:
        """Per passage: how well it answers one concept (the best of its alternatives)."""
        best = np.zeros(column.size)
        for stems, credit in concept.alternatives:
            best = np.maximum(best, credit * column.having(stems))
        return best

    def coverage(self, query: Query, column: Column, weights: list[float] | None = None,
                 credits: list[np.ndarray] | None = None) -> np.ndarray:
        """Per passage: the IDF-weighted share of the question's concepts it answers
        (`credits`: each concept's credits over `column`, when worked out already)."""
        weights = weights or [self.weight(c) for c in query.concepts]
        total = sum(weights)
        acc = np.zeros(column.size)
        if not total:
            return acc
        for i, (concept, w) in enumerate(zip(query.concepts, weights)):
            acc += w * (credits[i] if credits is not None else self.credits(concept, column))
        return acc / total

    def naming_all(self, query: Query, plain: list[np.ndarray] | None = None) -> np.ndarray | None:
        """Passages naming every medicine a question asks about, when it asks about two or more:
        the article compares medicines by describing them side by side ("Cibinqo and Rinvoq are
        both JAK1 inhibitors"), seldom with the word "difference". `plain`: each concept's
        credits over the passages' terms, when worked out already."""
        plain = plain or [self.credits(c, self.terms_col) for c in query.concepts]
        named = [p for c, p in zip(query.concepts, plain) if c.is_entity]
        if len(named) < 2:
            return None
        mask = np.ones(self.terms_col.size, dtype=bool)
        for p in named:
            mask &= p == 1.0
        return mask.astype(float)

    def pair_share(self, query: Query) -> np.ndarray:
        """Per passage: share of the question's neighbouring concepts that are neighbours there too."""
        qp = list(zip(query.concepts, query.concepts[1:]))
        acc = np.zeros(self.pairs_col.size)
        for a, b in qp:
            hit = self.pairs_col.none
            for x in a.stems:
                for y in b.stems:
                    hit = hit | self.pairs_col.row((x, y))
            acc += hit
        return acc / len(qp) if qp else acc

    def heading_match(self, query: Query, weights: list[float]) -> np.ndarray:
        """Per passage: F1 of question and section question (covering it, and not much besides)."""
        recall = self.coverage(query, self.heading_col, weights)
        asked = {s for c in query.concepts for alt, credit in c.alternatives if credit == 1.0 for s in alt}
        hits = np.zeros(self.plain_heading_col.size)
        for s in asked:
            hits += self.plain_heading_col.row(s)
        precision = hits / self.heading_len
        both = recall + precision
        return np.divide(2 * recall * precision, both, out=np.zeros_like(both), where=both > 0)

    def named_share(self, query: Query) -> np.ndarray:
        """Per passage: share of the medicines asked about that it names itself (not just their class)."""
        named = [c for c in query.concepts if c.is_entity]
        acc = np.zeros(self.text_col.size)
        for c in named:
            hit = self.text_col.none
            for stems, credit in c.alternatives:
                if credit == 1.0:
                    hit = hit | self.text_col.having(stems)
            acc += hit
        return acc / len(named) if named else acc

    def answered_unnamed(self, query: Query, plain: list[np.ndarray]) -> np.ndarray:
        """Passages that answer all they answer of the question in sentences naming no
        medicine (Index.neutral_col): such a passage speaks of every medicine there, so one
        about methotrexate may still answer "i had TB, can i take dupixent?". `plain`: each
        concept's credits over the passages' terms (Index.rank works them out once)."""
        asked = [(c, p) for c, p in zip(query.concepts, plain)
                 if not (c.is_entity or c.from_context)]
        if not asked:
            return self.terms_col.none
        ok = np.ones(self.terms_col.size, dtype=bool)
        some = np.zeros(self.terms_col.size, dtype=bool)
        for c, whole in asked:
            there = self.credits(c, self.neutral_col)
            ok &= there >= whole
            some |= there > 0
        return ok & some

    def search(self, query: Query, k: int = 5) -> list[Hit]:
        """The k best passages, best first; empty when the query has no content words."""
        return self.rank(query, k).hits

    def rank(self, query: Query, k: int = 5) -> Ranking:
        """Every passage scored for the query (a Ranking whose `hits` are the k best); no
        passage when the query has no content words. A question asking what one thing is
        (Query.definition) weighs the section question more."""
        if not query.concepts:
            empty = np.zeros(0)
            return Ranking([], {}, empty, empty, empty.astype(bool), k)
        w = DEFINITION_WEIGHTS if query.definition else WEIGHTS
        weights = [self.weight(c) for c in query.concepts]
        bm25 = self.bm25.get_scores(query.terms)
        # each concept's credits over the passages' terms, worked out once: for the
        # coverage (a comparison word credited where all the medicines are named), which
        # passages name the medicines, and which answer in sentences naming none
        plain = [self.credits(c, self.terms_col) for c in query.concepts]
        naming = self.naming_all(query, plain)
        coverage = self.coverage(query, self.terms_col, weights, [
            np.maximum(p, naming) if c.compares and naming is not None else p
            for c, p in zip(query.concepts, plain)])
        score = (w["coverage"] * coverage + w["named"] * self.named_share(query)
                 + w["bm25"] * bm25 / max(bm25.max(), 1e-9)
                 + w["heading"] * self.heading_match(query, weights)
                 + w["pairs"] * self.pair_share(query)
                 + w["early"] * self.coverage(query, self.early_col, weights)
                 + w["lead"] * self.lead)
        # a passage about another medicine is never the answer ("does Dupixent cause weight gain?"
        # is not answered by prednisone's list): it names the medicine asked about, or speaks of
        # its class in its own text while naming no other medicine. A medicine remembered from
        # earlier turns only rules out passages about other medicines.
        # Comparing medicines ("dupixent or rinvoq?"), a passage naming one of them is no stranger
        # to the question for the other.
        on_topic = np.ones(self.terms_col.size, dtype=bool)
        entities = [c for c in query.concepts if c.is_entity]
        names = [p == 1.0 for c, p in zip(query.concepts, plain) if c.is_entity]
        for c, named in zip(entities, names):
            asked_too = self.terms_col.none
            for other, other_named in zip(entities, names):
                if other is not c and not other.from_context:
                    asked_too = asked_too | other_named
            if not c.from_context:
                member = self.drugs_col.none
                for drug in self.lexicon.members(c.entity):
                    member = member | self.drugs_col.having({drug})
                on_topic &= named | member | (self.credits(c, self.text_col) > 0)
            if c.drug:
                on_topic &= named | ~self.names_a_drug | self.drugs_col.having({c.entity}) | asked_too
        if entities:
            # unless it answers the question in sentences naming no medicine: then it speaks
            # of them all ("... should also refrain from using these medications"). Out of
            # fold (66 authors, 6,188 answerable, 2026-12-02): right 79.8% -> 80.1%, wrong
            # 6.5% -> 6.4%, not covered refused 95.5% -> 95.3%
            on_topic |= self.answered_unnamed(query, plain)
        score = np.where(on_topic, score, score - 1.0)
        return Ranking(self.passages, self.section_ids, score, coverage, on_topic, k)

    def _specific(self, alternatives) -> bool:
        """Whether a concept is a word the article uses (every stem of each alternative) in at
        most SPECIFIC_SECTIONS sections, by its most specific alternative."""
        fewest = None
        for alt, _ in alternatives:
            if not alt or not all(s in self.term_sections for s in alt):
                return False
            using = len(frozenset.intersection(*(self.term_sections[s] for s in alt)))
            fewest = using if fewest is None else min(fewest, using)
        return fewest is not None and fewest <= SPECIFIC_SECTIONS

    def contradicts(self, query: Query, i: int, within_section: bool = False,
                    listed: bool = False) -> bool:
        """Whether passage i leaves out a word the question asks about that the article does
        use elsewhere, in at most SPECIFIC_SECTIONS sections ("can cyclosporine cause
        diarrhea": diarrhea is methotrexate's, so cyclosporine's passage is no answer). Words
        the article never uses (slang, "AEs") do not count: a learned answer may bridge those,
        never the article's own facts; nor words many sections use ("pills", "eczema").
        `within_section`: only a word of this message that the passage's own section uses
        counts, so "part" in "could stress be part of it?" does not rule out the passage on
        stress, nor "eczema" from an earlier turn the passage on diabetes, while diarrhea,
        beside cyclosporine's list in its section, still does. `listed` (with
        `within_section`): only a word of one of the section's lists counts (Index.listed)."""
        if not within_section:
            return any(self._specific(c.alternatives)
                       and not any(alt <= self.term_sets[i] for alt, _ in c.alternatives)
                       for c in query.concepts if not (c.is_entity or c.from_context or c.aside))
        section = self.passages[i].section
        used = self.section_listed[section] if listed else self.section_terms[section]
        return any(any(alt <= used for alt, _ in c.alternatives)
                   and not any(alt <= self.term_sets[i] for alt, _ in c.alternatives)
                   for c in query.concepts
                   if not (c.is_entity or c.from_context or c.earlier or c.aside))
