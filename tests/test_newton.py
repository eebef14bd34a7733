"""chatbot.newton: the risk model's fit reaches scikit-learn's optimum, from zero or from a
start, on one thread or two."""
from __future__ import annotations

import numpy as np
import pytest

from chatbot import newton
from chatbot.core.classifier import buckets
from chatbot.core.examples import load_examples
from chatbot.core.risk import CLASSES
from chatbot.training import C, CLASS_WEIGHT, tfidf_features
from live import ROOT


@pytest.fixture(scope="module")
def problem():
    """A few thousand labelled messages of every kind, as the risk fit reads them."""
    sample = load_examples(ROOT / "corpus")[::23]
    _, _, x = tfidf_features([buckets(e.text) for e in sample])
    y = np.array([CLASSES.index(e.kind) for e in sample])
    weights = np.array([CLASS_WEIGHT[e.kind] for e in sample])
    return x, y, weights


def probabilities(x, coef, intercept):
    z = np.asarray(x @ coef.T) + intercept
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def test_the_fit_reaches_scikit_learns_optimum(problem):
    from sklearn.linear_model import LogisticRegression

    x, y, weights = problem
    exact = LogisticRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=1000,
                               class_weight={i: CLASS_WEIGHT[k] for i, k in enumerate(CLASSES)})
    exact.fit(x, y)
    tight = newton.fit(x, y, weights, C, len(CLASSES), step_tol=1e-5)
    np.testing.assert_allclose(probabilities(x, tight.coef, tight.intercept),
                               exact.predict_proba(x), atol=1e-4)
    usual = newton.fit(x, y, weights, C, len(CLASSES))
    assert usual.last_change < newton.STEP_TOL
    assert np.abs(probabilities(x, usual.coef, usual.intercept) - exact.predict_proba(x)).max() < 0.01


def test_a_fit_from_a_start_reaches_the_same_optimum_in_fewer_steps(problem):
    x, y, weights = problem
    n = x.shape[0]
    before = newton.fit(x[: n - 40], y[: n - 40], weights[: n - 40], C, len(CLASSES))
    zero = newton.fit(x, y, weights, C, len(CLASSES))
    started = newton.fit(x, y, weights, C, len(CLASSES), start=(before.coef, before.intercept))
    assert started.steps < zero.steps
    p_zero = probabilities(x, zero.coef, zero.intercept)
    assert np.abs(probabilities(x, started.coef, started.intercept) - p_zero).max() < 0.02


def test_two_threads_fit_what_one_fits(problem):
    x, y, weights = problem
    one = newton.fit(x, y, weights, C, len(CLASSES), threads=1)
    two = newton.fit(x, y, weights, C, len(CLASSES), threads=2)
    assert np.array_equal(one.coef, two.coef) and np.array_equal(one.intercept, two.intercept)


def test_a_start_of_another_shape_is_refused(problem):
    x, y, weights = problem
    with pytest.raises(ValueError, match="a start of shape"):
        newton.fit(x, y, weights, C, len(CLASSES),
                   start=(np.zeros((len(CLASSES), 5)), np.zeros(len(CLASSES))))
