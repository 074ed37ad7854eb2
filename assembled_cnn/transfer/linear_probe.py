"""Fixed-feature transfer: L2-regularised multinomial logistic regression (Kornblith et al.).

Protocol of Kornblith, Shlens & Le (CVPR 2019, reference anchors §3.3): penultimate features
of a frozen network, multinomial logistic regression fitted with L-BFGS, the L2 strength
chosen on a validation split over a log-spaced grid (45 values, 1e-6 … 1e5), then refitted
on train + validation with the chosen value.

Why scikit-learn: its ``LogisticRegression(solver='lbfgs')`` is the reference
implementation of exactly this model (multinomial softmax loss, L2 penalty, SciPy's
L-BFGS-B), well tested and fast on CPU for the feature sizes involved (N ≲ 1e5, D ≲ 4096).
Writing our own TF L-BFGS would only be worth it if measurably faster at equal accuracy.
``C`` is scikit-learn's: the objective is ``C · Σ_i CE_i + ½‖W‖²`` (no penalty on the
bias), i.e. C = 1 / (λ · N) for a mean loss with penalty ½λ‖W‖². Features are
standardised (train statistics) so one grid suits every network.

The grid is swept from strong to weak regularisation, each fit warm-started from the
previous solution: the problem is convex, so this changes only the time, not the optimum.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

TOP1 = "top1"
MEAN_PER_CLASS = "mean_per_class"
METRICS = (TOP1, MEAN_PER_CLASS)
KORNBLITH_GRID = tuple(np.logspace(-6, 5, 45))  # the paper's 45 values
DEFAULT_GRID = tuple(np.logspace(-6, 5, 12))  # one per decade: ~4x fewer fits
# Below this many feature values (N·D) multi-threaded BLAS only adds overhead, and on a
# busy machine OpenBLAS's spinning threads made a 2000×64 fit 40-100× slower (measured).
SINGLE_THREAD_BELOW = 10_000_000


def accuracy(y_true, y_pred) -> float:
    """Top-1 accuracy as a fraction in [0, 1]."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need equal, non-empty label arrays, got {y_true.shape} and "
                         f"{y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def mean_per_class_accuracy(y_true, y_pred) -> float:
    """Mean over the classes present in y_true of their recall (Aircraft, Pets, Flowers…)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    accuracy(y_true, y_pred)  # shape checks
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def log_odds(acc):
    """log(p / (1 − p)) of an accuracy fraction p (Kornblith's transformed accuracy).

    p = 0 or 1 give −inf / +inf; a value above 1 is rejected (pass fractions, not %).
    """
    p = np.asarray(acc, np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"log_odds needs accuracies in [0, 1] (fractions, not percent), "
                         f"got {acc}")
    with np.errstate(divide="ignore"):
        result = np.log(p) - np.log1p(-p)
    return float(result) if result.ndim == 0 else result


def score(metric: str, y_true, y_pred) -> float:
    if metric == TOP1:
        return accuracy(y_true, y_pred)
    if metric == MEAN_PER_CLASS:
        return mean_per_class_accuracy(y_true, y_pred)
    raise ValueError(f"metric={metric!r} is unknown; choose one of {METRICS} (the dataset "
                     "registry's primary_metric)")


@dataclass(frozen=True)
class Standardizer:
    """Per-feature (x − mean) / std with train statistics; constant features stay 0."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, enabled: bool = True) -> "Standardizer":
        if not enabled:
            return cls(np.zeros(x.shape[1]), np.ones(x.shape[1]))
        std = x.std(axis=0, dtype=np.float64)
        return cls(x.mean(axis=0, dtype=np.float64), np.where(std > 1e-12, std, 1.0))

    def __call__(self, x) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale).astype(np.float64)


@dataclass
class LinearProbe:
    """A fitted probe: ``predict``/``predict_proba`` on raw (unstandardised) features."""

    C: float
    metric: str
    val_scores: dict[float, float]
    classifier: LogisticRegression
    standardizer: Standardizer
    converged: dict[float, bool] = field(default_factory=dict)

    @property
    def classes_(self) -> np.ndarray:
        return self.classifier.classes_

    def predict(self, x) -> np.ndarray:
        return self.classifier.predict(self.standardizer(x))

    def predict_proba(self, x) -> np.ndarray:
        return self.classifier.predict_proba(self.standardizer(x))

    def score(self, x, y, metric: str | None = None) -> float:
        return score(metric or self.metric, y, self.predict(x))


