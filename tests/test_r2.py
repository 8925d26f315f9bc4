"""Held-out R² in the text-to-concept (grand-mean) and scikit-learn definitions, from arrays and statistics."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from t2c.aligners import SufficientStats, fold_index, r2_from_stats, r2_paper, r2_sklearn
from t2c.errors import ShapeError


def affine_case(seed: int, n: int = 60, p: int = 5, q: int = 4, offset: float = 0.0, noise: float = 0.5, constant_dim: bool = False):
    """Return X, Y and a (coef, intercept) that roughly predicts Y from X."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * 2.0 + 1.0
    coef = rng.normal(size=(q, p))
    intercept = rng.normal(size=q) + offset
    Y = X @ coef.T + intercept + noise * rng.normal(size=(n, q))
    if constant_dim:
        Y[:, 0] = 3.0
    # Score a slightly wrong map, so R² is informative.
    guess = coef + 0.1 * rng.normal(size=coef.shape)
    return X, Y, guess, intercept + 0.05


CASES = {
    "plain": dict(seed=0),
    "large offset": dict(seed=1, offset=100.0),
    "noisy": dict(seed=2, noise=10.0),
    "one target dim": dict(seed=3, q=1),
    "constant target dim": dict(seed=4, constant_dim=True),
    "p greater than n": dict(seed=5, n=8, p=20),
}


def paper_formula(Y: np.ndarray, Y_pred: np.ndarray) -> float:
    mse = np.mean((Y - Y_pred) ** 2)
    variance = np.mean(Y**2) - np.mean(Y) ** 2
    return 1.0 - mse / variance


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_r2_paper_matches_formula(case):
    X, Y, coef, intercept = affine_case(**case)
    Y_pred = X @ coef.T + intercept
    assert r2_paper(Y, Y_pred) == pytest.approx(paper_formula(Y, Y_pred), rel=1e-9)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_r2_sklearn_matches_r2_score(case):
    X, Y, coef, intercept = affine_case(**case)
    Y_pred = X @ coef.T + intercept
    expected = r2_score(Y, Y_pred, multioutput="uniform_average")
    assert r2_sklearn(Y, Y_pred) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_r2_from_stats_matches_arrays(case):
    X, Y, coef, intercept = affine_case(**case)
    Y_pred = X @ coef.T + intercept
    stats = SufficientStats(X.shape[1], Y.shape[1], n_folds=3).update(X, Y)

    scores = r2_from_stats(coef, intercept, stats)

    assert scores["r2_paper"] == pytest.approx(paper_formula(Y, Y_pred), rel=1e-7)
    assert scores["r2_sklearn"] == pytest.approx(r2_score(Y, Y_pred, multioutput="uniform_average"), rel=1e-7)


def test_r2_from_stats_of_one_fold():
    X, Y, coef, intercept = affine_case(seed=6, n=200)
    keys = [f"img{i}" for i in range(200)]
    stats = SufficientStats(5, 4, n_folds=4).update(X, Y, keys)
    held_out = np.flatnonzero(fold_index(keys, 4) == 2)
    Y_pred = X[held_out] @ coef.T + intercept

    scores = r2_from_stats(coef, intercept, stats.fold(2))

    assert scores["r2_sklearn"] == pytest.approx(r2_score(Y[held_out], Y_pred), rel=1e-7)
    assert scores["r2_paper"] == pytest.approx(paper_formula(Y[held_out], Y_pred), rel=1e-7)


def test_perfect_prediction_scores_one():
    X, Y, coef, intercept = affine_case(seed=7, noise=0.0, offset=50.0)
    rng = np.random.default_rng(7)
    coef = rng.normal(size=(4, 5))
    Y = X @ coef.T + 50.0
    stats = SufficientStats(5, 4).update(X, Y)

    assert r2_paper(Y, Y) == 1.0
    assert r2_sklearn(Y, Y) == 1.0
    assert r2_from_stats(coef, np.full(4, 50.0), stats) == pytest.approx({"r2_paper": 1.0, "r2_sklearn": 1.0}, abs=1e-9)


def test_r2_paper_and_sklearn_differ_with_offsets():
    # Per-dimension offsets count as explained variance only for the grand-mean R² of text-to-concept.
    rng = np.random.default_rng(8)
    Y = rng.normal(size=(100, 3)) + np.asarray([0.0, 10.0, -10.0])
    Y_pred = Y.mean(axis=0) + np.zeros_like(Y)

    assert r2_sklearn(Y, Y_pred) == pytest.approx(0.0, abs=1e-12)
    assert r2_paper(Y, Y_pred) > 0.9


def test_r2_rejects_shape_mismatch():
    with pytest.raises(ShapeError, match=r"Y has shape \(4, 2\) but Y_pred has \(4, 3\)"):
        r2_paper(np.zeros((4, 2)), np.zeros((4, 3)))


def test_r2_rejects_nan():
    Y = np.zeros((4, 2))
    Y_pred = Y.copy()
    Y_pred[1, 1] = np.nan
    with pytest.raises(ShapeError, match="Y_pred contains 1 NaN"):
        r2_sklearn(Y, Y_pred)


def test_r2_from_stats_rejects_wrong_coef_shape():
    stats = SufficientStats(5, 4).update(np.ones((3, 5)), np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"expected \(4, 5\)"):
        r2_from_stats(np.zeros((5, 4)), np.zeros(4), stats)
