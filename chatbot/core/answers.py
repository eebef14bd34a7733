"""The learned answer model: which section of the article answers a question, if any.

Retrieval (BM25 and the lexicon) only finds words it knows; a patient's slang, shorthand or
story can sink a question the article does answer. This model learned from the labelled
questions in corpus/examples/*_questions.jsonl which section answers each one (or that the
article does not cover it, or that it is small talk), in patients' own words, and is asked
when retrieval would say "not covered". It is a chatbot.core.classifier.TextClassifier:
trained by `chatbot train`, kept as corpus/models/answers.npz, evaluated with numpy.

A question's section is found from the phrases its example expects in the answer: the
section whose passages hold them. So examples stay keyed by what the article says, and a
section renamed or moved is followed; an example whose phrases are in no section, or in
several, teaches nothing (`chatbot check` lists them).
"""
from __future__ import annotations

from pathlib import Path

from chatbot.core.classifier import TextClassifier, saved_or_trained
from chatbot.core.corpus import load_corpus, slugify
from chatbot.core.examples import EXAMPLES_DIR, Example, read_jsonl

ANSWER_MODEL_FILE = Path("models") / "answers.npz"
NOT_COVERED, SMALLTALK = "no_answer", "smalltalk"


class AnswerModel(TextClassifier):
    """P(section id | question) for every section, "no_answer" and "smalltalk"."""


def answer_files(corpus_dir: Path) -> list[Path]:
    """What the answer model depends on: the labelled questions and the articles."""
    return sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl")) \
        + sorted(corpus_dir.glob("*.md"))


def section_id(section: str) -> str:
    """A section's stable id: its question, slugified (the article page's anchor too)."""
    return slugify(section)


def answer_examples(corpus_dir: Path) -> list[Example]:
    """Single-turn labelled questions with the id of the section that answers them."""
    texts = [(p.section, " ".join(p.text.lower().split()))
             for d in load_corpus(corpus_dir) for p in d.passages]
    out: list[Example] = []
    for path in sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl")):
        for n, row in read_jsonl(path):
            label = _label(row, texts)
            turns = row.get("turns") or []
            if label and len(turns) == 1 and isinstance(turns[0], str):
                out.append(Example(turns[0], label, str(row.get("author", "")), f"{path.name}:{n}"))
    return out


def _label(row: dict, texts: list[tuple[str, str]]) -> str | None:
    expect = row.get("expect") or {}
    kind = expect.get("kind")
    if kind in (NOT_COVERED, SMALLTALK):
        return kind
    if kind != "answer":
        return None
    phrases = [" ".join(str(a).lower().split()) for a in expect.get("any", [])]
    sections = {s for s, t in texts if any(p in t for p in phrases)}
    return section_id(sections.pop()) if len(sections) == 1 else None


def answer_model_for(corpus_dir: Path, cache_dir: Path | None) -> AnswerModel | None:
    """The answer model for this corpus (see classifier.saved_or_trained); None without
    labelled questions: retrieval alone answers."""
    files = answer_files(corpus_dir)
    if not any(f.suffix == ".jsonl" for f in files):
        return None

    def train(key: str) -> AnswerModel:
        from chatbot.training import train_answers  # scikit-learn: only when the files changed
        return train_answers(answer_examples(corpus_dir), key)

    return saved_or_trained(AnswerModel, corpus_dir / ANSWER_MODEL_FILE, files, cache_dir,
                            "answers", train)