def _as_xy(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"{name}: need features [N, D] and labels [N], got {x.shape} and "
                         f"{y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} features contain NaN/inf; check the feature extractor")
    return x, y


def _new_classifier(C: float, max_iter: int, tol: float, warm: bool) -> LogisticRegression:
    return LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, tol=tol, warm_start=warm)


def _fit_quietly(classifier: LogisticRegression, x, y) -> bool:
    """Fit; returns False instead of printing a warning when L-BFGS hit max_iter."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _check_grid(c_grid: Sequence[float] | None, full_grid: bool) -> list[float]:
    grid = KORNBLITH_GRID if full_grid else DEFAULT_GRID
    grid = sorted(float(c) for c in (c_grid if c_grid is not None else grid))
    if not grid or grid[0] <= 0:
        raise ValueError(f"c_grid must be a non-empty list of positive values, got {c_grid}")
    return grid


def _blas_threads(requested: int | None, x: np.ndarray) -> int | None:
    if requested is not None:
        return requested
    return 1 if x.size < SINGLE_THREAD_BELOW else None


def fit_linear_probe(train_x, train_y, val_x, val_y, c_grid: Sequence[float] | None = None,
                     metric: str = TOP1, max_iter: int = 1000, *, full_grid: bool = False,
                     standardize: bool = True, refit: bool = True, tol: float = 1e-4,
                     blas_threads: int | None = None) -> LinearProbe:
    """Choose C on (val_x, val_y) by `metric`, then refit on train + val with that C.

    c_grid: candidate C values (default: one per decade over 1e-6 … 1e5; ``full_grid=True``
    uses the paper's 45). Ties go to the smaller C (stronger regularisation).
    refit=False keeps the train-only model of the chosen C (e.g. to report val scores).
    blas_threads: BLAS threads during the fits (None: 1 for small problems, else the
    library default).
    """
    with threadpool_limits(limits=_blas_threads(blas_threads, np.asarray(train_x)),
                           user_api="blas"):
        return _fit(train_x, train_y, val_x, val_y, c_grid, metric, max_iter, full_grid,
                    standardize, refit, tol)


def _sweep(xs_train, train_y, xs_val, val_y, grid, metric, max_iter, tol):
    """Val score per C, strong → weak regularisation, each fit warm-started from the last."""
    classifier = _new_classifier(grid[0], max_iter, tol, warm=True)
    val_scores, converged = {}, {}
    for C in grid:
        classifier.set_params(C=C)
        converged[C] = _fit_quietly(classifier, xs_train, train_y)
        val_scores[C] = score(metric, val_y, classifier.predict(xs_val))
    best = max(grid, key=lambda c: (val_scores[c], -c))  # ties: stronger regularisation
    return best, val_scores, converged


def _fit(train_x, train_y, val_x, val_y, c_grid, metric, max_iter, full_grid, standardize,
         refit, tol) -> LinearProbe:
    train_x, train_y = _as_xy(train_x, train_y, "train")
    val_x, val_y = _as_xy(val_x, val_y, "validation")
    if train_x.shape[1] != val_x.shape[1]:
        raise ValueError(f"train has {train_x.shape[1]} features, validation {val_x.shape[1]}")
    score(metric, val_y[:1], val_y[:1])  # validates the metric name early
    grid = _check_grid(c_grid, full_grid)
    standardizer = Standardizer.fit(train_x, standardize)
    best, val_scores, converged = _sweep(standardizer(train_x), train_y, standardizer(val_x),
                                         val_y, grid, metric, max_iter, tol)
    if refit:
        train_x, train_y = np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y])
        standardizer = Standardizer.fit(train_x, standardize)
    final = _new_classifier(best, max_iter, tol, warm=False)
    _fit_quietly(final, standardizer(train_x), train_y)
    return LinearProbe(best, metric, val_scores, final, standardizer, converged)
