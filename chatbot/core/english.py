"""Everyday English words, so that spelling correction leaves them alone.

The speller bends unknown words toward article and lexicon words ("dupixant" ->
Dupixent), but "talking" is not a typo of "taking", nor "together" of "altogether":
a word in an English dictionary is taken as meant. The dictionary is the GCIDE list
of the `english-words` package, read on first use (its larger web2 list holds rare
variants such as "inhibiter", which would shield typos). It lacks most inflected
forms, so a word also counts through its base form ("called" -> call).
"""
from __future__ import annotations

from functools import lru_cache

SUFFIXES = ("ing", "ed", "es", "s", "ly", "er", "est")
MIN_BASE = 3


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """About 110,000 words; read once, by a server at start or by `ask` at its first unknown word."""
    from english_words import get_english_words_set
    return frozenset(get_english_words_set(["gcide"], lower=True, alpha=True))


def is_english(word: str) -> bool:
    """True for a dictionary word or an inflection of one ("talking", "called", "stopped")."""
    words = _dictionary()
    if word in words:
        return True
    for suffix in SUFFIXES:
        base = word[:-len(suffix)]
        if not word.endswith(suffix) or len(base) < MIN_BASE:
            continue
        doubled = len(base) > MIN_BASE and base[-1] == base[-2]  # "stopped" -> stop
        if base in words or base + "e" in words or (doubled and base[:-1] in words):
            return True
    return False
