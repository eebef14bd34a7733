"""Training and cross-validating the risk and answer models from the corpus's labelled examples.

This is the only module that imports scikit-learn, and only `chatbot train`, `chatbot
check`, the benchmarks and the tests load it: the fitted model is saved as arrays
(chatbot.core.risk) and answering needs numpy alone.

The examples are read by chatbot.core.examples; each names its author, so a score can
always be measured on authors the model did not learn from (leave one author out).
"""
from __future__ import annotations

import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from itertools import chain
from pathlib import Path

import numpy as np

from chatbot.core.corpus import CorpusError
from chatbot.core.answers import ANSWER_MODEL_FILE, AnswerModel, answer_examples, answer_files
from chatbot.core.examples import (EXAMPLES_DIR, Example, author_folds, example_files,
                                   load_examples)
from chatbot import newton
from chatbot.core.classifier import FEATURE_VERSION, HASH_BITS, buckets, data_key, sentences
from chatbot.core.risk import CLASSES, MODEL_FILE, Risk, RiskModel
from chatbot.core.text import words
from chatbot.kept_features import Flat, KeptFeatures

# Tuning of the fit, in one place. MIN_DF drops features seen in a single example (a
# typo nobody else makes), which keeps the model small without losing recall.
MIN_DF = 2
# The risk model's inverse regularisation. 8 since the twenty-eighth session (4 before): with
# a hundred thousand examples the model can afford sharper weights, and at equal recall it
# gives fewer notices in every group. Six author folds, the same corpus side by side (388
# authors, 105,049 messages), at C 4 and the notice bar 0.09 against C 8 and 0.065 (where it
# gives as many notices): crises shown 97.80% -> 98.15%, emergencies 99.29% -> 99.39%,
# look-alikes and everyday text given a notice 21.43% -> 21.47%, medicine questions 2.38% ->
# 2.32%; derailed 0.15% -> 0.18% and 0.01% either way (safety.NOTICE_AT).
C = 8.0
CLASS_WEIGHT = {"none": 1.0, "crisis": 2.0, "emergency": 2.0}
MAX_ITER = 3000
# Solvers, each the fastest to the same optimum (L-BFGS took 50-60 steps on both): Newton's
# method takes 5 on the risk model's 80,000 features; the answer model, fitted once more per
# training for each of the ranker's folds (RANKER_FOLDS; its passage model with the same
# solver and tolerance once more), is fastest by stochastic average gradient: stopped at
# 3e-3 (28 epochs; 1e-3 took 44 and 1.7 times as long), its probabilities are within 0.02 of
# the exact optimum's (99% within 0.0015) and no question's favourite section differs; out
# of fold (6 author folds, 43 authors, 2026-12-02) the engine's answers were the same.
# Loosened to 1e-2 as the data grew (66 authors, 2026-12-02): the answer side of `chatbot
# train` took 6.2-6.6 s instead of 8.1-8.6 s, and out of fold right / wrong / refused went
# from 80.1 / 6.4 / 13.5 to 80.2 / 6.4 / 13.5 (not covered refused 95.3% -> 95.4%). Loosened
# to 3e-2 (81 authors, 2026-12-02): `chatbot train` with nothing kept 0.6 s faster (the
# fits are a third of its CPU time), and out of fold right / wrong / refused 82.3 / 5.7 / 12.0
# either way (82.35 -> 82.28 right), not covered refused 93.3% -> 93.5%, small talk unchanged.
# Loosened to 6e-2 (119 authors, fourteenth session): `chatbot train` after an edit to the
# examples 10.8 s -> 9.5 s (bench/training_time.py --quick), and out of fold (6 author folds,
# 10,620 answerable) right / wrong 9,416 / 399 -> 9,419 / 395, not covered refused 2,647 ->
# 2,646 of 2,783, small talk 1,541 of 1,623 either way
# (Since the thirty-first session the risk model is fitted by chatbot.newton, which reaches
# the same optimum in a little over half the time and can start from the saved model; SOLVER
# and TOL remain fit_pipeline's defaults: the scikit-learn fit the tests compare it with.)
SOLVER = "newton-cg"
# scikit-learn's fit (the risk model's until the thirty-first session) stops where the largest
# component of its gradient (a mean over every row) falls below TOL. At 1e-4 the whole corpus
# took 8 Newton steps and every message was within 0.03 of the optimum, but a corpus a seventh
# its size (a clinic's, or the test's) stopped after 5, 0.055 off the optimum on the examples
# just added; at 5e-5 the corpus still takes 8 steps, and the smaller one 6, 0.01 off
# (twentieth session; 2e-5 costs the corpus a ninth step)
TOL = 5e-5
ANSWER_SOLVER, ANSWER_TOL = "sag", 6e-2
ANSWER_C = 10.0  # the answer model: many classes, fewer examples each
# The answer fits read their TF-IDF matrix in single precision: stochastic average
# gradient moves through it a row at a time, a fifth faster (the weights are kept as
# float32 anyway)
ANSWER_DTYPE = np.float32
RANKER_C = 1.0  # the ranker: fifteen features, thousands of candidates
# The ranker learns from answer-model probabilities of unseen authors, each fold's model
# trained without its authors. Three folds scored as six did at half the fits; two (each
# model on half the authors: half the fold fits' work again) scored as three (6 author
# folds, 134 authors, sixteenth session: right / wrong 10,843 / 414 -> 10,857 / 417 of
# 12,084; not covered refused 3,040 -> 3,038 of 3,187; small talk equal)
RANKER_FOLDS = 2
# The ranker's fold models (whose probabilities only teach the ranker) and the passage model
# (which chooses among one section's passages) stop sooner than the answer model itself: with
# 66,000 risk messages beside them, `chatbot train` after an edit took 10-11.5 s; at 0.1 it
# took 8.41 s against 9.89 s (5 alternating runs, seventeenth session), and out of fold (6
# author folds, 138 authors, 12,490 answerable) right / wrong 11,259 / 425 -> 11,254 / 420,
# not covered refused 3,138 -> 3,136 of 3,281, small talk equal. (The answer model itself at
# 0.1 too: wrong 425 -> 428, not covered 3,138 -> 3,133.)
FOLD_TOL = 0.1


