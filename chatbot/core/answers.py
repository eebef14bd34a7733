"""The learned answer model: which section of the article answers a question, if any.

Retrieval (BM25 and the lexicon) only finds words it knows; a patient's slang, shorthand or
story can sink a question the article does answer. This model learned from the labelled
questions in corpus/examples/*_questions.jsonl which section answers each one (or that the
article does not cover it, or that it is small talk), in patients' own words, and is asked
when retrieval would say "not covered". It is a chatbot.core.classifier.TextClassifier:
trained by `chatbot train`, kept as corpus/models/answers.npz, evaluated with numpy.

Examples are keyed by passage: an answerable example names the Q&A passage (the article's
section) that answers it, `"section": "<article>/<section-slug>"`, the same id as the
article page's anchor (/article/<article>#<section-slug>). A clinic editing an example sees
which passage it teaches; a section renamed or removed makes `chatbot check` and training
stop with the file and line of every example that still names it.

A section's answer may run to several passages (paragraphs, or a list per medicine), and
which of them a question wants is what the words it expects in the reply (`expect.any`)
say: the passages holding one of them. The same model, over the same features, also learned
P(passage | question) from those (`passage_probabilities`), so that "does azathioprine hurt
the liver" gets azathioprine's list rather than the section's first passage.
"""
from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import numpy as np

from chatbot.core.classifier import TextClassifier, saved_or_trained
from chatbot.core.corpus import CorpusError, lead_ins, load_corpus, reply_text, slugify
from chatbot.core.examples import EXAMPLES_DIR, Example, read_jsonl
from chatbot.core.ranker import FEATURES, FOLLOW_UP_FEATURES

ANSWER_MODEL_FILE = Path("models") / "answers.npz"
NOT_COVERED, SMALLTALK = "no_answer", "smalltalk"


class AnswerModel(TextClassifier):
    """P(section id | question) for every section, "no_answer" and "smalltalk"; with the
    ranker's weights (chatbot.core.ranker) when it was trained with them."""

    @property
    def ranker(self) -> list[float] | None:
        """The ranker's weights (ranker.FEATURES, then the intercept); None without one, or
        one trained on other features (by older code: `chatbot train` makes a new one)."""
        return _weights(self.extra.get("ranker"), FEATURES)

    @cached_property
    def smalltalk_words(self) -> frozenset[str] | None:
        """The words of the small-talk examples ("sup", "gn", "thx": chat words no dictionary
        has), kept with the model by training; None for a model trained without them
        (dialogue.Bot._has_words then takes every message to have words)."""
        kept = self.extra.get("smalltalk_words")
        return frozenset(kept) if kept is not None else None

    @property
    def follow_ranker(self) -> list[float] | None:
        """The ranker of follow-ups (questions read with the conversation before them)."""
        return _weights(self.extra.get("follow_ranker"), FOLLOW_UP_FEATURES)

    def passage_probabilities(self, text: str, among: list[str],
                              counts: dict[int, int] | None = None) -> list[float] | None:
        """P(passage | the question, one of `among`) for each passage id in `among`, from the
        passage model trained with this one (same features); None when it knows none of
        them (a model without one, or passages no example taught)."""
        known = self.extra.get("passages") or []
        rows = [known.index(p) if p in known else -1 for p in among]
        if "passage_coef" not in self.arrays or all(r < 0 for r in rows):
            return None
        idx, w = self.vector(text, counts)
        z = self.arrays["passage_coef"][:, idx] @ w + self.arrays["passage_intercept"]
        e = np.exp(z - z.max())
        p = np.array([e[r] if r >= 0 else 0.0 for r in rows])
        return [float(v) for v in p / p.sum()]


def _weights(weights: list[float] | None, features: tuple[str, ...]) -> list[float] | None:
    """A ranker's weights when they fit these features (one each and an intercept)."""
    return weights if weights and len(weights) == len(features) + 1 else None


