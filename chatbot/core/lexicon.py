"""How patients say what the article says: brands, abbreviations, lay words.

The lexicon file (corpus/lexicon.txt) maps patient phrases to article words
(`conjunctivitis | pink eye = pinkeye, red eyes`: either article phrase on the
left answers the patient's). Phrases are compared as stem sequences, so
"shots" matches "shot" and "Pregnant" matches "pregnant". Entries under [drugs] and [classes] are
medicines: they are also applied to the article itself (so "Dupixent" and
"dupilumab" find each other both ways) and are remembered for follow-ups.
Entries under [comparisons] are words that compare ("vs", "difference").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from chatbot.core.corpus import CorpusError
from chatbot.core.text import words

ENTITY_GROUPS = ("drugs", "classes")
GROUPS = ENTITY_GROUPS + ("words", "comparisons")


@dataclass(frozen=True)
class Entry:
    name: str  # the first article phrase as written: a medicine's generic name
    article: tuple[tuple[str, ...], ...]  # article phrases (alternatives) as stem tuples
    phrases: tuple[str, ...]  # every phrase, both sides, as stem sequences joined by spaces
    group: str

    @property
    def is_entity(self) -> bool:
        return self.group in ENTITY_GROUPS


@dataclass(frozen=True)
class Match:
    entry: Entry
    start: int  # word positions in the analysed text
    end: int


class Lexicon:
    def __init__(self, entries: list[Entry], plain_words: frozenset[str] = frozenset(),
                 drug_names: frozenset[str] = frozenset()):
        self.entries = entries
        self.plain_words = plain_words  # every word written in the file: spelling targets
        self.drug_names = drug_names  # one-word names under [drugs]: "methotrexate", "rinvoq"
        self._members: dict[str, frozenset[str]] = {}  # class -> medicines, asked per question
        # phrase (as a tuple of stems) -> the entries it belongs to; a dict probe per word span
        # is much cheaper to build and to run than one regex per entry
        self._phrases: dict[tuple[str, ...], list[Entry]] = {}
        for e in entries:
            for p in e.phrases:
                self._phrases.setdefault(tuple(p.split()), []).append(e)
        # phrase lengths by first word: only spans that some phrase could fill are probed
        self._lengths: dict[str, list[int]] = {}
        for k in self._phrases:
            self._lengths.setdefault(k[0], []).append(len(k))
        self._lengths = {w: sorted(set(ns)) for w, ns in self._lengths.items()}

    @classmethod
    def load(cls, path: Path, stem: Callable[[str], str], stopwords: frozenset[str]) -> "Lexicon":
        """Parses `article words = phrase, phrase` lines grouped under [drugs], [classes], [words]
        and [comparisons]."""
        entries, group, plain, names = [], None, set(), set()
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                group = line[1:-1].strip().lower()
                if group not in GROUPS:
                    raise CorpusError(path, n, f"unknown group [{group}]; use one of "
                                               + ", ".join(f"[{g}]" for g in GROUPS))
                continue
            if group is None:
                raise CorpusError(path, n, "entries must come after a group line such as [words]")
            left, sep, rest = line.partition("=")
            article = [p.strip() for p in left.split("|") if p.strip()]
            phrases = [p.strip() for p in rest.split(",") if p.strip()]
            if not sep or not article or not phrases:
                raise CorpusError(path, n, "expected 'article words = patient phrase, patient phrase'")
            split = [words(p) for p in article + phrases]
            for k, (p, ws) in enumerate(zip(article + phrases, split)):
                # a patient phrase of several common words is specific enough ("how many",
                # "didnt do anything"); one common word, or an article phrase, is not
                if not any(w not in stopwords for w in ws) and (k < len(article) or len(ws) < 2):
                    raise CorpusError(path, n, f"phrase {p!r} has only common words; "
                                               "it would match almost any question")
                plain.update(ws)
                if group == "drugs" and len(ws) == 1:
                    names.add(ws[0])
            stemmed = [tuple(stem(w) for w in ws) for ws in split]
            # a medicine is found by its own name too; a [words] entry only by the patient phrases,
            # so "flare | recurrent = comes back" does not turn every "flare" into "recurrent"
            matched = stemmed if group in ENTITY_GROUPS else stemmed[len(article):]
            entries.append(Entry(article[0], tuple(dict.fromkeys(stemmed[:len(article)])),
                                 tuple(dict.fromkeys(" ".join(s) for s in matched)), group))
        return cls(entries, frozenset(plain), frozenset(names))

    def matches(self, stems: list[str], groups: tuple[str, ...] = GROUPS) -> list[Match]:
        """Every entry whose phrase occurs in the stem sequence, with the word span it covers."""
        found = []
        for start, first in enumerate(stems):
            for n in self._lengths.get(first, ()):
                if start + n > len(stems):
                    break
                for entry in self._phrases.get(tuple(stems[start:start + n]), ()):
                    if entry.group in groups:
                        found.append(Match(entry, start, start + n))
        # a phrase inside a longer one is not meant: "steroid cream" is topical, not a corticosteroid
        return [m for m in found if not any(o.start <= m.start and m.end <= o.end and
                                            o.end - o.start > m.end - m.start for o in found)]

    def specific(self, matches: list[Match]) -> list[Match]:
        """Drops a class matched on the same words as one of its members ("methotrexate" is a
        medicine first; its classes are only implied)."""
        return [m for m in matches if not any(
            o is not m and (o.start, o.end) == (m.start, m.end) and self.is_parent(m.entry, o.entry)
            for o in matches)]

    def is_parent(self, parent: Entry, child: Entry) -> bool:
        """True when `parent` is a class that takes in `child` (a medicine, or a narrower class)."""
        if parent.group != "classes" or not child.is_entity or parent is child:
            return False
        return child.group == "drugs" or any(" ".join(a) in parent.phrases for a in child.article)

    def members(self, name: str) -> frozenset[str]:
        """The medicines a class takes in ("immunosuppressants" -> methotrexate, ...)."""
        found = self._members.get(name)
        if found is None:
            found = self._members[name] = self._find_members(name)
        return found

    def _find_members(self, name: str) -> frozenset[str]:
        parent = self.entity(name)
        if parent is None or parent.group != "classes":
            return frozenset()
        return frozenset(e.name for e in self.entries
                         if e.group == "drugs" and any(p in parent.phrases for p in e.phrases))

    def entity(self, name: str) -> Entry | None:
        """The medicine entry with this generic name, if there is one."""
        return next((e for e in self.entries if e.is_entity and e.name == name), None)
