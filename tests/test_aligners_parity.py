"""Closed-form aligners against scikit-learn and scipy, and ridge's cross-validation against brute force."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.linear_model import LinearRegression, Ridge

from t2c.aligners import LstsqAligner, ProcrustesAligner, RidgeAligner, SufficientStats, fold_index, r2_paper


def regression_data(seed: int, n: int, p: int, q: int, noise: float = 0.5, duplicate_column: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, size=p) + rng.normal(size=p) * 2.0
    if duplicate_column:
        X[:, -1] = X[:, 0]
    Y = X @ rng.normal(size=(p, q)) + noise * rng.normal(size=(n, q)) + 5.0
    return X, Y


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


# (n, p, q, alpha): alpha None means lstsq against LinearRegression.
PARITY_CASES = {
    "lstsq tall": (200, 10, 6, None),
    "lstsq single output": (50, 4, 1, None),
    "lstsq rank deficient": (100, 8, 3, "duplicate"),
    "lstsq p greater than n": (15, 40, 5, None),
    "ridge small alpha": (200, 10, 6, 0.01),
    "ridge alpha 1": (200, 10, 6, 1.0),
    "ridge large alpha": (200, 10, 6, 1000.0),
    "ridge p greater than n": (20, 60, 4, 3.0),
    "ridge p much greater than n": (10, 200, 3, 0.5),
}


@pytest.mark.parametrize(("n", "p", "q", "alpha"), PARITY_CASES.values(), ids=PARITY_CASES.keys())
def test_matches_sklearn(n, p, q, alpha):
    X, Y = regression_data(n + p, n, p, q, duplicate_column=alpha == "duplicate")

    if alpha is None or alpha == "duplicate":
        ours = LstsqAligner().fit(X, Y)
        reference = LinearRegression().fit(X, Y)
    else:
        ours = RidgeAligner(alpha=alpha).fit(X, Y)
        reference = Ridge(alpha=alpha).fit(X, Y)

    assert relative_error(ours.coef_, reference.coef_) < 1e-6
    assert relative_error(ours.intercept_, reference.intercept_) < 1e-6
    assert relative_error(ours.transform(X), reference.predict(X)) < 1e-6


def test_ridge_alpha_zero_is_min_norm_lstsq():
    X, Y = regression_data(1, 12, 30, 2)
    ridge = RidgeAligner(alpha=0).fit(X, Y)
    reference = LinearRegression().fit(X, Y)
    assert relative_error(ridge.coef_, reference.coef_) < 1e-6


def test_lstsq_reports_rank():
    X, Y = regression_data(2, 100, 8, 3, duplicate_column=True)
    assert LstsqAligner().fit(X, Y).hyperparameters_ == {"rank": 7}


def test_float32_features_close_to_float64():
    X, Y = regression_data(3, 300, 12, 5)
    single = RidgeAligner(alpha=1.0).fit(X.astype(np.float32), Y.astype(np.float32))
    double = RidgeAligner(alpha=1.0).fit(X, Y)
    assert relative_error(single.coef_, double.coef_) < 1e-4


def standardize(features: np.ndarray) -> np.ndarray:
    centered = features - features.mean(axis=0)
    return centered / np.sqrt((centered**2).sum() / len(features))


def procrustes_data(seed: int, n: int, p: int, q: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * 3.0 + 1.0
    mixing = np.linalg.qr(rng.normal(size=(max(p, q), max(p, q))))[0][:p, :q]
    Y = 0.5 * X @ mixing + 0.05 * rng.normal(size=(n, q)) - 4.0
    return X, Y


def test_procrustes_matches_scipy_square():
    X, Y = procrustes_data(0, 120, 6, 6)
    aligner = ProcrustesAligner().fit(X, Y)

    rotation, singular_sum = orthogonal_procrustes(standardize(X), standardize(Y))

    np.testing.assert_allclose(aligner.rotation_, rotation, atol=1e-10)
    # For square R, the least-squares scale is tr(S) / ‖Xs‖² and ‖Xs‖² = n after scaling.
    assert aligner.scale_ == pytest.approx(singular_sum / 120, rel=1e-10)


@pytest.mark.parametrize(("p", "q"), [(8, 5), (5, 8)], ids=["p greater than q", "p less than q"])
def test_procrustes_matches_scipy_zero_padded(p, q):
    X, Y = procrustes_data(1, 150, p, q)
    width = max(p, q)
    padded_x = np.zeros((150, width))
    padded_y = np.zeros((150, width))
    padded_x[:, :p] = standardize(X)
    padded_y[:, :q] = standardize(Y)

    padded_rotation, _ = orthogonal_procrustes(padded_x, padded_y)
    aligner = ProcrustesAligner().fit(X, Y)

    np.testing.assert_allclose(aligner.rotation_, padded_rotation[:p, :q], atol=1e-9)


@pytest.mark.parametrize(("p", "q"), [(6, 6), (8, 5), (5, 8)])
def test_procrustes_scale_is_least_squares(p, q):
    X, Y = procrustes_data(2, 100, p, q)
    aligner = ProcrustesAligner().fit(X, Y)

    mapped = standardize(X) @ aligner.rotation_
    best_scale = np.sum(mapped * standardize(Y)) / np.sum(mapped**2)
    assert aligner.scale_ == pytest.approx(best_scale, rel=1e-10)


def test_procrustes_in_original_units():
    X, Y = procrustes_data(3, 100, 6, 4)
    aligner = ProcrustesAligner().fit(X, Y)

    predicted_scaled = aligner.scale_ * standardize(X) @ aligner.rotation_
    expected = predicted_scaled * aligner.y_scale_ + Y.mean(axis=0)
    np.testing.assert_allclose(aligner.transform(X), expected, atol=1e-10)


def test_procrustes_without_scale():
    X, Y = procrustes_data(4, 100, 6, 6)
    aligner = ProcrustesAligner(scale=False).fit(X, Y)

    assert aligner.scale_ == 1.0
    norms = np.sqrt(np.sum((aligner.transform(X) - Y.mean(axis=0)) ** 2) / 100)
    assert norms == pytest.approx(aligner.y_scale_, rel=1e-10)


def brute_force_cv(X, Y, keys, n_folds, alphas):
    """Mean held-out paper R² per alpha, refitting sklearn's Ridge on each training split."""
    folds = fold_index(keys, n_folds)
    scores = np.zeros((n_folds, len(alphas)))
    for k in range(n_folds):
        held_out = folds == k
        for i, alpha in enumerate(alphas):
            model = Ridge(alpha=alpha).fit(X[~held_out], Y[~held_out])
            scores[k, i] = r2_paper(Y[held_out], model.predict(X[held_out]))
    return scores.mean(axis=0)


