"""The learned risk model: how likely a message is a crisis, an emergency or neither.

The phrase rules in corpus/safety.toml only know wordings someone wrote down; people in
crisis say it in ways nobody wrote down. This model learns from the labelled messages in
corpus/examples/ (see `chatbot.training`) and generalises to new wordings, typos, other
languages and emoji. It is trained once with scikit-learn and kept as plain arrays in
corpus/models/risk.npz, so answering needs only numpy: `ask` never imports scikit-learn.

The model is a chatbot.core.classifier.TextClassifier with the classes none, crisis and
emergency; it also reads a long message sentence by sentence.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatbot.core.classifier import TextClassifier, saved_or_trained, sentences, tokens
from chatbot.core.examples import KINDS, example_files

CLASSES = KINDS
MODEL_FILE = Path("models") / "risk.npz"


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


class RiskModel(TextClassifier):
    """P(none), P(crisis), P(emergency) of a message."""
    classes = CLASSES

    def assess(self, text: str, counts: dict[int, int] | None = None) -> Risk:
        """The message's risk: the highest of the whole message and of each sentence in it
        (`counts`: the whole message's buckets, if already computed)."""
        whole = p = self.probabilities(text, counts)
        for part in sentences(text):
            p = np.maximum(p, self.probabilities(part))
        return Risk(crisis=float(p[1]), emergency=float(p[2]), whole=float(max(whole[1], whole[2])),
                    words=len(tokens(text)))


def model_for(corpus_dir: Path, cache_dir: Path | None) -> RiskModel | None:
    """The risk model trained on this corpus's examples (see classifier.saved_or_trained).
    A corpus without examples has no model: its phrase rules alone judge risk."""
    files = example_files(corpus_dir)
    if not files:
        return None

    def train(key: str) -> RiskModel:
        # scikit-learn: only when the examples changed; the fit starts from the model saved
        # before they did
        from chatbot.training import saved_risk_model, train
        from chatbot.core.examples import load_examples
        return train(load_examples(corpus_dir), key,
                     start=saved_risk_model(corpus_dir / MODEL_FILE))

    return saved_or_trained(RiskModel, corpus_dir / MODEL_FILE, files, cache_dir, "risk", train)