# What the risk model's features were when it was fitted: a fit starts from a saved model
# only when it read the same ones.
FEATURES = f"v{FEATURE_VERSION}-bits{HASH_BITS}"


# -- fitting ------------------------------------------------------------------

def rows_of(texts) -> list[dict[int, int]]:
    """classifier.buckets of each text, each word's n-grams hashed once for all of them
    (the examples share most of their words: half the time of reading them)."""
    words: dict[str, list[int]] = {}
    return [buckets(text, words) for text in texts]


def _matrix(rows: list[dict[int, int]] | None, vocab: np.ndarray, flat: Flat | None = None):
    """Counts of each example's buckets over `vocab` (sorted), as a sparse matrix (`flat`:
    _flat(rows), when computed already). Each bucket finds its column in a table over every
    bucket (64 MB while it is built): a binary search of the vocabulary for each of millions
    of buckets took most of a second of every fit."""
    from scipy.sparse import csr_matrix
    keys, counts, lengths = flat or _flat(rows)
    n = len(lengths)
    column = np.full(1 << HASH_BITS, -1, dtype=np.int32)
    column[vocab] = np.arange(len(vocab), dtype=np.int32)
    cols = column[keys]
    del column
    kept = cols >= 0
    row_of = np.repeat(np.arange(n), lengths)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(row_of[kept], minlength=n))])
    return csr_matrix((counts[kept], cols[kept], ptr), shape=(n, len(vocab)))


def _part(flat: Flat, rows: list[int]) -> Flat:
    """Some of the examples of a Flat (`rows`: their positions, ascending), as a Flat: a
    fold's examples without flattening their buckets again."""
    chosen = np.zeros(len(flat.lengths), dtype=bool)
    chosen[rows] = True
    keep = np.repeat(chosen, flat.lengths)
    return Flat(flat.keys[keep], flat.counts[keep], flat.lengths[chosen])


