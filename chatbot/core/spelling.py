"""Spelling correction toward the words the bot knows ("metotrexate", "dupixant").

Only words that are not already known are corrected, and only toward long
article words or lexicon words, so an everyday word the article never uses
("month") is not bent into one it does ("mouth"). Candidates come from a
deletion index (the SymSpell idea): every word with one or two letters
removed, so a lookup is a few dictionary probes rather than a scan.

Voice typing spells a medicine by its sound, in ordinary words ("do pick sent", "sickle
sporeen", "meth oh tricks ate"): those are found by their Metaphone key (jellyfish), the
standard English sound code, which such a run shares with the name it sounds like.
Distances are Damerau-Levenshtein's (jellyfish's, in compiled code: the same distances as
nltk's edit_distance with transpositions, 28 times faster).
"""
from __future__ import annotations

from typing import Callable

from jellyfish import damerau_levenshtein_distance, metaphone

MIN_TARGET_ARTICLE_WORD = 7  # shorter article words are too easy to reach from ordinary words
MIN_TARGET_LEXICON_WORD = 6  # lexicon words are drug and lay terms, so a little shorter is safe
MIN_WORD = 4
MIN_JOINED_NAME = 7  # a medicine name typed in pieces ("metho trexate") is at least this long
MAX_PIECES = 5  # "tra low kin you mab"
# A name is found by its sound only when its Metaphone key is this long, and only by the very
# same key: shorter keys are shared by everyday words ("send me an" sounds like Sandimmune,
# "matter ill" like Medrol), and a key one sound off took "aspirin" for azathioprine.
MIN_SOUND_KEY = 6
# A short brand's key ("ad bree" and Adbry share ATBR, "sib in ko" and Cibinqo SBNK) is
# matched only in a run of two or three short words, one of them no known or English word, in
# a message mostly of English words: the same keys turn up in other languages ("me duro el")
# and in everyday English ("my adderall" sounds like Medrol).
MIN_SHORT_SOUND_KEY = 4
MIN_SHORT_SOUND_NAME = 5  # a brand, not an abbreviation ("aza", "mtx")
SHORT_SOUND_PIECES = (2, 3)  # words in the run ...
SHORT_SOUND_PIECE_LETTERS = 5  # ... each at most this long, as syllables heard apart are


def _sound(text: str) -> str:
    """Its Metaphone key without the glide Y, which a name said in pieces adds ("tra low kin
    you mab" against tralokinumab)."""
    return metaphone(text).replace("Y", "")


def _max_distance(word: str) -> int:
    return 1 if len(word) <= 7 else 2


def _deletes(word: str, distance: int) -> set[str]:
    """The word with up to `distance` letters removed, every way. Built by slicing, one
    deletion at a time from the last round's words: for a made-up 20-letter word that is a
    few hundred slices, where joining letters per combination cost a millisecond."""
    out = {word}
    frontier = {word}
    for _ in range(distance):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


