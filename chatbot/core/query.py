"""What a patient's message asks about, as concepts the retriever can look for.

Each content word (or lexicon phrase) becomes a concept with alternatives: its
own stem, and the article phrases the lexicon maps it to ("shots" ->
injection; "labs" -> blood tests). A concept counts as answered by a passage
holding every stem of one alternative. A brand's class ("Rinvoq" -> JAK
inhibitors) earns only part credit, so a passage about the medicine itself
beats one about its class in general.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from chatbot.core.lexicon import ENTITY_GROUPS, Lexicon, Match
from chatbot.core.spelling import SpellingCorrector
from chatbot.core.text import Analyzer, words

CLASS_CREDIT = 0.5
# An older person's age ("my mom is 81", "im 70") asks what the article says about older
# adults, a young child's ("my son is 9") about young children: the lexicon entries of
# OLDER_WORD and YOUNG_WORD stand for them. Only a number said as an age counts ("is 9",
# "9 year old"): small numbers are often counts ("5 yrs ago").
OLDER_AGE, OLDER_WORD = 65, "elderly"
YOUNG_AGE, YOUNG_WORD = 12, "child"  # "my son is 9": the lexicon entry of young children
AGE_BEFORE = {"is", "am", "im", "aged", "age", "turned", "turning", "hes", "shes"}
MAX_QUERY_WORDS = 60  # a question is read this far: longer pastes cost time and add nothing
MAX_CORRECTIONS = 8  # unknown words a message may have corrected (see QueryParser._corrected)
SYNONYM_CREDIT = 0.9  # the patient's own word in the passage beats a lexicon synonym
_SENTENCE = re.compile(r"[^.!?:;\n]+[.!?:;\n]*")  # "Quick question: is it safe?" is two
_ASKS = re.compile(r"\?\s*$|^\W*(what|whats|how|why|when|where|who|which|can|could|is|are|does|do|"
                   r"did|should|would|will|may|might|any|anything|isnt|arent|wont|cant)\b"
                   # a question asked without asking: "I'd like to understand what ...",
                   # "wondering if ...", "please explain ...", "my question is ..."
                   r"|^\W*(?:(?:so|and|but|also|basically|honestly|really|just)\s+)*(?:"
                   r"(?:(?:i[’']?d|i would|would) like|i want|i need|i[’']?m trying|i am trying"
                   r"|trying|want|need) to (?:know|understand|ask|find out|figure out|learn)"
                   r"|(?:i[’']?m |i am |i was |was |just )?wondering\b"
                   r"|i wonder (?:if|whether|what|how|why|who|which)"
                   r"|(?:please |pls |plz |can you |could you )?(?:explain|tell me)\b"
                   r"|my question is)", re.I)

Alternative = tuple[frozenset[str], float]  # stems that must all appear, credit when they do


@dataclass(frozen=True)
class Concept:
    word: str  # the patient's words, after spelling correction
    alternatives: tuple[Alternative, ...]
    from_context: bool = False  # from an earlier turn, and counting less than the message's own
    earlier: bool = False  # from an earlier turn ("my son is 9 ..." before "and dupixent?")
    aside: bool = False  # said in a sentence around the question ("My mom is 82. Would she...?")
    entity: str | None = None  # the medicine (generic name) or class these words name
    drug: bool = False  # the entity is one medicine, not a class
    compares: bool = False  # "vs", "difference": a passage naming all the medicines asked answers it
    person: str | None = None  # who the medicine is for ("son", "9" said as an age): "children"

    @property
    def is_entity(self) -> bool:
        return self.entity is not None

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(s for alt, _ in self.alternatives for s in alt)


@dataclass
class Query:
    text: str
    concepts: list[Concept] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)  # medicines named (generic names), in order
    corrected: dict[str, str] = field(default_factory=dict)  # typo -> correction
    definition: bool = False  # asks what one thing is ("what are biologics?"): see Index.search
    asked: str | None = None  # its sentences that ask, where others only tell (asked_part)

    @property
    def terms(self) -> list[str]:
        """Stems for BM25: every alternative of every concept."""
        return [s for c in self.concepts for s in sorted(c.stems)]

    @property
    def topic(self) -> list[Concept]:
        """The concepts that are not medicines: what is being asked about them."""
        return [c for c in self.concepts if not c.from_context and not c.is_entity]

    @property
    def person(self) -> list[str]:
        """Who the message itself says the medicine is for, as the lexicon names them ("my son
        is 9": children)."""
        return list(dict.fromkeys(c.person for c in self.concepts
                                  if c.person and not c.from_context and not c.earlier))

    def extended(self, concepts: list[Concept], entities: list[str] = ()) -> "Query":
        """This query plus concepts carried over from earlier turns."""
        return Query(self.text, self.concepts + concepts, self.entities + list(entities),
                     self.corrected, self.definition, self.asked)


def asked_part(text: str, sentences: list[tuple[str, bool]] | None = None) -> str | None:
    """The sentences of a message that ask, where others only tell (a story before its
    question: "My insurance turned Dupixent down. What is a biologic?"); None where every
    sentence asks or none does. What the question is about lives there: the topic rules read
    it (Bot._left_out), so a story's words alone do not make a question "not covered".
    `sentences`: _sentences(text), where the caller has them."""
    sentences = _sentences(text) if sentences is None else sentences
    asking = [sentence for sentence, asks in sentences if asks]
    if not asking or len(asking) == len(sentences):
        return None
    return " ".join(asking)


def _sentences(text: str) -> list[tuple[str, bool]]:
    """The message's sentences that hold a word, each with whether it asks."""
    found = [m.group().strip() for m in _SENTENCE.finditer(text)]
    return [(sentence, bool(_ASKS.search(sentence))) for sentence in found if words(sentence)]


def _joined_flags(flags: list[bool], typed: list[str], joined: dict[str, str]) -> list[bool]:
    """Per-word flags (QueryParser._asides) carried onto the words after a name typed in
    pieces was joined ("metho trexate" is one word): a joined name is an aside only if all
    its pieces were."""
    out, i = [], 0
    while i < len(typed) and i < len(flags):
        n = next((len(k.split()) for k in joined
                  if typed[i:i + len(k.split())] == k.split()), 1)
        out.append(all(flags[i:i + n]))
        i += n
    return out


class QueryParser:
    def __init__(self, analyzer: Analyzer, lexicon: Lexicon, speller: SpellingCorrector,
                 people: frozenset[str] = frozenset()):
        """`people`: the names of the lexicon entries that say who a medicine is for
        ("children", "pregnancy"; conversation.toml's `people`), which a conversation keeps."""
        self.analyzer = analyzer
        self.lexicon = lexicon
        self.speller = speller
        self.people = people

    def _content(self, stems: tuple[str, ...]) -> frozenset[str]:
        return frozenset(s for s in stems if s not in self.analyzer.stopwords)

    def alternatives(self, match: Match) -> list[Alternative]:
        """An entry's article phrases, plus part credit for the class of a medicine."""
        credit = 1.0 if match.entry.is_entity else SYNONYM_CREDIT
        out = [(self._content(a), credit) for a in match.entry.article]
        for a in match.entry.article:
            for m in self.lexicon.matches(list(a), ENTITY_GROUPS):
                if m.entry is not match.entry:
                    out += [(self._content(c), CLASS_CREDIT) for c in m.entry.article]
        return [alt for alt in out if alt[0]]

    def _stray_number(self, word: str) -> bool:
        """A number the article never uses: an age, a count of days or years ("my grandma is 84",
        "5 yrs ago"). It says nothing the article could answer, yet as an unknown word it would
        weigh as much as the rarest article word and sink the confidence."""
        return word.isdigit() and word not in self.speller.known

    def _ages(self, plain: list[str]) -> list[Match]:
        """Ages ("is 81", "81 year old", "my son is 9"), matched to the lexicon's older adults
        or young children; the ages between say nothing the article does."""
        found = []
        for i, word in enumerate(plain):
            if not word.isdigit() or not 0 < int(word) <= 120:
                continue
            age = int(word)
            group = OLDER_WORD if age >= OLDER_AGE else YOUNG_WORD if age <= YOUNG_AGE else None
            after = plain[i + 1:i + 3]
            if group and (i and plain[i - 1] in AGE_BEFORE or after[-1:] == ["old"]
                          or after[:1] == ["yo"]):
                found += [Match(m.entry, i, i + 1) for m in
                          self.lexicon.matches([self.analyzer.stem(group)], ("words",))]
        return found

    @staticmethod
    def _asides(text: str, sentences: list[tuple[str, bool]] | None = None) -> list[bool]:
        """Per word: whether it sits in a sentence around the question rather than in it. A
        message of several sentences often tells a story ("My mom is 82 and her eczema is
        awful, itchy all over.") before it asks ("Would she be a good candidate?"); the story's
        words then weigh less, so a passage need not echo all of it to answer."""
        found = _sentences(text) if sentences is None else sentences
        sentences = [(words(sentence), asks) for sentence, asks in found]
        if not any(asks for _, asks in sentences) or all(asks for _, asks in sentences):
            return [False] * sum(len(ws) for ws, _ in sentences)
        return [not asks for ws, asks in sentences for _ in ws]

    def _corrected(self, raw: list[str]) -> list[str]:
        """The words with typos corrected, trying at most MAX_CORRECTIONS words a message: a
        real question has a few typos, a paste of made-up words could cost 10 ms."""
        out, tried = [], 0
        for w in raw:
            if tried < MAX_CORRECTIONS and self.analyzer.is_content(w) and not self.speller.knows(w):
                tried += 1
                w = self.speller.correct(w)
            out.append(w)
        return out

    def parse(self, text: str) -> Query:
        typed = words(text)[:MAX_QUERY_WORDS]
        raw, joined = self.speller.join_names(typed)
        sentences = _sentences(text)  # split once: for the asides and for the asking part
        aside = _joined_flags(self._asides(text, sentences)[:MAX_QUERY_WORDS], typed, joined)
        fixed = self._corrected(raw)
        stems = [self.analyzer.stem(w) for w in fixed]
        # a medicine's classes come back below as part credit
        matches = sorted(self.lexicon.specific(self.lexicon.matches(stems)),
                         key=lambda m: (m.start, m.start - m.end))
        query = Query(text, corrected={**joined, **{w: f for w, f in zip(raw, fixed) if w != f}},
                      asked=asked_part(text, sentences))
        for m in matches:
            if m.entry.is_entity and m.entry.name not in query.entities:
                query.entities.append(m.entry.name)
        ages = self._ages(fixed)
        matches += ages
        # group each word with the longest lexicon phrase covering it
        owner: dict[int, Match] = {}
        for m in sorted(matches, key=lambda m: m.end - m.start, reverse=True):
            for i in range(m.start, m.end):
                owner.setdefault(i, m)
        groups: dict[object, list[int]] = {}
        filler = self.analyzer.filler_positions(fixed)
        # a lexicon phrase of common words only ("how many") is a concept of its own
        common = {i for m in matches if m.end - m.start > 1 for i in range(m.start, m.end)
                  if not any(self.analyzer.is_content(w) for w in fixed[m.start:m.end])}
        for i, word in enumerate(fixed):
            if i in filler:
                continue
            if i in common or any(m.start == i for m in ages) or self.analyzer.is_content(word) \
                    and (i in owner or not self._stray_number(word)):
                groups.setdefault(owner.get(i, i), []).append(i)
        previous_end = None
        seen: set[frozenset[str]] = set()
        for positions in groups.values():
            alts: list[Alternative] = [(frozenset(stems[i] for i in positions), 1.0)]
            if alts[0][0] in seen:  # "for years and years": a word said twice is asked once
                continue
            seen.add(alts[0][0])
            for m in matches:
                if any(m.start <= i < m.end for i in positions):
                    alts += self.alternatives(m)
            entry = next((m.entry for m in matches if m.entry.is_entity
                          and m.start <= positions[0] < m.end), None)
            compares = any(m.entry.group == "comparisons" and m.start <= positions[0] < m.end
                           for m in matches)
            person = next((m.entry.name for m in matches if m.entry.name in self.people
                           and m.start <= positions[0] < m.end), None)
            label = " ".join(fixed[i] for i in positions)
            between = raw[previous_end + 1:positions[0]] if previous_end is not None else []
            either = "or" in between and not any(self.analyzer.is_content(w) for w in between)
            if either and not (entry and query.concepts[-1].is_entity):
                # "pills or shots": either answers it, so they are one concept; two medicines
                # ("JAK inhibitors or biologics?") are being compared, so they stay two
                last = query.concepts.pop()
                label, alts = f"{last.word} or {label}", list(last.alternatives) + alts
                entry = None if not last.is_entity else entry
                person = person or last.person
            if entry and (raw[positions[0] - 1:positions[0]] == ["like"]
                          or raw[max(positions[0] - 2, 0):positions[0]] == ["such", "as"]):
                # "older drugs like methotrexate": an example; the question is about older drugs
                continue
            query.concepts.append(Concept(label, tuple(dict.fromkeys(alts)),
                                          entity=entry.name if entry else None,
                                          drug=bool(entry) and entry.group == "drugs",
                                          compares=compares, person=person,
                                          aside=all(aside[i] for i in positions) if aside else False))
            previous_end = positions[-1]
        return query

    def entity_concepts(self, name: str, referred: bool = False) -> list[Concept]:
        """Concepts standing for a medicine remembered from an earlier turn; `referred`: the
        question points back at it ("it"), so it counts as if named again."""
        return [replace(c, from_context=not referred) for c in self.parse(name).concepts]

    def topic_concepts(self, text: str, referred: bool = False) -> list[Concept]:
        """The non-medicine concepts of an earlier question ("side effects" of "...prednisone");
        `referred`: the question points back at them ("he"), so they count in full."""
        return [replace(c, from_context=not referred, earlier=True) for c in self.parse(text).topic]
