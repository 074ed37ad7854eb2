"""Metrics, log-odds, and that C is chosen by the validation metric (known-best grids)."""

import numpy as np
import pytest

from assembled_cnn.transfer import (DEFAULT_GRID, KORNBLITH_GRID, accuracy, fit_linear_probe,
                                    log_odds, mean_per_class_accuracy)


def test_metrics_and_log_odds():
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 0, 0, 1])
    assert accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    assert mean_per_class_accuracy(y_true, y_pred) == pytest.approx((1.0 + 0.5) / 2)
    assert log_odds(0.5) == 0.0 and log_odds(0.75) == pytest.approx(np.log(3.0))
    np.testing.assert_allclose(log_odds([0.1, 0.9]), [-np.log(9), np.log(9)])
    assert log_odds(1.0) == np.inf
    with pytest.raises(ValueError, match="not percent"):
        log_odds(76.3)
    with pytest.raises(ValueError, match="equal"):
        accuracy([0, 1], [0])


def test_grids_follow_kornblith():
    assert len(KORNBLITH_GRID) == 45 and len(DEFAULT_GRID) < 45
    for grid in (KORNBLITH_GRID, DEFAULT_GRID):
        assert grid[0] == pytest.approx(1e-6) and grid[-1] == pytest.approx(1e5)
        assert np.allclose(np.diff(np.log10(grid)), np.log10(grid[1] / grid[0]))


def imbalanced_problem(seed=0):
    """Train: 900 of class 0 around x=0, 100 of class 1 around x=3 (1-D signal + noise dims).

    Validation: 100 class-0 points at x=0, 100 class-0 points at x=2.6 (beyond the fitted
    boundary, ~2.2), 10 class-1 points at x=4. A near-zero C predicts the prior (always 0):
    top-1 200/210, mean-per-class 0.5. A moderate C: top-1 110/210, mean-per-class 0.75.
    """
    rng = np.random.default_rng(seed)
    def points(center, count):
        signal = center + (rng.normal(0, 1, count) if count > 50 else rng.normal(0, 0.05, count))
        return np.column_stack([signal, rng.normal(0, 0.01, (count, 2))])
    train_x = np.concatenate([points(0.0, 900), points(3.0, 100)])
    train_y = np.repeat([0, 1], [900, 100])
    val_x = np.concatenate([points(0.0, 100)[:, :] * [0, 1, 1], points(2.6, 10).repeat(10, 0),
                            points(4.0, 10)])
    val_y = np.repeat([0, 0, 1], [100, 100, 10])
    return train_x, train_y, val_x, val_y


def test_c_is_chosen_by_the_validation_metric():
    data = imbalanced_problem()
    grid = [1e-7, 1.0]
    by_top1 = fit_linear_probe(*data, c_grid=grid, metric="top1", refit=False)
    assert by_top1.val_scores[1e-7] == pytest.approx(200 / 210)
    assert by_top1.val_scores[1.0] == pytest.approx(110 / 210)
    assert by_top1.C == 1e-7
    by_class = fit_linear_probe(*data, c_grid=grid, metric="mean_per_class", refit=False)
    assert by_class.val_scores == pytest.approx({1e-7: 0.5, 1.0: 0.75})
    assert by_class.C == 1.0


def test_refit_uses_train_plus_validation_and_bad_inputs_are_named():
    rng = np.random.default_rng(1)
    centers = rng.normal(0, 3, (3, 5))
    y = rng.integers(0, 3, 300)
    x = centers[y] + rng.normal(0, 1, (300, 5))
    probe = fit_linear_probe(x[:200], y[:200], x[200:], y[200:])
    assert probe.C in DEFAULT_GRID and len(probe.val_scores) == len(DEFAULT_GRID)
    assert probe.classifier.n_features_in_ == 5
    np.testing.assert_allclose(probe.standardizer.mean, x.mean(axis=0))  # train + val stats
    assert probe.score(x[200:], y[200:]) > 0.9
    with pytest.raises(ValueError, match="metric"):
        fit_linear_probe(x[:200], y[:200], x[200:], y[200:], metric="top5")
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_probe(np.full((4, 5), np.nan), y[:4], x[:4], y[:4])
    with pytest.raises(ValueError, match="c_grid"):
        fit_linear_probe(x[:200], y[:200], x[200:], y[200:], c_grid=[0.0])