class SpellingCorrector:
    def __init__(self, known: set[str], targets: set[str],
                 is_word: Callable[[str], bool] = lambda word: False,
                 names: set[str] = frozenset()):
        """`known` words, and any word `is_word` accepts (an English dictionary), are left
        alone; other words are corrected only to `targets`. `names` are medicine names, which
        are also looked for in pieces of words typed apart."""
        self.known = frozenset(known)
        self.is_word = is_word
        self._targets = sorted(targets)
        self._names_by_start: dict[str, list[str]] = {}
        for name in sorted(n for n in names if len(n) >= MIN_JOINED_NAME and n.isalpha()):
            self._names_by_start.setdefault(name[:2], []).append(name)
        self._names_by_sound: dict[str, str] = {}  # each name by its sound key
        self._short_names_by_sound: dict[str, str] = {}  # ... a shorter one (MIN_SHORT_SOUND_KEY)
        for name in sorted(n for n in names if n.isalpha()):
            key = _sound(name)
            if len(key) >= MIN_SOUND_KEY:
                self._names_by_sound.setdefault(key, name)
            elif len(key) >= MIN_SHORT_SOUND_KEY and len(name) >= MIN_SHORT_SOUND_NAME:
                self._short_names_by_sound.setdefault(key, name)
        self._names = frozenset(names)
        self._index: dict[str, list[str]] | None = None  # built on the first unknown word
        # no target is longer than this, so no longer word is within reach of one: the bound
        # on the work a made-up word can cost (a 30-letter one has 435 two-letter deletions)
        self._max_word = max((len(t) for t in targets), default=0) + 2

    def prepare(self) -> None:
        """Builds the deletion index and reads the dictionary now (a server does, so no
        patient waits for them)."""
        self._deletion_index()
        self.is_word("warm")

    def _deletion_index(self) -> dict[str, list[str]]:
        """Built lazily: most questions need no correction, and `ask` should start fast."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for target in self._targets:
                for key in _deletes(target, _max_distance(target)):
                    index.setdefault(key, []).append(target)
            self._index = index
        return self._index

    @classmethod
    def for_vocabulary(cls, article_words: set[str], lexicon_words: set[str],
                       is_word: Callable[[str], bool] = lambda word: False,
                       names: set[str] = frozenset()) -> "SpellingCorrector":
        targets = {w for w in article_words if len(w) >= MIN_TARGET_ARTICLE_WORD and w.isalpha()}
        targets |= {w for w in lexicon_words if len(w) >= MIN_TARGET_LEXICON_WORD and w.isalpha()}
        return cls(article_words | lexicon_words, targets, is_word, names)

    def join_names(self, words: list[str]) -> tuple[list[str], dict[str, str]]:
        """The words with a medicine name typed in pieces joined back ("metho trexate",
        "a bro city nib" from voice typing) or spelt by its sound ("do pick sent"), and what
        was joined. Only runs that start with a medicine name's first two letters and hold a
        word the article and lexicon do not know are compared by spelling: most positions of
        most questions are passed over at once."""
        out: list[str] = []
        joined: dict[str, str] = {}
        # both ways compare only runs that hold a word the article and lexicon do not know
        # (most messages have none): where none lies within reach, a position is passed over
        unknown = [i for i, w in enumerate(words) if w not in self.known]
        # mostly English words (short names are matched by sound only then): asked only
        # where a word is unknown, as the runs below are
        letters = [w for w in words if w.isalpha()] if unknown else []
        english = sum(w in self.known or self.is_word(w) for w in letters) * 2 >= len(letters)
        i = 0
        while i < len(words):
            name, pieces = None, 1
            if any(i <= u < i + MAX_PIECES for u in unknown):
                name, pieces = self._name_in_pieces(words, i)
                if not name:
                    name, pieces = self._name_by_sound(words, i, english)
            if name:
                out.append(name)
                joined[" ".join(words[i:i + pieces])] = name
                i += pieces
            else:
                out.append(words[i])
                i += 1
        return out, joined

    def _name_in_pieces(self, words: list[str], start: int) -> tuple[str | None, int]:
        """The medicine name closest to the words from `start` run together, and how many
        words it took. A name keeps its first two letters when voice typing splits it, so
        only names sharing them are compared."""
        best, best_d, best_n = None, 3, 1
        if "".join(words[start:start + 2])[:2] not in self._names_by_start:
            return best, best_n  # every run from here starts with these two letters
        for n in range(2, MAX_PIECES + 1):
            run = words[start:start + n]
            if len(run) < n or not all(w.isalpha() for w in run) \
                    or all(w in self.known for w in run):
                continue
            joined = "".join(run)
            if len(joined) < MIN_JOINED_NAME:
                continue
            for name in self._names_by_start.get(joined[:2], ()):
                if abs(len(name) - len(joined)) > 2 or name == run[0]:
                    continue  # a name typed whole is not one in pieces ("dupixent im ...")
                d = damerau_levenshtein_distance(joined, name)
                if d <= _max_distance(name) and d < best_d:
                    best, best_d, best_n = name, d, n
        return best, best_n

    def _name_by_sound(self, words: list[str], start: int, english: bool = False
                       ) -> tuple[str | None, int]:
        """The medicine name that the words from `start` sound like, run together, and how
        many words it took (the fewest): a run of 1 to MAX_PIECES words of letters, none of
        them a name already, at least one that the article and lexicon do not know, and a
        single word only if it is no English word ("prisoner" is not prednisone). A short
        name's sound (MIN_SHORT_SOUND_KEY) only where the message is `english`."""
        for n in range(1, MAX_PIECES + 1):
            run = words[start:start + n]
            if len(run) < n or not run[-1].isalpha() or run[-1] in self._names:
                return None, 1
            if n == 1 and (run[0] in self.known or self.is_word(run[0])) \
                    or all(w in self.known for w in run):
                continue
            key = _sound("".join(run))
            name = self._names_by_sound.get(key)
            if not name and english and n in SHORT_SOUND_PIECES \
                    and all(len(w) <= SHORT_SOUND_PIECE_LETTERS for w in run) \
                    and any(w not in self.known and not self.is_word(w) for w in run):
                name = self._short_names_by_sound.get(key)
            if name:
                return name, n
        return None, 1

    def knows(self, word: str) -> bool:
        """Whether the word needs no correcting: known, or too short or long to be a typo."""
        return word in self.known or not MIN_WORD <= len(word) <= self._max_word \
            or not word.isalpha()

    def correct(self, word: str) -> str:
        """The closest target within 1-2 edits (ties: the lexicon's order), or the word itself."""
        if self.knows(word):
            return word
        if self.is_word(word):
            return word
        limit = _max_distance(word)
        best, best_d = word, limit + 1
        index = self._deletion_index()
        candidates = {c for key in _deletes(word, limit) for c in index.get(key, ())}
        for cand in sorted(candidates):
            if abs(len(cand) - len(word)) > limit or cand[0] != word[0] and len(word) < 6:
                continue
            d = damerau_levenshtein_distance(word, cand)
            if d <= min(limit, _max_distance(cand)) and d < best_d:
                best, best_d = cand, d
        return best  # not cached: a patient's words are never kept after the reply
