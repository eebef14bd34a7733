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
stop with the file and line of every example that still names it. The words an example
expects in the reply (`expect.any`) are for scoring replies, not for labels.
"""
from __future__ import annotations

from pathlib import Path

from chatbot.core.classifier import TextClassifier, saved_or_trained
from chatbot.core.corpus import CorpusError, load_corpus, slugify
from chatbot.core.examples import EXAMPLES_DIR, Example, read_jsonl

ANSWER_MODEL_FILE = Path("models") / "answers.npz"
NOT_COVERED, SMALLTALK = "no_answer", "smalltalk"


class AnswerModel(TextClassifier):
    """P(section id | question) for every section, "no_answer" and "smalltalk"; with the
    ranker's weights (chatbot.core.ranker) when it was trained with them."""

    @property
    def ranker(self) -> list[float] | None:
        return self.extra.get("ranker")

    @property
    def follow_ranker(self) -> list[float] | None:
        """The ranker of follow-ups (questions read with the conversation before them)."""
        return self.extra.get("follow_ranker")


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
    known = {f"{slugify(d.path.stem)}/{section_id(s)}": section_id(s)
             for d in load_corpus(corpus_dir) for s in d.sections}
    out: list[Example] = []
    for path in sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl")):
        for n, row in read_jsonl(path):
            label = _label(row, known, path, n)
            turns = row.get("turns") or []
            if not label or not turns or not all(isinstance(t, str) for t in turns):
                continue
            if len(turns) == 1 or follow_ups:
                out.append(Example(turns[-1], label, str(row.get("author", "")),
                                   f"{path.name}:{n}", tuple(turns[:-1])))
    return out


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
