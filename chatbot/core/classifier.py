"""A text classifier trained once with scikit-learn and evaluated with numpy alone.

The risk model (crisis / emergency / none) and the answer model (which section of the
article answers, or none) are both multinomial logistic regressions over the same
features: word unigrams and bigrams and the character 3- and 4-grams of each word (which
survive typos: "sucidal", "metotrexate"), hashed with crc32 and weighted by sublinear
TF-IDF. They are trained by chatbot/training.py and kept as arrays (.npz files keyed by
what they were trained on), so answering never imports scikit-learn. `features()` is the
one definition of the features, used both to train and to infer.
"""
from __future__ import annotations

import hashlib
import json
import math
import mmap
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from chatbot.core.corpus import CorpusError
from chatbot.core.files import write_whole

FEATURE_VERSION = 5  # bump when features() changes: a saved model must be retrained
HASH_BITS = 24  # 16M buckets: distinct features almost never collide
# Character 3- and 4-grams. 5-grams too made a fifth more non-zeros for the risk fit to
# read and did not help (nineteenth session, the same author folds side by side, 3-5 ->
# 3-4): safety by six author folds, crises shown 97.9% -> 98.0%, emergencies 99.1% ->
# 99.2%, look-alikes and everyday text given a notice 15.7% -> 16.2%, medicine questions
# 2.4% -> 2.3% (the cross-validation 117 s -> 93 s); answers out of fold (6 author folds,
# 142 authors, 12,892 answerable) right / wrong 11,605 / 432 -> 11,638 / 423, not covered
# refused 3,215 -> 3,221 of 3,376, small talk 2,117 -> 2,121 of 2,208. 3-grams alone
# cut the cross-validation to 65 s but gave look-alikes a notice 17.7% of the time.
CHAR_NGRAMS = (3, 4)
# A long message is also read sentence by sentence, so that one risky sentence inside a
# story about eczema is not diluted by the rest (the highest probability counts).
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+|\s+(?:but|and then|anyway|also)\s+")
MIN_SENTENCE_WORDS = 3

# Scripts written without spaces between words (Chinese, Japanese kana, Thai): each character
# is a word of its own, so the word pairs are the character pairs a reader of them would use
# (a whole run of them read as one "word" never recurs). Six author folds (235 authors,
# sixteenth session): crises in other languages shown 95.4% -> 97.6%, emergencies 98.3% ->
# 98.8%, their ordinary messages given a notice 25.2% -> 27.1%; English unchanged.
_THAI = "\u0e00-\u0e7f"
_UNSPACED = _THAI + "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Scripts whose vowel signs and viramas are combining marks (Devanagari to Sinhala, Thai and
# Lao, Tibetan, Myanmar, Khmer; Thai since the twenty-seventh session, below): there a mark
# is part of the word, not an accent to take off, and "मुझे" is one word, not "म" and "झ".
# Read as pieces, every Hindi or Kannada message shared the same few letters, which the risk
# model had learned from crises in those languages.
# Six author folds, the same corpus side by side (twenty-sixth session, 351 authors): other
# scripts' look-alikes and everyday text given a notice 26.9% -> 23.6% (Telugu 46 -> 25%,
# Bengali 29 -> 15%), crises in them shown 94.8% -> 94.6%, emergencies 97.9% -> 98.0%;
# English unchanged (its text is ASCII and never reaches this).
_ABUGIDAS = ((0x0900, 0x0DFF), (0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x109F),
             (0x1780, 0x17FF))
_MARKS = "".join(chr(c) for low, high in _ABUGIDAS for c in range(low, high + 1)
                 if unicodedata.category(chr(c)).startswith("M"))
_KEPT_MARKS = frozenset(_MARKS)
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W_{_UNSPACED}](?:[^\W_{_UNSPACED}]|[{_MARKS}])*"
                    r"|[\u2600-\u27bf\U0001f000-\U0001faff]")
