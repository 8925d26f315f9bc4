"""`ridge`: ridge regression with intercept, alpha given or chosen by exact K-fold CV from statistics."""

import logging
import numbers
from collections.abc import Sequence

import numpy as np

from t2c.aligners.base import StatsAligner
from t2c.aligners.linalg import eigh_gram, pinv_solve, ridge_solve
from t2c.aligners.stats import Moments, SufficientStats
from t2c.errors import ConfigError

log = logging.getLogger("t2c.aligners.ridge")

# Default grid, relative to trace(C) / p: the mean eigenvalue of the centered Gram matrix C of
# all samples, which is n times the mean per-feature variance. From 1e-6 (almost least squares)
# to 1e3 (shrinkage far above the data's own scale) in half-decade steps.
DEFAULT_RELATIVE_ALPHAS = np.logspace(-6, 3, 19)


def default_alphas(moments: Moments) -> np.ndarray:
    """Return the default alpha grid, `DEFAULT_RELATIVE_ALPHAS` times trace(C) / p."""
    scale = float(np.trace(moments.centered_xx())) / moments.p
    if scale <= 0.0:
        # Constant features: every alpha gives the same (zero) weights.
        scale = 1.0
    return DEFAULT_RELATIVE_ALPHAS * scale


def cross_validate(stats: SufficientStats, alphas: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Score every alpha by exact K-fold CV: fit on all folds but k, score on fold k.

    The score is the held-out R² as the text-to-concept authors define it: 1 − SSE / Σ (y_ij − ȳ)²,
    over all entries of the held-out fold's Y with one grand mean ȳ. Per fold this takes one eigendecomposition of the
    training C = V diag(λ) Vᵀ. With D̃ = Vᵀ D the weights are W(α) = V diag(f) D̃, f = 1/(λ + α),
    and the held-out SSE is s − 2 fᵀa + fᵀ B f, with a and B fixed per fold, so each alpha
    costs O(p²).

    Args:
        stats: statistics with at least 2 folds.
        alphas: (n_alphas,) penalties > 0.

    Returns:
        scores (n_used_folds, n_alphas) and the fold numbers used. A fold is skipped when it is
        empty, when the rest contains fewer than 2 samples, or when its Y has zero variance.
    """
    scores = []
    used_folds = []

    for k in range(stats.n_folds):
        held_out = stats.fold(k)
        train = stats.without_fold(k)
        if held_out.n == 0 or train.n < 2:
            log.debug("ridge CV skips fold %d: %d held-out and %d training samples", k, held_out.n, train.n)
            continue

        # Sums of the held-out fold around the training means, which the fitted intercept uses.
        shift_x = held_out.mean_x - train.mean_x
        shift_y = held_out.mean_y - train.mean_y
        held_xx = held_out.centered_xx() + held_out.n * np.outer(shift_x, shift_x)
        held_xy = held_out.centered_xy() + held_out.n * np.outer(shift_x, shift_y)
        held_yy = held_out.centered_y2().sum() + held_out.n * float(shift_y @ shift_y)

        # Paper R² denominator: squared deviations of all entries from the fold's grand mean.
        grand_mean = held_out.sum_y.sum() / (held_out.n * held_out.q)
        total_variation = held_out.centered_y2().sum() + held_out.n * float(np.sum((held_out.mean_y - grand_mean) ** 2))
        if total_variation <= 0.0:
            log.debug("ridge CV skips fold %d: its target features have zero variance", k)
            continue

        eigenvalues, eigenvectors = eigh_gram(train.centered_xx())
        rotated_cross = eigenvectors.T @ train.centered_xy()
        linear_term = np.sum(rotated_cross * (eigenvectors.T @ held_xy), axis=1)
        quadratic_term = (eigenvectors.T @ held_xx @ eigenvectors) * (rotated_cross @ rotated_cross.T)

        scaling = 1.0 / (eigenvalues[None, :] + alphas[:, None])
        sse = held_yy - 2.0 * scaling @ linear_term + np.sum((scaling @ quadratic_term) * scaling, axis=1)

        scores.append(1.0 - sse / total_variation)
        used_folds.append(k)

    return np.asarray(scores).reshape(len(used_folds), len(alphas)), used_folds


def check_alphas(alphas) -> np.ndarray:
    """Return `alphas` as a (n_alphas,) float64 array, or raise ConfigError unless all are finite and > 0."""
    try:
        values = np.asarray(alphas, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = np.asarray([np.nan])

    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ConfigError(f"ridge alphas={alphas!r} is invalid, expected a non-empty list of finite numbers > 0, such as [0.1, 1, 10]")
    return values


class RidgeAligner(StatsAligner):
    """Ridge regression with intercept, equal to scikit-learn's `Ridge(alpha=alpha)`.

    alpha is the penalty on the squared weights of the centered problem, in units of the
    centered Gram matrix C (a sum over samples, so it grows with n). W = (C + αI)⁻¹ D.

    Args:
        alpha: the penalty (>= 0; 0 gives the minimum-norm least-squares solution). None picks
            it by K-fold CV over `alphas`, scoring by held-out R² over all entries (see `cross_validate`).
        alphas: the grid for CV, absolute values > 0. None uses 19 values from 1e-6 to 1e3
            times trace(C) / p of all samples (half-decade steps).
        n_folds: folds of the statistics this aligner builds in `fit` when it chooses alpha;
            `fit_stats` uses the folds of the statistics it is given.

    Choosing alpha needs a fold with held-out samples and at least 2 training samples outside
    it. Every solve checks this, including the one after the first `partial_fit`, and raises
    ConfigError when no fold qualifies.

    Fitted attributes: `coef_` (q, p), `intercept_` (q,), `alpha_`, `hyperparameters_`
    {"alpha": alpha_}, `cv_results_` ({"alphas": [...], "scores": [...]} with scores the mean
    over folds; None when alpha was given), `stats_`.
    """

    kind = "ridge"

    def __init__(self, alpha: float | None = None, alphas: Sequence[float] | None = None, n_folds: int = 5):
        if alpha is not None and not (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and np.isfinite(alpha) and alpha >= 0):
            raise ConfigError(f"ridge alpha={alpha!r} is invalid, expected a finite number >= 0, or None to choose it by cross-validation")
        if alphas is not None:
            check_alphas(alphas)
        if not isinstance(n_folds, int) or isinstance(n_folds, bool) or n_folds < 1:
            raise ConfigError(f"ridge n_folds={n_folds!r} is invalid, expected an integer >= 1")
        if alpha is None and n_folds < 2:
            raise ConfigError(f"ridge with n_folds={n_folds} cannot choose alpha by cross-validation; pass n_folds >= 2 or a fixed alpha=")

        self.alpha = alpha
        self.alphas = alphas
        self.n_folds = n_folds

    def _stats_folds(self) -> int:
        # Folds only serve to choose alpha, and each costs O(p² + pq) memory.
        return self.n_folds if self.alpha is None else 1

    def _solve(self, stats: SufficientStats) -> None:
        moments = stats.total()

        if self.alpha is None:
            alpha = self._choose_alpha(stats, moments)
        else:
            alpha = float(self.alpha)
            self.cv_results_ = None

        if alpha > 0:
            weights = ridge_solve(moments.centered_xx(), moments.centered_xy(), alpha)
        else:
            weights, _ = pinv_solve(moments.centered_xx(), moments.centered_xy())
        intercept = moments.mean_y - moments.mean_x @ weights

        self.alpha_ = alpha
        self._set_affine(weights.T, intercept, {"alpha": alpha})
        log.debug("ridge fitted on %d samples with alpha=%g", moments.n, alpha)

    def _choose_alpha(self, stats: SufficientStats, moments: Moments) -> float:
        if stats.n_folds < 2:
            raise ConfigError(
                f"ridge cannot choose alpha by cross-validation from {stats!r}; "
                "build the statistics with n_folds >= 2 or pass a fixed alpha="
            )

        alphas = default_alphas(moments) if self.alphas is None else check_alphas(self.alphas)
        fold_scores, used_folds = cross_validate(stats, alphas)
        if len(used_folds) == 0:
            raise ConfigError(
                f"ridge cannot choose alpha: no fold of {stats!r} has held-out samples with varying targets "
                "and >= 2 training samples; fit on more samples or pass a fixed alpha="
            )

        scores = fold_scores.mean(axis=0)
        best = int(np.argmax(scores))
        self.cv_results_ = {"alphas": alphas.tolist(), "scores": scores.tolist()}
        log.info("ridge CV over %d folds chose alpha=%g (held-out R² %.4f)", len(used_folds), alphas[best], scores[best])
        return float(alphas[best])