def answer_files(corpus_dir: Path) -> list[Path]:
    """What the answer model depends on: the labelled questions and the articles."""
    return sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl")) \
        + sorted(corpus_dir.glob("*.md"))


def section_id(section: str) -> str:
    """A section's stable id: its question, slugified (the article page's anchor too)."""
    return slugify(section)


def answer_examples(corpus_dir: Path, follow_ups: bool = False) -> list[Example]:
    """Single-turn labelled questions with the id of the section that answers them, or
    no_answer / smalltalk; with `follow_ups`, also the last turns of conversations, each with
    its earlier turns (Example.before), which teach the follow-up ranker. Raises CorpusError
    for an example naming an unknown section."""
    documents = load_corpus(corpus_dir)
    known = {f"{slugify(d.path.stem)}/{section_id(s)}": section_id(s)
             for d in documents for s in d.sections}
    replies = _replies(documents)
    out: list[Example] = []
    for path in sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl")):
        for n, row in read_jsonl(path):
            label = _label(row, known, path, n)
            turns = row.get("turns") or []
            if not label or not turns or not all(isinstance(t, str) for t in turns):
                continue
            if len(turns) == 1 or follow_ups:
                out.append(Example(turns[-1], label, str(row.get("author", "")),
                                   f"{path.name}:{n}", tuple(turns[:-1]),
                                   _passages(row, replies.get(row.get("section"), []))))
    return out


def phrase_form(text: str) -> str:
    """Text as an expected phrase is compared with a reply (the shared scorer's rule,
    chat_eval.py's norm): lower case, curly quotes made straight, white space folded."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text.lower()).strip()


def _replies(documents) -> dict[str, list[tuple[str, str]]]:
    """Per section (as examples name it), each passage's id and the text of its reply (with
    the paragraph a lead-in is answered with), flattened."""
    out: dict[str, list[tuple[str, str]]] = {}
    for d in documents:
        follow = lead_ins(d.passages)
        for p in d.passages:
            out.setdefault(f"{slugify(d.path.stem)}/{section_id(p.section)}", []).append(
                (p.id, phrase_form(reply_text(p, follow))))
    return out


def _passages(row: dict, passages: list[tuple[str, str]]) -> tuple[str, ...]:
    """The passages of an answerable example's section that hold a phrase it expects: which
    of them it teaches. None where that is no choice (every passage, or none, holds one)."""
    phrases = [phrase_form(a) for a in (row.get("expect") or {}).get("any") or [] if isinstance(a, str)]
    hold = tuple(pid for pid, text in passages if any(a and a in text for a in phrases))
    return hold if len(hold) < len(passages) else ()


def _label(row: dict, known: dict[str, str], path: Path, n: int) -> str | None:
    """What an example teaches: its section's id, no_answer, smalltalk, or nothing (an
    answerable example without a `section`, kept for scoring only)."""
    kind = (row.get("expect") or {}).get("kind")
    if kind in (NOT_COVERED, SMALLTALK):
        return kind
    section = row.get("section")
    if section is None or kind != "answer":
        return None
    if section not in known:
        close = ", ".join(sorted(k for k in known if k.split("/")[0] == str(section).split("/")[0]))
        raise CorpusError(path, n, f'"section" {section!r} is not a section of any article; '
                                   f"the sections are: {close or ', '.join(sorted(known))}")
    return known[section]


def answer_model_for(corpus_dir: Path, cache_dir: Path | None, view=None) -> AnswerModel | None:
    """The answer model for this corpus (see classifier.saved_or_trained); None without
    labelled questions: retrieval alone answers."""
    files = answer_files(corpus_dir)
    if not any(f.suffix == ".jsonl" for f in files):
        return None

    def train(key: str) -> AnswerModel:
        from chatbot.training import train_answers  # scikit-learn: only when the files changed
        return train_answers(answer_examples(corpus_dir, follow_ups=True), key, view)

    return saved_or_trained(AnswerModel, corpus_dir / ANSWER_MODEL_FILE, files, cache_dir,
                            "answers", train)
