"""Text analysis shared by the index and the queries, so both sides agree on what a word is.

Patients type curly quotes, capitals, brand names and word forms ("pregnant",
"pregnancy"); the analyzer folds these to lower-case Snowball stems and drops
topic-free words. Only NLTK parts that need no downloaded data are used.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from nltk.stem.snowball import SnowballStemmer

_WORD = re.compile(r"[a-z]+|[0-9]+")  # "jak1" -> jak 1, "il-13" -> il 13
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-"})


def normalize(text: str) -> str:
    """Lower-case, NFKC-folded, straight-quoted text with apostrophes dropped ("can't" -> "cant")."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return text.replace("'", "")


def words(text: str) -> list[str]:
    """The alphanumeric words of normalized text, in order."""
    return _WORD.findall(normalize(text))


def load_word_list(path: Path) -> frozenset[str]:
    """A word-per-line file where '#' starts a comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in (line.split("#", 1)[0].strip().lower() for line in lines) if w)


class Analyzer:
    """Turns text into the stems that retrieval compares, skipping stopwords."""

    def __init__(self, stopwords: frozenset[str]):
        self.stopwords = stopwords
        self._stemmer = SnowballStemmer("english")
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        """Cached: the same few thousand words recur in every query."""
        stem = self._cache.get(word)
        if stem is None:
            stem = self._cache[word] = self._stemmer.stem(word)
        return stem

    def is_content(self, word: str) -> bool:
        return word not in self.stopwords and len(word) > 1

    def terms(self, text: str) -> list[str]:
        """Stems of the content words of `text`."""
        return [self.stem(w) for w in words(text) if self.is_content(w)]