def _flat(rows: list[dict[int, int]]) -> Flat:
    """Every example's buckets and counts, concatenated, and how many each example has:
    numpy does the rest of building the matrix (a Python loop over 2.5 million buckets took
    two seconds of every training)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    total = int(lengths.sum())
    keys = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=total)
    counts = np.fromiter(chain.from_iterable(r.values() for r in rows), dtype=np.float64,
                         count=total)
    return Flat(keys, counts, lengths)


def vocabulary(keys: np.ndarray) -> np.ndarray:
    """The buckets seen in at least MIN_DF examples, sorted (`keys`: every example's
    buckets, each once per example, as _flat gives them): counted over every bucket at
    once, which is twice as fast as sorting millions of keys."""
    return np.flatnonzero(np.bincount(keys, minlength=1 << HASH_BITS) >= MIN_DF)


def batch_probabilities(model, rows: list[dict[int, int]]) -> np.ndarray:
    """TextClassifier.probabilities of many examples given as their buckets, at once: the
    same sublinear TF-IDF, L2 norm and softmax as a matrix product (the ranker reads every
    labelled question with the model that did not see its author)."""
    from scipy.sparse import diags
    x = _matrix(rows, model.vocab).tocsr()
    x.data = 1.0 + np.log(x.data)
    x = x @ diags(model.idf.astype(np.float64))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x
    return newton.softmax(np.asarray(x @ model.coef.T.astype(np.float64)) + model.intercept)


def fit_pipeline(rows: list[dict[int, int]] | Flat, labels: list[str], c: float = C,
                 class_weight: dict[str, float] | None = None, solver: str = SOLVER,
                 tol: float = TOL, dtype=np.float64):
    """The vocabulary and the fitted scikit-learn steps (TF-IDF, logistic regression) for
    examples given as their hashed feature counts (`classifier.buckets`); `dtype`: the
    precision of the matrix the fit reads."""
    vocab, tfidf, x = tfidf_features(rows, dtype)
    return vocab, tfidf, fit_logistic(x, labels, c, class_weight, solver, tol)


def tfidf_features(rows: list[dict[int, int]] | Flat, dtype=np.float64):
    """The vocabulary (buckets seen in MIN_DF examples), the fitted TF-IDF step and the
    examples' TF-IDF matrix (of `dtype`), for examples given as their buckets (or all at
    once, a Flat)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    flat = rows if isinstance(rows, Flat) else _flat(rows)
    vocab = vocabulary(flat.keys)
    tfidf = TfidfTransformer(sublinear_tf=True)
    return vocab, tfidf, tfidf.fit_transform(_matrix(None, vocab, flat)).astype(dtype, copy=False)


