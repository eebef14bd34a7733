"""Multinomial logistic regression fitted by Newton's method, on two cores, from a start.

The risk model's fit was most of `chatbot train`: scikit-learn's newton-cg solver on some
200,000 rows of 800,000 hashed features took nine Newton steps and 50 s, every step ending in
a long run of Hessian products near the optimum. This solver minimises the same objective as
`LogisticRegression(C=c, class_weight=...)` (tests/test_newton.py checks that both reach the
same model) and differs in three ways:
- every product with the matrix or its transpose runs in row blocks on THREADS threads
  (scipy's sparse products release the GIL), the transpose kept as its own CSR matrix, so a
  Hessian product costs less than half of scikit-learn's here;
- it may start from the model saved at the last training: an edit of a few examples then
  takes one or two steps, not nine;
- it stops when a step no longer moves any example's probabilities by STEP_TOL, a test that
  sees a single new example (scikit-learn's test is a mean over every row, blind to the few
  examples a clinic adds, so a fit started from the saved model stopped before learning them).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

# Tuning, in one place. A fit stops when its last step moved no example's probability of any
# class by more than STEP_TOL; each Newton step solves for its direction by conjugate
# gradients until the residual is CG_TOL of the gradient (looser is faster per step and
# needs more steps), at most CG_STEPS products.
STEP_TOL = 0.005
CG_TOL = 0.1
CG_STEPS = 100
MAX_STEPS = 50
THREADS = 2


class Fit(NamedTuple):
    """A fitted model: coef (classes x features), intercept (classes), the Newton steps taken
    and the largest probability change of the last one."""
    coef: np.ndarray
    intercept: np.ndarray
    steps: int
    last_change: float


class _Problem:
    """The objective c * sum_i w_i * (logsumexp(z_i) - z_i[y_i]) + |W|^2 / 2 over z = X W + b,
    with its gradient and Hessian products (the intercept b is not penalised, as in
    scikit-learn)."""

    def __init__(self, x, y: np.ndarray, weights: np.ndarray, c: float, classes: int,
                 pool: ThreadPoolExecutor, threads: int):
        x = x.tocsr()
        self.pool = pool
        self.blocks = _row_blocks(x, threads)
        self.t_blocks = _row_blocks(x.T.tocsr(), threads)
        self.y = np.zeros((x.shape[0], classes))
        self.y[np.arange(x.shape[0]), y] = 1.0
        self.w = (c * weights)[:, None]

    def times(self, w: np.ndarray) -> np.ndarray:
        """X @ w, a block of rows per thread."""
        return np.vstack(list(self.pool.map(lambda block: block @ w, self.blocks)))

    def t_times(self, r: np.ndarray) -> np.ndarray:
        """X.T @ r, a block of the transpose's rows (the features) per thread."""
        return np.vstack(list(self.pool.map(lambda block: block @ r, self.t_blocks)))

    def value(self, z: np.ndarray, w: np.ndarray) -> float:
        """The objective at logits z = X w + b."""
        top = z.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        return float((self.w[:, 0] * (lse - (z * self.y).sum(axis=1))).sum() + 0.5 * (w * w).sum())

    def gradient(self, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gradient at probabilities p, for the weights w and the intercept."""
        d = self.w * (p - self.y)
        return self.t_times(d) + w, d.sum(axis=0)

    def hessian_times(self, p: np.ndarray, v: np.ndarray, vb: np.ndarray):
        """The Hessian at probabilities p times the direction (v, vb)."""
        r = self.times(v) + vb
        q = p * r
        q -= p * q.sum(axis=1, keepdims=True)
        q *= self.w
        return self.t_times(q) + v, q.sum(axis=0)


def _row_blocks(x, n: int) -> list:
    """x in n blocks of consecutive rows with about as many non-zeros each, each a view of
    x's arrays: slicing copied them (1.4 s of a fit on the corpus), and so does scipy's
    constructor for a view of less than half an array, so the views are set after it."""
    from scipy.sparse import csr_matrix
    cuts = np.searchsorted(x.indptr, np.linspace(0, x.nnz, n + 1)[1:-1])
    bounds = [0, *cuts.tolist(), x.shape[0]]
    blocks = []
    for a, b in zip(bounds, bounds[1:]):
        if b > a:
            start, end = x.indptr[a], x.indptr[b]
            block = csr_matrix((b - a, x.shape[1]), dtype=x.dtype)
            block.data, block.indices = x.data[start:end], x.indices[start:end]
            block.indptr = (x.indptr[a:b + 1] - start).astype(x.indices.dtype, copy=False)
            blocks.append(block)
    return blocks


def softmax(z: np.ndarray) -> np.ndarray:
    """Each row's class probabilities from its logits (shifted by the row's largest, so no
    exponential overflows)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit(x, y: np.ndarray, weights: np.ndarray, c: float, classes: int,
        start: tuple[np.ndarray, np.ndarray] | None = None, step_tol: float = STEP_TOL,
        threads: int = THREADS) -> Fit:
    """Fits the model to rows x (sparse, n x features), class numbers y (n), row weights and
    inverse regularisation c, from zero or from `start` (coef, intercept) when given.
    Raises ValueError when the fit has not settled after MAX_STEPS steps."""
    n, features = x.shape
    w = np.zeros((features, classes)) if start is None else np.array(start[0], dtype=float).T.copy()
    b = np.zeros(classes) if start is None else np.array(start[1], dtype=float)
    if w.shape != (features, classes) or b.shape != (classes,):
        raise ValueError(f"a start of shape {w.T.shape} for {classes} classes and {features} features")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        problem = _Problem(x, np.asarray(y), np.asarray(weights, dtype=float), c, classes,
                           pool, threads)
        z = problem.times(w) + b
        p = softmax(z)
        value = problem.value(z, w)
        for step in range(1, MAX_STEPS + 1):
            gw, gb = problem.gradient(p, w)
            dw, db = _direction(problem, p, gw, gb)
            dz = problem.times(dw) + db
            slope = float((gw * dw).sum() + gb @ db)
            t = 1.0
            while True:  # backtracking until the objective falls enough (Armijo)
                new_z, new_w = z + t * dz, w + t * dw
                new_value = problem.value(new_z, new_w)
                if new_value <= value + 1e-4 * t * slope or t < 1e-6:
                    break
                t *= 0.5
            new_p = softmax(new_z)
            change = float(np.abs(new_p - p).max())
            w, b, z, p, value = new_w, b + t * db, new_z, new_p, new_value
            if change < step_tol:
                return Fit(w.T.copy(), b, step, change)
    raise ValueError(f"the fit did not settle in {MAX_STEPS} Newton steps (last change {change:.3g})")


def _direction(problem: _Problem, p: np.ndarray, gw: np.ndarray, gb: np.ndarray):
    """The Newton direction: the Hessian's solve of minus the gradient, by conjugate gradients
    from zero until the residual is CG_TOL of the gradient."""
    dw, db = np.zeros_like(gw), np.zeros_like(gb)
    rw, rb = -gw, -gb
    pw, pb = rw.copy(), rb.copy()
    rr = float((rw * rw).sum() + rb @ rb)
    stop = (CG_TOL ** 2) * rr
    for _ in range(CG_STEPS):
        hw, hb = problem.hessian_times(p, pw, pb)
        curvature = float((pw * hw).sum() + pb @ hb)
        if curvature <= 0:
            break
        alpha = rr / curvature
        dw += alpha * pw
        db += alpha * pb
        rw -= alpha * hw
        rb -= alpha * hb
        new_rr = float((rw * rw).sum() + rb @ rb)
        if new_rr <= stop:
            break
        pw = rw + (new_rr / rr) * pw
        pb = rb + (new_rr / rr) * pb
        rr = new_rr
    if not dw.any() and not db.any():  # no curvature at all: the gradient itself
        return -gw, -gb
    return dw, db