# Thai is written without spaces between words but with spaces between phrases: besides its
# letters (_UNSPACED), each run of Thai is a word too, whose character n-grams are the
# syllables and words a reader sees (its letters alone are like English read letter by
# letter). Its vowel signs and tone marks stay (_ABUGIDAS). Six author folds, the same corpus
# side by side (twenty-seventh session, 376 authors): Thai look-alikes and everyday text given
# a notice 39.3% -> 30.2% (of 600), Thai crises shown 99.1% -> 100% (107), emergencies 100%
# either way (104); other scripts' notices 26.3% -> 25.9%, English unchanged. The runs alone,
# without the letters, gave 13.2% notices but missed 4 of the 211 crises and emergencies;
# Burmese read the same way: crises 90.4% -> 95.9% (73) but notices 37.5% -> 52.3% (256).
_THAI_WORDS = re.compile(rf"[{_THAI}]{{2,}}")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})


def tokens(text: str) -> list[str]:
    """Lower-case words without accents or apostrophes, and each emoji as a word of its own:
    "Ya no quiero despertar mañana 😔" -> ya no quiero despertar manana 😔; in a script
    without spaces, each character: "不想活了" -> 不 想 活 了; a vowel sign of Devanagari and
    its kin is no accent and stays: "मुझे" -> मुझे (_ABUGIDAS); Thai, each letter and then
    each run of it: "ฉันเป็นผื่น" -> ฉ ั น ... ฉันเป็นผื่น (_THAI_WORDS)."""
    text = text.translate(_QUOTES).lower()
    if text.isascii():  # plain ASCII (most messages) has no accents to take off, and no Thai
        return _TOKEN.findall(text.replace("'", ""))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c) or c in _KEPT_MARKS)
    text = text.replace("'", "")
    return _TOKEN.findall(text) + _THAI_WORDS.findall(text)


def features(text: str) -> list[str]:
    """Every feature of a message, once per occurrence (counts are term frequencies)."""
    toks = tokens(text)
    out = ["w:" + t for t in toks]
    out += ["b:" + a + " " + b for a, b in zip(toks, toks[1:])]
    low, high = CHAR_NGRAMS
    for t in toks:
        padded = " " + t + " "
        for n in range(low, high + 1):
            out += ["c:" + padded[i:i + n] for i in range(len(padded) - n + 1)]
    return out


# crc32 of each feature's kind prefix, so a feature is hashed as crc32(rest, prefix's crc):
# the same value as crc32(prefix + rest), without building the string (buckets)
_PREFIX_CRC = {kind: zlib.crc32(kind.encode()) for kind in ("w:", "b:", "c:")}


def buckets(text: str, words: dict[str, list[int]] | None = None) -> dict[int, int]:
    """The message's hashed features and their counts: crc32 of each of features(text),
    computed without building the feature strings (a message's character n-grams are most of
    the cost of reading it, and a page of junk words is all n-grams). crc32 is stable across
    processes, unlike Python's hash(), so a model trained once means the same thing
    everywhere. tests/test_risk.py checks this equals hashing features(text) one by one.
    `words`: for training only, a dict that keeps each word's n-gram buckets across the
    examples (a patient's message is never read with one: nothing of it may be kept)."""
    mask = (1 << HASH_BITS) - 1
    crc = zlib.crc32
    toks = tokens(text)
    encoded = [t.encode("utf-8") for t in toks]
    w, b = _PREFIX_CRC["w:"], _PREFIX_CRC["b:"]
    keys = [crc(t, w) & mask for t in encoded]
    keys += [crc(second, crc(b" ", crc(first, b))) & mask
             for first, second in zip(encoded, encoded[1:])]
    for t, raw in zip(toks, encoded):
        grams = words.get(t) if words is not None else None
        if grams is None:
            grams = _char_grams(t, raw)
            if words is not None:
                words[t] = grams
        keys += grams
    return Counter(keys)  # counted in C, keys in the order first seen