def fit_logistic(x, labels: list[str], c: float = C,
                 class_weight: dict[str, float] | None = None, solver: str = SOLVER,
                 tol: float = TOL):
    """The logistic regression of fit_pipeline over features `x`, always fitted from zero:
    a fit started from the model saved before stopped at this tolerance before it had
    learned the examples that model missed, which are the ones a clinic adds (the gradient
    it stops on is a mean over every example; bench/NOTES.md, eighteenth session)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, solver=solver, tol=tol, max_iter=MAX_ITER,
                             class_weight=class_weight, random_state=0)
    clf.fit(x, np.array(labels))
    return clf


def to_model(vocab: np.ndarray, tfidf, clf, key: str = "", model=RiskModel,
             classes: tuple[str, ...] = CLASSES):
    """The fitted steps as the numpy model, its classes in `classes` order."""
    order = [list(clf.classes_).index(c) for c in classes]
    return model(vocab, tfidf.idf_, clf.coef_[order], clf.intercept_[order], key, classes)


def with_sentences(examples: list[Example]) -> list[Example]:
    """The examples and, as "none" examples too, each sentence of an ordinary message that
    RiskModel.assess would read on its own: the model judges a long message sentence by
    sentence, so it must have seen the sentences of ordinary ones ("I do hope this isn't a
    bother.") or a polite story gets a crisis notice. A sentence of a crisis is not labelled:
    most of its sentences alone are no crisis."""
    extra = [Example(part, "none", e.author, e.where) for e in examples if e.kind == "none"
             for part in sentences(e.text)]
    return examples + extra


def train(examples: list[Example], key: str = "", features: KeptFeatures | None = None,
          start: RiskModel | None = None) -> RiskModel:
    """A risk model fitted on `examples` (and their ordinary sentences, with_sentences).
    `features`: the examples' features kept from the last training (KeptFeatures), so only
    new examples are hashed; `start`: the model saved at the last training, whose weights
    the fit starts from (fit_risk)."""
    kinds = {e.kind for e in examples}
    if set(CLASSES) - kinds:
        raise CorpusError(Path(EXAMPLES_DIR), 0, f"no examples of {sorted(set(CLASSES) - kinds)}")
    examples = with_sentences(examples)
    rows = (features or KeptFeatures(None)).flat([e.text for e in examples])
    return fit_risk(rows, [e.kind for e in examples], key, start)


def fit_risk(rows: list[dict[int, int]] | Flat, labels: list[str], key: str = "",
             start: RiskModel | None = None, threads: int = newton.THREADS) -> RiskModel:
    """The risk model for examples given as their buckets (or a Flat) and kinds: the TF-IDF
    step by scikit-learn, the logistic regression by chatbot.newton (the optimum of
    scikit-learn's, in a little over half its time from zero), started from `start`'s weights
    for the features it knew when it was fitted on the same features: after an edit of a few
    examples the fit is then one or two Newton steps, not a dozen."""
    vocab, tfidf, x = tfidf_features(rows)
    y = np.array([CLASSES.index(k) for k in labels])
    weights = np.array([CLASS_WEIGHT[k] for k in labels])
    fitted = newton.fit(x, y, weights, C, len(CLASSES), _start(start, vocab), threads=threads)
    model = RiskModel(vocab, tfidf.idf_, fitted.coef, fitted.intercept, key)
    model.extra["features"] = FEATURES
    return model


def _start(model: RiskModel | None, vocab: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """`model`'s weights over `vocab` (zero for features it never saw), or None when there is
    no model or it read other features (FEATURE_VERSION, HASH_BITS)."""
    if model is None or model.extra.get("features") != FEATURES or model.classes != CLASSES:
        return None
    coef = np.zeros((len(CLASSES), len(vocab)))
    at = np.minimum(np.searchsorted(vocab, model.vocab), len(vocab) - 1)
    known = vocab[at] == model.vocab
    coef[:, at[known]] = model.coef[:, known]
    return coef, model.intercept


def saved_risk_model(path: Path) -> RiskModel | None:
    """The risk model saved at `path`, a fit's start; None when there is none to read."""
    try:
        return RiskModel.load(path)
    except CorpusError:
        return None


def train_answers(examples: list[Example], key: str = "", view=None, jobs: int = 2) -> AnswerModel:
    """An answer model fitted on `examples` (their kind: a section's id, no_answer or
    smalltalk), and with `view` (Bot.question_view: what retrieval makes of a question) the
    ranker that weighs it against retrieval (chatbot.core.ranker). The model learns from the
    single questions and, with `view`, from the follow-ups read as the engine reads them
    (QuestionView.read: after the conversation's topic and medicine, dialogue.follow_text)."""
    follow_ups = [e for e in examples if e.before]
    examples = [e for e in examples if not e.before]
    rows = rows_of([e.text for e in examples])
    fold_of = author_folds((e.author for e in examples), RANKER_FOLDS)
    folds = _ranker_folds(examples, fold_of) if view is not None else []
    # each follow-up replayed after its earlier turns (answered without the answer model); one
    # they left nothing to follow is read as a first question (the first ranker's) and
    # teaches the follow-up ranker nothing
    follow_views = {i: v for i, e in enumerate(follow_ups)
                    if view is not None and e.kind != "smalltalk"
                    for v in [view(e.text, e.before)] if v.follows}
    follow_rows = dict(zip(follow_views, rows_of([v.read for v in follow_views.values()])))
    # the model reads a follow-up as one message: the read text. Out of fold (6 author folds,
    # 47 authors, 2026-12-02), all answerable 79.1 / 6.1 / 14.8 -> 82.0 / 6.5 / 11.5 right /
    # wrong / refused against single questions alone
    taught = examples + [replace(follow_ups[i], text=v.read, before=())
                         for i, v in follow_views.items()]
    taught_rows = rows + [follow_rows[i] for i in follow_views]
    groups = sorted(set(fold_of.values()))
    # an author with no single questions is in no fold of the first ranker: the first fold's
    # model is the one that never saw them (as for the follow-up ranker below)
    group_of = [fold_of.get(e.author, groups[0]) for e in taught]
    # The model and the ranker's fold models are fitted in threads while this thread asks
    # retrieval about every question: the fits are mostly numpy and SciPy, which let go of
    # the GIL, and threads start at once where processes would each import scikit-learn.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # the model itself, and its passage model over the same features, fitted side by side
        flat = _flat(taught_rows)  # flattened once: each fold's is a part of it
        vocab, tfidf, x = tfidf_features(flat, ANSWER_DTYPE)
        labels = [e.kind for e in taught]
        full = pool.submit(fit_logistic, x, labels, ANSWER_C, None, ANSWER_SOLVER,
                           ANSWER_TOL)
        passages = pool.submit(passage_classifier, x, taught)
        fits = []
        for g in (groups if folds else []):  # the ranker's: each without one fold of authors
            kept = [j for j, h in enumerate(group_of) if h != g]
            fits.append(pool.submit(_fit_answers, [labels[j] for j in kept],
                                    _part(flat, kept)))
        views = {i: view(e.text) for i, e in enumerate(examples)
                 if folds and e.kind != "smalltalk"}
        fold_models = [(fit.result(), held) for fit, (_, held) in zip(fits, folds)]
        model = to_model(vocab, tfidf, full.result(), key, AnswerModel,
                         tuple(sorted(set(labels))))
        keep_passages(model, passages.result())
    model.extra["smalltalk_words"] = smalltalk_words(examples + follow_ups)
    if folds:
        weights = train_ranker(examples, views, fold_models, rows)
        if weights is not None:
            model.extra["ranker"] = weights
        if follow_views:
            # each follow-up read by the fold model that never saw its author
            follow_models = [(m, [i for i in follow_views
                                  if fold_of.get(follow_ups[i].author, groups[0]) == g])
                             for g, (m, _) in zip(groups, fold_models)]
            # ... and read alone, without the conversation (ranker.FOLLOW_UP_FEATURES)
            alone = dict(zip(follow_views, rows_of([follow_ups[i].text for i in follow_views])))
            weights = train_ranker(follow_ups, follow_views, follow_models, follow_rows, alone)
            if weights is not None:
                model.extra["follow_ranker"] = weights
    return model


def smalltalk_words(examples: list[Example]) -> list[str]:
    """The words (text.words) of the small-talk examples, sorted: what tells a chat word
    ("sup", "gn", "ciao") from a keyboard smash ("zxcvb"), which no example of small talk
    holds, where neither is in a dictionary (dialogue.Bot._has_words). One example is
    enough: out of fold, asking for two lost "heyyy" and "okie dokie" as small talk."""
    return sorted({w for e in examples if e.kind == "smalltalk" for w in words(e.text)})


def _fit_answers(labels: list[str], flat: Flat) -> AnswerModel:
    """An answer model fitted on examples of these labels, given with their buckets."""
    classes = tuple(sorted(set(labels)))
    vocab, tfidf, clf = fit_pipeline(flat, labels, ANSWER_C, None, ANSWER_SOLVER, FOLD_TOL,
                                     dtype=ANSWER_DTYPE)
    return to_model(vocab, tfidf, clf, "", AnswerModel, classes)


def fit_passages(model: AnswerModel, tfidf, examples: list[Example], rows: list[dict[int, int]]):
    """The passage model (AnswerModel.passage_probabilities), kept in `model`: a logistic
    regression over the answer model's own features (its vocabulary and TF-IDF, `tfidf`), from
    the examples that say which passage of their section answers them (Example.passages; one
    naming two teaches both). Returns scikit-learn's estimator (tests compare the two), or
    None with fewer than two passages to learn or fewer than two examples a passage."""
    clf = passage_classifier(tfidf.transform(_matrix(rows, model.vocab)), examples)
    keep_passages(model, clf)
    return clf


def passage_classifier(x, examples: list[Example]):
    """fit_passages' estimator (None: too little to learn), from the examples' rows of the
    answer model's TF-IDF matrix `x` (one row an example, in order): fitted apart from the
    answer model so the two can be fitted side by side, over the features already built."""
    from sklearn.linear_model import LogisticRegression

    taught = [(i, p) for i, e in enumerate(examples) for p in e.passages]
    passages = len({p for _, p in taught})
    if passages < 2 or len(taught) < 2 * passages:
        return None
    clf = LogisticRegression(C=ANSWER_C, solver=ANSWER_SOLVER, tol=FOLD_TOL,
                             max_iter=MAX_ITER, random_state=0)
    return clf.fit(x[[i for i, _ in taught]], np.array([p for _, p in taught]))


def keep_passages(model: AnswerModel, clf) -> None:
    """The passage estimator's classes and weights, kept with `model` (nothing for None)."""
    if clf is None:
        return
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # scikit-learn keeps one row for two classes: the softmax's other is 0
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    model.extra["passages"] = [str(c) for c in clf.classes_]
    model.arrays.update(passage_coef=coef, passage_intercept=intercept)


def _ranker_folds(examples: list[Example], fold_of: dict[str, int]
                  ) -> list[tuple[list[int], list[int]]]:
    """Folds of the authors in `fold_of` (author_folds, RANKER_FOLDS of them), as (the examples
    to train on, the examples held out); none with fewer than two authors."""
    groups = sorted(set(fold_of.values()))
    if len(groups) < 2:
        return []
    return [([i for i, e in enumerate(examples) if fold_of[e.author] != g],
             [i for i, e in enumerate(examples) if fold_of[e.author] == g]) for g in groups]


def train_ranker(examples: list[Example], views: dict,
                 fold_models: list[tuple[AnswerModel, list[int]]],
                 rows: list[dict[int, int]] | dict[int, dict[int, int]],
                 alone_rows: dict[int, dict[int, int]] | None = None) -> list[float] | None:
    """The ranker's weights (coefficients, then the intercept), or None with too little to
    learn from. Each question's candidates are described with the probabilities of an answer
    model that never saw its author (`fold_models`: a model and the examples it did not see),
    as a question from a new patient will be, and with what retrieval made of it (`views`:
    a dialogue.QuestionView by example; `rows`: the buckets the model reads, by example); a
    candidate is right when
    it is the question's own section, and a question the article does not cover has no
    right candidate. `alone_rows`: a follow-up's own buckets, for the model's reading of it
    alone (QuestionView.candidates)."""
    from sklearn.linear_model import LogisticRegression

    x, y = [], []
    for model, held in fold_models:
        held = [i for i in held if examples[i].kind != "smalltalk"]
        read = batch_probabilities(model, [rows[i] for i in held])
        alone = batch_probabilities(model, [alone_rows[i] for i in held]) \
            if alone_rows is not None and held else [None] * len(held)
        for i, p, a in zip(held, read, alone):
            probs = dict(zip(model.classes, map(float, p)))
            by_alone = dict(zip(model.classes, map(float, a))) if a is not None else None
            for section, features in views[i].candidates(probs, by_alone):
                x.append(features)
                y.append(int(section == examples[i].kind))
    if len(set(y)) < 2:
        return None
    clf = LogisticRegression(C=RANKER_C, max_iter=MAX_ITER).fit(np.array(x), np.array(y))
    return [float(w) for w in clf.coef_[0]] + [float(clf.intercept_[0])]


def train_corpus(corpus_dir: Path, out: Path | None = None,
                 examples: list[Example] | None = None,
                 cache_dir: Path | None = None) -> tuple[RiskModel, float]:
    """Fits the corpus's risk model (on `examples` when they are read already) and saves it
    (default corpus/models/risk.npz); returns it and the seconds the fit took. `cache_dir`:
    where the examples' features are kept between trainings (KeptFeatures)."""
    started = time.perf_counter()
    examples = load_examples(corpus_dir) if examples is None else examples
    features = KeptFeatures(cache_dir)
    out = out or corpus_dir / MODEL_FILE
    model = train(examples, data_key(example_files(corpus_dir)), features, saved_risk_model(out))
    model.save(out)
    features.save()
    return model, time.perf_counter() - started


def train_corpus_answers(corpus_dir: Path, out: Path | None = None, view=None,
                         examples: list[Example] | None = None,
                         jobs: int = 2) -> tuple[AnswerModel, float]:
    """Fits the corpus's answer model (and with `view`, Bot.question_view, its ranker) and
    saves it (default corpus/models/answers.npz)."""
    started = time.perf_counter()
    examples = answer_examples(corpus_dir, follow_ups=True) if examples is None else examples
    model = train_answers(examples, data_key(answer_files(corpus_dir)), view, jobs)
    model.save(out or corpus_dir / ANSWER_MODEL_FILE)
    return model, time.perf_counter() - started


@contextmanager
def risk_fitted_aside(corpus_dir: Path, cache_dir: Path | None = None):
    """Starts fitting the corpus's risk model in a second process and gives its future, whose
    result is (the fit's seconds, how many messages, how many authors): `chatbot train` fits
    the answer model meanwhile and takes little more than the longer of the two. Started
    before anything else is read, the second process loads its examples and imports
    scikit-learn while the first builds the engine (forked where the system can)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        yield pool.submit(_fit_risk, corpus_dir, cache_dir)


def _fit_risk(corpus_dir: Path, cache_dir: Path | None) -> tuple[float, int, int]:
    """train_corpus in the second process; the model is saved, not sent back."""
    examples = load_examples(corpus_dir)
    _, seconds = train_corpus(corpus_dir, None, examples, cache_dir)
    return seconds, len(examples), len({e.author for e in examples})


def leave_one_author_out(examples: list[Example], jobs: int = 2,
                         folds: int | None = None) -> list[tuple[Example, Risk]]:
    """Each example with the Risk that a model trained without its author gives it: the
    figure that says how the model treats people whose wording it has never seen. `folds`
    groups the authors into that many folds (faster, and stricter: less to learn from)."""
    from joblib import Parallel, delayed  # comes with scikit-learn

    rows = rows_of(e.text for e in examples)
    fold_of = author_folds((e.author for e in examples), folds)
    groups = sorted(set(fold_of.values()))
    done = Parallel(n_jobs=jobs)(delayed(_fold)(examples, rows, fold_of, g) for g in groups)
    return [pair for fold in done for pair in fold]


def _fold(examples: list[Example], rows: list[dict[int, int]], fold_of: dict, held: int):
    """Trains without the held-out fold's authors and judges their messages."""
    train_at = [i for i, e in enumerate(examples) if fold_of[e.author] != held]
    parts = with_sentences([examples[i] for i in train_at])[len(train_at):]
    model = fit_risk([rows[i] for i in train_at] + rows_of(p.text for p in parts),
                     [examples[i].kind for i in train_at] + ["none"] * len(parts), threads=1)
    return [(e, model.assess(e.text)) for e in examples if fold_of[e.author] == held]
