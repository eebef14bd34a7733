"""The learned risk model: how likely a message is a crisis, an emergency or neither.

The phrase rules in corpus/safety.toml only know wordings someone wrote down; people in
crisis say it in ways nobody wrote down. This model learns from the labelled messages in
corpus/examples/ (see `chatbot.training`) and generalises to new wordings, typos, other
languages and emoji. It is trained once with scikit-learn and kept as plain arrays in
corpus/models/risk.npz, so answering needs only numpy: `ask` never imports scikit-learn.

The features are hashed: word unigrams and bigrams and the character 3-5-grams of each
word (which survive typos: "sucidal", "kil myslef"). `features()` is the one definition
of them, used both to train and to infer, so the two cannot drift apart.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatbot.core.corpus import CorpusError
from chatbot.core.examples import KINDS, example_files

CLASSES = KINDS
MODEL_FILE = Path("models") / "risk.npz"
FEATURE_VERSION = 1  # bump when features() changes: a saved model must be retrained
HASH_BITS = 24  # 16M buckets: distinct features almost never collide
CHAR_NGRAMS = (3, 5)
# A long message is also read sentence by sentence, so that one risky sentence inside a
# story about eczema is not diluted by the rest (the highest probability counts).
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+|\s+(?:but|and then|anyway|also)\s+")
MIN_SENTENCE_WORDS = 3

_TOKEN = re.compile(r"[^\W_]+|[\u2600-\u27bf\U0001f000-\U0001faff]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})


def tokens(text: str) -> list[str]:
    """Lower-case words without accents or apostrophes, and each emoji as a word of its own:
    "Ya no quiero despertar mañana 😔" -> ya no quiero despertar manana 😔."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES).lower()).replace("'", "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _TOKEN.findall(text)


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


def buckets(text: str) -> dict[int, int]:
    """The message's hashed features and their counts. crc32 is stable across processes,
    unlike Python's hash(), so a model trained once means the same thing everywhere."""
    mask = (1 << HASH_BITS) - 1
    counts: dict[int, int] = {}
    for f in features(text):
        b = zlib.crc32(f.encode("utf-8")) & mask
        counts[b] = counts.get(b, 0) + 1
    return counts


def sentences(text: str) -> list[str]:
    """The parts of a message long enough to be read on their own."""
    parts = [p for p in _SENTENCE.split(text) if p and len(p.split()) >= MIN_SENTENCE_WORDS]
    return parts if len(parts) > 1 else []


def data_key(paths: list[Path]) -> str:
    """What a trained model depends on: the example files' bytes and the feature version.
    A model whose key differs from its corpus's was trained on other examples."""
    h = hashlib.sha256(f"features-v{FEATURE_VERSION}-bits{HASH_BITS}".encode())
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Risk:
    """A message's probabilities, the highest of the whole message and of any sentence in it;
    `whole` is the message's own, read as one: a single sentence can raise a doubt, but only
    the message as a whole is sure enough to set its question aside."""
    crisis: float
    emergency: float
    whole: float = 0.0  # the higher of P(crisis) and P(emergency) of the whole message
    words: int = 0  # how many words the message has: a short one is little evidence

    @property
    def level(self) -> str:
        return "crisis" if self.crisis >= self.emergency else "emergency"

    @property
    def top(self) -> float:
        return max(self.crisis, self.emergency)


class RiskModel:
    """A multinomial logistic regression over sublinear TF-IDF of hashed features,
    evaluated with numpy exactly as scikit-learn would (tests compare the two)."""

    def __init__(self, vocab: np.ndarray, idf: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, key: str = ""):
        order = np.argsort(vocab)
        self.vocab = np.ascontiguousarray(vocab[order], dtype=np.int64)  # sorted bucket ids
        self.idf = np.ascontiguousarray(idf[order], dtype=np.float64)
        self.coef = np.ascontiguousarray(coef[:, order], dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.key = key
        self._slot = {int(b): i for i, b in enumerate(self.vocab)}

    # -- files ----------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(f, vocab=self.vocab.astype(np.int32), idf=self.idf.astype(np.float32),
                     coef=self.coef.astype(np.float32), intercept=self.intercept,
                     meta=np.array(json.dumps({"key": self.key, "classes": CLASSES})))

    @classmethod
    def load(cls, path: Path) -> "RiskModel":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if tuple(meta.get("classes", ())) != CLASSES:
                    raise CorpusError(path, 0, f"the model's classes are not {CLASSES}; "
                                               "run `chatbot train`")
                return cls(z["vocab"], z["idf"], z["coef"], z["intercept"], meta.get("key", ""))
        except FileNotFoundError:
            raise CorpusError(path, 0, "no trained risk model; run `chatbot train`") from None
        except (OSError, ValueError, KeyError) as exc:
            raise CorpusError(path, 0, f"not a risk model ({exc}); run `chatbot train`") from None

    # -- inference -------------------------------------------------------------

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The message's L2-normalised TF-IDF as (slots, weights) over the model's vocabulary."""
        slots, tf = [], []
        slot = self._slot
        for b, n in buckets(text).items():
            i = slot.get(b)
            if i is not None:
                slots.append(i)
                tf.append(1.0 + math.log(n))
        idx = np.array(slots, dtype=np.int64)
        w = np.array(tf) * self.idf[idx]
        norm = math.sqrt(float(w @ w))
        return idx, (w / norm if norm else w)

    def probabilities(self, text: str) -> np.ndarray:
        """P(none), P(crisis), P(emergency) for the whole text read as one message."""
        idx, w = self.vector(text)
        z = self.coef[:, idx] @ w + self.intercept
        z = np.exp(z - z.max())
        return z / z.sum()

    def assess(self, text: str) -> Risk:
        """The message's risk: the highest of the whole message and of each sentence in it."""
        whole = p = self.probabilities(text)
        for part in sentences(text):
            p = np.maximum(p, self.probabilities(part))
        return Risk(crisis=float(p[1]), emergency=float(p[2]), whole=float(max(whole[1], whole[2])),
                    words=len(tokens(text)))


def model_for(corpus_dir: Path, cache_dir: Path | None) -> RiskModel | None:
    """The risk model trained on this corpus's examples: the one saved with the corpus when
    its key matches, else one trained earlier for the same examples and kept in the cache,
    else one trained now (with scikit-learn, a few seconds; kept in the cache for next time).
    A corpus without examples has no model: its phrase rules alone judge risk."""
    files = example_files(corpus_dir)
    if not files:
        return None
    key = data_key(files)
    saved = corpus_dir / MODEL_FILE
    if saved.exists():
        model = RiskModel.load(saved)
        if model.key == key:
            return model
    cached = cache_dir / f"risk-{key}.npz" if cache_dir else None
    if cached and cached.exists():
        return RiskModel.load(cached)
    from chatbot.training import train  # scikit-learn: only when the examples changed
    from chatbot.core.examples import load_examples
    model = train(load_examples(corpus_dir), key)
    if cached:
        try:
            for old in cache_dir.glob("risk-*.npz"):  # models of examples since edited
                old.unlink()
            model.save(cached)
        except OSError:
            pass  # a read-only cache: train again next time
    return model
