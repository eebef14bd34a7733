"""Each labelled message's hashed features, kept between trainings.

The risk model reads some 47,000 texts (every labelled message and the sentences of the
ordinary ones), and hashing their features (classifier.buckets) is half of its training. A
message's features depend on its text and the feature version alone, so they are kept in the
cache folder, each under a digest of its text: after a clinic edits its examples only the new
messages are hashed. The texts are the clinic's own examples, never a patient's messages,
and the file holds numbers only (the digests, the features and their counts).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from chatbot.core.classifier import FEATURE_VERSION, HASH_BITS, buckets
from chatbot.core.files import write_whole

FEATURES_FILE = f"features-v{FEATURE_VERSION}-bits{HASH_BITS}.npz"


class Flat(NamedTuple):
    """Examples' features, concatenated: every example's buckets and their counts, and how
    many each example has (the form the TF-IDF matrix is built from)."""
    keys: np.ndarray  # int64
    counts: np.ndarray  # float64
    lengths: np.ndarray  # int64, one per example


def digest(text: str) -> int:
    """A text's 64-bit digest (blake2b): the key its features are kept under."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class KeptFeatures:
    """classifier.buckets of many texts as one Flat, from the features kept in `cache_dir`
    where it can be; `save` keeps the features of the texts asked for this time (and only
    those) for next time. Without a cache folder every text is hashed."""

    def __init__(self, cache_dir: Path | None):
        self.path = cache_dir / FEATURES_FILE if cache_dir else None
        self.digests = np.zeros(0, dtype=np.uint64)
        self.starts = np.zeros(1, dtype=np.int64)
        self.keys = np.zeros(0, dtype=np.uint32)
        self.counts = np.zeros(0, dtype=np.uint16)  # uint32 if a count needs it
        self._load()
        self.hashed = 0  # texts hashed afresh by the last call
        self._asked: Flat | None = None
        self._asked_digests: np.ndarray | None = None

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as f:
                digests, starts, keys, counts = f["digests"], f["starts"], f["keys"], f["counts"]
        except (OSError, ValueError, KeyError):
            return  # unreadable: hashed afresh, and replaced at the next save
        if len(starts) == len(digests) + 1 and starts[-1] == len(keys) == len(counts):
            self.digests, self.starts, self.keys, self.counts = digests, starts, keys, counts

    def flat(self, texts: list[str]) -> Flat:
        """The texts' buckets, in order, as a Flat."""
        index = dict(zip(self.digests.tolist(), range(len(self.digests))))
        wanted = [digest(t) for t in texts]
        words: dict[str, list[int]] = {}  # each word's n-grams hashed once for all the texts
        keys, counts, lengths = [], [], np.zeros(len(texts), dtype=np.int64)
        self.hashed = 0
        for n, (text, d) in enumerate(zip(texts, wanted)):
            i = index.get(d)
            if i is None:
                row = buckets(text, words)
                self.hashed += 1
                keys.append(np.fromiter(row.keys(), dtype=np.uint32, count=len(row)))
                counts.append(np.fromiter(row.values(), dtype=np.float64, count=len(row)))
            else:
                a, b = self.starts[i], self.starts[i + 1]
                keys.append(self.keys[a:b])
                counts.append(self.counts[a:b])
            lengths[n] = len(keys[-1])
        flat = Flat(np.concatenate(keys).astype(np.int64) if keys else np.zeros(0, np.int64),
                    np.concatenate(counts).astype(np.float64) if counts else np.zeros(0),
                    lengths)
        self._asked, self._asked_digests = flat, np.array(wanted, dtype=np.uint64)
        return flat

    def save(self) -> None:
        """Keeps the features of the texts of the last `flat` call in place of what was kept
        (nothing is written when they were all kept already, or without a cache folder)."""
        if self.path is None or self._asked is None:
            return
        digests, first = np.unique(self._asked_digests, return_index=True)
        if self.hashed == 0 and np.array_equal(digests, np.sort(self.digests)):
            return
        starts = np.concatenate([[0], np.cumsum(self._asked.lengths)])
        spans = [(starts[i], starts[i + 1]) for i in first]
        keys = np.concatenate([self._asked.keys[a:b] for a, b in spans]).astype(np.uint32)
        counts = np.concatenate([self._asked.counts[a:b] for a, b in spans])
        # a count fits in 16 bits unless one word fills a 64 kB message
        counts = counts.astype(np.uint16 if counts.max(initial=0) < 1 << 16 else np.uint32)
        lengths = np.array([b - a for a, b in spans], dtype=np.int64)
        try:
            write_whole(self.path, lambda f: np.savez(
                f, digests=digests, starts=np.concatenate([[0], np.cumsum(lengths)]),
                keys=keys, counts=counts))
        except OSError:
            pass  # a read-only cache: hashed again next time
