"""Training and cross-validating the risk model from the corpus's labelled examples.

This is the only module that imports scikit-learn, and only `chatbot train`, `chatbot
check`, the benchmarks and the tests load it: the fitted model is saved as arrays
(chatbot.core.risk) and answering needs numpy alone.

The examples are read by chatbot.core.examples; each names its author, so a score can
always be measured on authors the model did not learn from (leave one author out).
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from chatbot.core.corpus import CorpusError
from chatbot.core.answers import ANSWER_MODEL_FILE, AnswerModel, answer_examples, answer_files
from chatbot.core.examples import EXAMPLES_DIR, Example, example_files, load_examples
from chatbot.core.classifier import buckets, data_key
from chatbot.core.risk import CLASSES, MODEL_FILE, Risk, RiskModel

# Tuning of the fit, in one place. MIN_DF drops features seen in a single example (a
# typo nobody else makes), which keeps the model small without losing recall.
MIN_DF = 2
C = 4.0
CLASS_WEIGHT = {"none": 1.0, "crisis": 2.0, "emergency": 2.0}
MAX_ITER = 3000
ANSWER_C = 10.0  # the answer model: many classes, fewer examples each
RANKER_C = 1.0  # the ranker: fourteen features, thousands of candidates
RANKER_FOLDS = 6  # the ranker learns from answer-model probabilities of unseen authors


# -- fitting ------------------------------------------------------------------

def _matrix(rows: list[dict[int, int]], vocab: np.ndarray):
    """Counts of each example's buckets over `vocab` (sorted), as a sparse matrix."""
    from scipy.sparse import csr_matrix
    slot = {int(b): i for i, b in enumerate(vocab)}
    data, cols, ptr = [], [], [0]
    for counts in rows:
        for b, c in counts.items():
            i = slot.get(b)
            if i is not None:
                cols.append(i)
                data.append(c)
        ptr.append(len(cols))
    return csr_matrix((np.array(data, dtype=np.float64), np.array(cols, dtype=np.int64),
                       np.array(ptr)), shape=(len(rows), len(vocab)))


