"""Text analysis shared by the index and the queries, so both sides agree on what a word is.

Patients type curly quotes, capitals, brand names and word forms ("pregnant",
"pregnancy"); the analyzer folds these to lower-case Snowball stems and drops
topic-free words. Only NLTK parts that need no downloaded data are used.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

from chatbot.core.files import write_whole


def _load_nltk() -> None:
    """Imports nltk with scikit-learn and SciPy hidden. nltk's package imports its wrappers of
    them whenever they are installed, which would make every `ask` load both (seconds)
    although answering needs only numpy (chatbot/core/risk.py). nltk catches the ImportError
    (every such import of its is in a try block), and both stay importable afterwards for
    `chatbot train`."""
    if "nltk" in sys.modules:
        return
    hidden = [name for name in ("sklearn", "scipy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        import nltk  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_load_nltk()
from nltk.stem.snowball import SnowballStemmer  # noqa: E402

_WORD = re.compile(r"[a-z]+|[0-9]+")  # "jak1" -> jak 1, "il-13" -> il 13
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-"})


def normalize(text: str) -> str:
    """Lower-case, straight-quoted text with apostrophes dropped ("can't" -> "cant") and accents
    taken off letters: a patient typing "está" or "naïve" means the same word without them."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES).lower())
    return text.encode("ascii", "ignore").decode("ascii").replace("'", "")


def words(text: str) -> list[str]:
    """The alphanumeric words of normalized text, in order."""
    return _WORD.findall(normalize(text))


def load_word_list(path: Path) -> frozenset[str]:
    """A word-per-line file where '#' starts a comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in (line.split("#", 1)[0].strip().lower() for line in lines) if w)


class Analyzer:
    """Turns text into the stems that retrieval compares, skipping stopwords."""

    def __init__(self, stopwords: frozenset[str], stems: dict[str, str] | None = None):
        """`stems` may hold word -> stem pairs computed earlier (see StemCache). Entries of
        several words ("my doctor") are filler phrases, left out of questions as a whole."""
        self.stopwords = stopwords
        # filler phrases by their first word: a question or passage is scanned once, probing
        # only the phrases that could start at each word
        self.filler: dict[str, list[tuple[str, ...]]] = {}
        for phrase in (tuple(p.split()) for p in stopwords if " " in p):
            self.filler.setdefault(phrase[0], []).append(phrase)
        self._stemmer = SnowballStemmer("english")
        self._known = stems or {}
        self._cache: dict[str, str] = {}
        self._frozen = False

    @property
    def stems(self) -> dict[str, str]:
        """Every word -> stem pair asked for so far (not the unused ones it was given)."""
        return dict(self._cache)

    def stem(self, word: str) -> str:
        """Cached for the corpus's own words, which recur in every query. Once `freeze()` is
        called (the corpus is indexed), a new word is stemmed and forgotten: a patient's
        words are never kept after the reply, and junk cannot grow the cache."""
        stem = self._cache.get(word)
        if stem is None:
            stem = self._known.get(word) or self._stemmer.stem(word)
            if not self._frozen:
                self._cache[word] = stem
        return stem

    def freeze(self) -> None:
        """From now on, remember no new words (see `stem`)."""
        self._frozen = True

    def is_content(self, word: str) -> bool:
        return word not in self.stopwords and len(word) > 1

    def filler_positions(self, plain: list[str]) -> set[int]:
        """Positions of the words inside filler phrases: the story around a question ("my
        doctor wants me to", "all the time") says nothing the article could answer, yet its
        words would count against every passage."""
        found: set[int] = set()
        for start, word in enumerate(plain):
            for phrase in self.filler.get(word, ()):
                if tuple(plain[start:start + len(phrase)]) == phrase:
                    found.update(range(start, start + len(phrase)))
        return found

    def terms(self, text: str) -> list[str]:
        """Stems of the content words of `text`."""
        return [self.stem(w) for w in words(text) if self.is_content(w)]


class StemCache:
    """The article's word -> stem pairs, kept on disk between runs of `ask`.

    Snowball stemming the article's thousand-odd words is most of the time `ask`
    spends building its index. Only the article's own words are stored, never a
    question's: the file is written right after the index is built, before any reply.
    """

    def __init__(self, folder: Path | None):
        import nltk
        self.path = folder / f"stems-nltk-{nltk.__version__}.json" if folder else None

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")) if self.path else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, stems: dict[str, str]) -> None:
        """Best effort: a read-only home or a full disk only costs the next start some time."""
        if self.path:
            keep_json(self.path, stems)


def keep_json(path: Path, value) -> None:
    """Writes `value` as JSON to a file in the cache folder, whole or not at all (another
    process reads the old file or the new, never half of one). Best effort: a read-only or
    full cache, or a value JSON cannot hold, only costs the next start the work kept."""
    try:
        text = json.dumps(value, sort_keys=True)
        write_whole(path, lambda f: f.write(text.encode("utf-8")))
    except (OSError, TypeError, ValueError):
        pass