def _char_grams(word: str, raw: bytes) -> list[int]:
    """The buckets of a word's character n-grams (`raw`: the word in UTF-8)."""
    mask, crc, c = (1 << HASH_BITS) - 1, zlib.crc32, _PREFIX_CRC["c:"]
    # an ASCII word's n-grams are slices of its bytes; any other is sliced as text
    low, high = CHAR_NGRAMS
    if len(raw) == len(word):
        padded = b" " + raw + b" "
        return [crc(padded[i:i + n], c) & mask
                for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
    text = " " + word + " "
    return [crc(text[i:i + n].encode("utf-8"), c) & mask
            for n in range(low, high + 1) for i in range(len(text) - n + 1)]


def sentences(text: str) -> list[str]:
    """The parts of a message long enough to be read on their own."""
    parts = [p for p in _SENTENCE.split(text) if p and len(p.split()) >= MIN_SENTENCE_WORDS]
    return parts if len(parts) > 1 else []


def data_key(paths: list[Path], cache_dir: Path | None = None) -> str:
    """What a trained model depends on: the files' bytes and the feature version. A model
    whose key differs from its corpus's was trained on other files. With `cache_dir`, each
    file's digest is kept there by its size and modification time, so a start reads and
    hashes only files edited since (the examples are megabytes; `ask` starts in 0.3 s)."""
    h = hashlib.sha256(f"features-v{FEATURE_VERSION}-bits{HASH_BITS}".encode())
    known = _read_digests(cache_dir)
    fresh = {}
    for path in sorted(paths):
        stat = path.stat()
        entry = known.get(str(path.resolve()))
        if entry and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            digest = entry[2]
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        fresh[str(path.resolve())] = [stat.st_size, stat.st_mtime_ns, digest]
        h.update(path.name.encode() + b"\0" + digest.encode() + b"\0")
    if cache_dir and any(known.get(k) != v for k, v in fresh.items()):
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            (cache_dir / DIGESTS).write_text(json.dumps({**known, **fresh}))
        except OSError:
            pass  # a read-only cache: hash again next time
    return h.hexdigest()[:16]


DIGESTS = "file-digests.json"


def _read_digests(cache_dir: Path | None) -> dict:
    try:
        data = json.loads((cache_dir / DIGESTS).read_text()) if cache_dir else {}
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


ARRAY_PREFIX = "array_"  # a model's named arrays (TextClassifier.arrays) in its .npz file


class TextClassifier:
    """A multinomial logistic regression over sublinear TF-IDF of hashed features,
    evaluated with numpy exactly as scikit-learn would (tests compare the two)."""

    classes: tuple[str, ...] = ()  # fixed by a subclass, or read from the file

    def __init__(self, vocab: np.ndarray, idf: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, key: str = "", classes: tuple[str, ...] = ()):
        vocab, idf, coef = np.asarray(vocab), np.asarray(idf), np.asarray(coef)
        if not np.all(vocab[1:] > vocab[:-1]):  # saved models are sorted already: no copy
            order = np.argsort(vocab)
            vocab, idf, coef = vocab[order], idf[order], coef[:, order]
        # Kept in the types they come in (int32 and float32 as saved, read in place from the
        # mapped file): inference gathers the few columns a message needs and computes in
        # float64, which gives the same numbers as widening every array at every start.
        self.vocab = vocab if vocab.dtype.kind in "iu" else vocab.astype(np.int64)  # sorted
        self.idf = idf if idf.dtype.kind == "f" else idf.astype(np.float64)
        self.coef = coef if coef.dtype.kind == "f" else coef.astype(np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.key = key
        self.classes = tuple(classes) or self.classes
        self.extra: dict = {}  # small JSON-safe parameters a subclass keeps with the model
        self.arrays: dict[str, np.ndarray] = {}  # ... and named arrays (float32 once saved)

    # -- files ----------------------------------------------------------------

    def save(self, path: Path) -> None:
        # written whole (files.write_whole): a running server that mapped the old file
        # (read_arrays) keeps reading it, never a half-written one
        write_whole(path, lambda f: np.savez(  # a file object: a name would get ".npz" added
            f, vocab=self.vocab.astype(np.int32), idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32), intercept=self.intercept,
            meta=np.array(json.dumps({"key": self.key, "classes": list(self.classes),
                                      "extra": self.extra})),
            **{ARRAY_PREFIX + k: v.astype(np.float32) for k, v in self.arrays.items()}))

    @classmethod
    def load(cls, path: Path):
        """The model saved at `path`; a missing or foreign file says to run `chatbot train`."""
        try:
            z = read_arrays(path)
            meta = json.loads(str(z["meta"]))
            classes = tuple(meta.get("classes", ()))
            if cls.classes and classes != cls.classes:
                raise CorpusError(path, 0, f"the model's classes are not {cls.classes}; "
                                           "run `chatbot train`")
            model = cls(z["vocab"], z["idf"], z["coef"], z["intercept"], meta.get("key", ""),
                        classes)
            model.extra = meta.get("extra") or {}
            model.arrays = {k[len(ARRAY_PREFIX):]: v  # float32: read as saved
                            for k, v in z.items() if k.startswith(ARRAY_PREFIX)}
            return model
        except FileNotFoundError:
            raise CorpusError(path, 0, "no trained model; run `chatbot train`") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise CorpusError(path, 0, f"not a trained model ({exc}); run `chatbot train`") from None

    # -- inference -------------------------------------------------------------

    def vector(self, text: str, counts: dict[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The message's L2-normalised TF-IDF as (slots, weights) over the model's vocabulary;
        `counts` is buckets(text) when the caller has it already (two models read a message)."""
        counts = buckets(text) if counts is None else counts
        # the vocabulary's own type: a search with other keys would widen the whole array
        keys = np.fromiter(counts, dtype=self.vocab.dtype, count=len(counts))
        # the vocabulary is sorted: a binary search finds each feature without a dict of
        # tens of thousands of entries to build at every start
        at = np.minimum(np.searchsorted(self.vocab, keys), len(self.vocab) - 1)
        known = self.vocab[at] == keys
        idx = at[known]
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[known])
        w = tf * self.idf[idx]
        norm = math.sqrt(float(w @ w))
        return idx, (w / norm if norm else w)

    def probabilities(self, text: str, counts: dict[int, int] | None = None) -> np.ndarray:
        """The probability of each class (in `classes` order) for the text read as one message
        (`counts`: its buckets, if already computed)."""
        idx, w = self.vector(text, counts)
        z = self.coef[:, idx].astype(np.float64) @ w + self.intercept
        z = np.exp(z - z.max())
        return z / z.sum()



_ARRAY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file that np.savez wrote (stored, not compressed), as read-only
    views of the file mapped into memory. `ask` then reads from disk only the pages its
    message touches, not the 30 MB of both models, and a server's workers share one copy.
    A member that is compressed or holds Python objects is refused (ValueError)."""
    with open(path, "rb") as f, zipfile.ZipFile(f) as z:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        arrays = {}
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{info.filename} is not an array stored uncompressed")
            # the member's data follows its local header: 30 bytes, then its name and extra
            f.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(f.read(4), dtype="<u2")
            f.seek(info.header_offset + 30 + int(name_len) + int(extra_len))
            header = _ARRAY_HEADERS.get(np.lib.format.read_magic(f))
            if header is None:
                raise ValueError(f"{info.filename} has an array format this numpy cannot map")
            shape, fortran, dtype = header(f)
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects")
            array = np.frombuffer(mapped, dtype=dtype, count=math.prod(shape), offset=f.tell())
            arrays[info.filename[:-len(".npy")]] = array.reshape(shape,
                                                                 order="F" if fortran else "C")
        return arrays


def saved_or_trained(cls, saved: Path, files: list[Path], cache_dir: Path | None, name: str,
                     train: Callable[[str], "TextClassifier"]):
    """The model trained on `files`: the one saved with the corpus when its key matches, else
    one trained earlier for the same files and kept in the cache, else `train(key)` now
    (scikit-learn, seconds), kept in the cache for next time in place of older ones."""
    key = data_key(files, cache_dir)
    if saved.exists():
        model = cls.load(saved)
        if model.key == key:
            return model
    cached = cache_dir / f"{name}-{key}.npz" if cache_dir else None
    if cached and cached.exists():
        return cls.load(cached)
    model = train(key)
    if cached:
        try:
            for old in cache_dir.glob(f"{name}-*.npz"):  # models of files since edited
                old.unlink()
            model.save(cached)
        except OSError:
            pass  # a read-only cache: train again next time
    return model