@pytest.mark.parametrize(("n", "p"), [(120, 8), (40, 30)], ids=["tall", "p close to n"])
def test_ridge_cv_scores_match_brute_force(n, p):
    X, Y = regression_data(5, n, p, 4, noise=3.0)
    keys = [f"image-{i}" for i in range(n)]
    alphas = [0.01, 1.0, 30.0, 1000.0]

    aligner = RidgeAligner(alphas=alphas, n_folds=4)
    aligner.fit(X, Y, keys=keys)

    expected = brute_force_cv(X, Y, keys, 4, alphas)
    np.testing.assert_allclose(aligner.cv_results_["scores"], expected, rtol=1e-8)
    assert aligner.cv_results_["alphas"] == alphas


def test_ridge_cv_picks_best_score():
    X, Y = regression_data(6, 80, 20, 3, noise=5.0)
    aligner = RidgeAligner().fit(X, Y)

    scores = np.asarray(aligner.cv_results_["scores"])
    best = aligner.cv_results_["alphas"][int(np.argmax(scores))]
    assert aligner.alpha_ == best
    assert aligner.hyperparameters_ == {"alpha": best}


def test_ridge_cv_final_fit_uses_all_samples():
    X, Y = regression_data(7, 80, 20, 3, noise=5.0)
    aligner = RidgeAligner().fit(X, Y)
    reference = Ridge(alpha=aligner.alpha_).fit(X, Y)
    assert relative_error(aligner.coef_, reference.coef_) < 1e-6


def test_ridge_cv_noisy_data_picks_larger_alpha():
    rng = np.random.default_rng(8)
    n, p, q = 60, 50, 5
    X = rng.normal(size=(n, p))
    signal = X @ (rng.normal(size=(p, q)) / np.sqrt(p))

    clean = RidgeAligner().fit(X, signal + 0.01 * rng.normal(size=(n, q)))
    noisy = RidgeAligner().fit(X, signal + 5.0 * rng.normal(size=(n, q)))

    assert noisy.alpha_ > 100 * clean.alpha_


def test_default_grid_scales_with_features():
    X, Y = regression_data(9, 100, 10, 3)
    small = RidgeAligner().fit(X, Y)
    large = RidgeAligner().fit(X * 1000.0, Y)

    np.testing.assert_allclose(large.cv_results_["alphas"], np.asarray(small.cv_results_["alphas"]) * 1e6, rtol=1e-9)
    assert large.alpha_ == pytest.approx(small.alpha_ * 1e6, rel=1e-9)


def test_ridge_fit_stats_uses_given_folds():
    X, Y = regression_data(10, 90, 6, 2)
    stats = SufficientStats(6, 2, n_folds=3).update(X, Y)
    aligner = RidgeAligner(alphas=[0.1, 10.0]).fit_stats(stats)

    expected = brute_force_cv(X, Y, list(range(90)), 3, [0.1, 10.0])
    np.testing.assert_allclose(aligner.cv_results_["scores"], expected, rtol=1e-8)