def fit_pipeline(rows: list[dict[int, int]], labels: list[str], c: float = C,
                 class_weight: dict[str, float] | None = None):
    """The vocabulary and the fitted scikit-learn steps (TF-IDF, logistic regression) for
    examples given as their hashed feature counts (`classifier.buckets`)."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    df = Counter(b for r in rows for b in r)
    vocab = np.array(sorted(b for b, n in df.items() if n >= MIN_DF), dtype=np.int64)
    tfidf = TfidfTransformer(sublinear_tf=True)
    x = tfidf.fit_transform(_matrix(rows, vocab))
    clf = LogisticRegression(C=c, max_iter=MAX_ITER, class_weight=class_weight)
    clf.fit(x, np.array(labels))
    return vocab, tfidf, clf


def to_model(vocab: np.ndarray, tfidf, clf, key: str = "", model=RiskModel,
             classes: tuple[str, ...] = CLASSES):
    """The fitted steps as the numpy model, its classes in `classes` order."""
    order = [list(clf.classes_).index(c) for c in classes]
    return model(vocab, tfidf.idf_, clf.coef_[order], clf.intercept_[order], key, classes)


def train(examples: list[Example], key: str = "") -> RiskModel:
    """A risk model fitted on `examples`."""
    kinds = {e.kind for e in examples}
    if set(CLASSES) - kinds:
        raise CorpusError(Path(EXAMPLES_DIR), 0, f"no examples of {sorted(set(CLASSES) - kinds)}")
    return to_model(*fit_pipeline([buckets(e.text) for e in examples], [e.kind for e in examples],
                                  C, CLASS_WEIGHT), key)


def train_answers(examples: list[Example], key: str = "", view=None, jobs: int = 2) -> AnswerModel:
    """An answer model fitted on `examples` (their kind: a section's id, no_answer or
    smalltalk), and with `view` (Bot.question_view: what retrieval makes of a question) the
    ranker that weighs it against retrieval (chatbot.core.ranker)."""
    model = _fit_answers(examples, key)
    if view is not None:
        weights = train_ranker(examples, view, jobs)
        if weights is not None:
            model.extra["ranker"] = weights
    return model


def _fit_answers(examples: list[Example], key: str = "") -> AnswerModel:
    labels = [e.kind for e in examples]
    classes = tuple(sorted(set(labels)))
    return to_model(*fit_pipeline([buckets(e.text) for e in examples], labels, ANSWER_C),
                    key, AnswerModel, classes)


def train_ranker(examples: list[Example], view, jobs: int = 2) -> list[float] | None:
    """The ranker's weights (coefficients, then the intercept), or None with too little to
    learn from. Each question's candidates are described with the probabilities of an answer
    model that never saw its author (RANKER_FOLDS folds of authors), as a question from a new
    patient will be; a candidate is right when it is the question's own section, and a
    question the article does not cover has no right candidate."""
    from joblib import Parallel, delayed  # comes with scikit-learn
    from sklearn.linear_model import LogisticRegression

    from chatbot.core.ranker import candidates
    authors = sorted({e.author for e in examples})
    fold_of = {a: i % RANKER_FOLDS for i, a in enumerate(authors)}
    groups = sorted(set(fold_of.values()))
    if len(groups) < 2:
        return None
    models = Parallel(n_jobs=jobs)(delayed(_fit_answers)(
        [e for e in examples if fold_of[e.author] != g]) for g in groups)
    x, y = [], []
    for g, model in zip(groups, models):
        for e in examples:
            if fold_of[e.author] != g or e.kind == "smalltalk":
                continue
            probs = dict(zip(model.classes, map(float, model.probabilities(e.text))))
            for section, features in candidates(probs, *view(e.text)):
                x.append(features)
                y.append(int(section == e.kind))
    if len(set(y)) < 2:
        return None
    clf = LogisticRegression(C=RANKER_C, max_iter=MAX_ITER).fit(np.array(x), np.array(y))
    return [float(w) for w in clf.coef_[0]] + [float(clf.intercept_[0])]


def train_corpus(corpus_dir: Path, out: Path | None = None) -> tuple[RiskModel, float]:
    """Fits the corpus's risk model and saves it (default corpus/models/risk.npz); returns
    it and the seconds the fit took."""
    started = time.perf_counter()
    model = train(load_examples(corpus_dir), data_key(example_files(corpus_dir)))
    model.save(out or corpus_dir / MODEL_FILE)
    return model, time.perf_counter() - started


def train_corpus_answers(corpus_dir: Path, out: Path | None = None,
                         view=None) -> tuple[AnswerModel, float]:
    """Fits the corpus's answer model (and with `view`, Bot.question_view, its ranker) and
    saves it (default corpus/models/answers.npz)."""
    started = time.perf_counter()
    model = train_answers(answer_examples(corpus_dir), data_key(answer_files(corpus_dir)), view)
    model.save(out or corpus_dir / ANSWER_MODEL_FILE)
    return model, time.perf_counter() - started


def leave_one_author_out(examples: list[Example], jobs: int = 2,
                         folds: int | None = None) -> list[tuple[Example, Risk]]:
    """Each example with the Risk that a model trained without its author gives it: the
    figure that says how the model treats people whose wording it has never seen. `folds`
    groups the authors into that many folds (faster, and stricter: less to learn from)."""
    from joblib import Parallel, delayed  # comes with scikit-learn

    rows = [buckets(e.text) for e in examples]
    authors = sorted({e.author for e in examples})
    fold_of = {a: (i % folds if folds else i) for i, a in enumerate(authors)}
    groups = sorted(set(fold_of.values()))
    done = Parallel(n_jobs=jobs)(delayed(_fold)(examples, rows, fold_of, g) for g in groups)
    return [pair for fold in done for pair in fold]


def _fold(examples: list[Example], rows: list[dict[int, int]], fold_of: dict, held: int):
    """Trains without the held-out fold's authors and judges their messages."""
    train_at = [i for i, e in enumerate(examples) if fold_of[e.author] != held]
    model = to_model(*fit_pipeline([rows[i] for i in train_at], [examples[i].kind for i in train_at],
                                   C, CLASS_WEIGHT))
    return [(e, model.assess(e.text)) for e in examples if fold_of[e.author] == held]
