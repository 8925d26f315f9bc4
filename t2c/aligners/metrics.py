"""Held-out R² of an alignment in two definitions, from arrays or from sufficient statistics.

- paper: 1 − MSE / (mean(y²) − mean(y)²), taken over all entries of Y with one grand mean, as
  the text-to-concept authors compute it (Moayeri et al., ICML 2023, `LinearAligner.py`).
- sklearn: the uniform average over target dimensions of the per-dimension R², as
  `sklearn.metrics.r2_score(multioutput="uniform_average")`.

Where a denominator is zero (constant targets) both follow scikit-learn: R² is 1 for a
perfect prediction and 0 otherwise.
"""

import numpy as np

from t2c.aligners.stats import Moments, SufficientStats, as_moments
from t2c.aligners.validation import check_matrix
from t2c.errors import ShapeError

# Sums computed from statistics below this multiple of eps times their scale count as zero.
ROUNDING_TOLERANCE = 64 * np.finfo(np.float64).eps


def _check_targets(Y, Y_pred) -> tuple[np.ndarray, np.ndarray]:
    Y = np.asarray(Y)
    Y_pred = np.asarray(Y_pred)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y_pred.ndim == 1:
        Y_pred = Y_pred[:, None]

    Y = check_matrix(Y, "Y").astype(np.float64, copy=False)
    Y_pred = check_matrix(Y_pred, "Y_pred").astype(np.float64, copy=False)
    if Y.shape != Y_pred.shape:
        raise ShapeError(f"Y has shape {Y.shape} but Y_pred has {Y_pred.shape}, expected equal shapes; pass predictions for the same samples and target")

    return Y, Y_pred


def _ratio_score(residual: np.ndarray, total: np.ndarray) -> np.ndarray:
    """1 − residual / total, with scikit-learn's values where total is zero."""
    score = np.where(residual == 0.0, 1.0, 0.0)
    nonzero = total > 0.0
    score[nonzero] = 1.0 - residual[nonzero] / total[nonzero]
    return score


def r2_paper(Y, Y_pred) -> float:
    """R² over all entries with one grand mean: 1 − MSE / (mean(y²) − mean(y)²).

    Args:
        Y: (n, q) target features.
        Y_pred: (n, q) predicted target features (aligned encoder features).
    """
    Y, Y_pred = _check_targets(Y, Y_pred)

    residual = np.sum((Y - Y_pred) ** 2)
    total = np.sum((Y - Y.mean()) ** 2)
    return float(_ratio_score(np.asarray([residual]), np.asarray([total]))[0])


def r2_sklearn(Y, Y_pred) -> float:
    """Uniform average over target dimensions of 1 − SSE_j / SST_j.

    Args:
        Y: (n, q) target features.
        Y_pred: (n, q) predicted target features.
    """
    Y, Y_pred = _check_targets(Y, Y_pred)

    residual = np.sum((Y - Y_pred) ** 2, axis=0)
    total = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    return float(np.mean(_ratio_score(residual, total)))


def sse_from_stats(coef: np.ndarray, intercept: np.ndarray, stats: SufficientStats | Moments) -> np.ndarray:
    """Sum of squared errors per target dimension of y ≈ coef x + intercept, from statistics.

    With c = coef x̄ + intercept (the prediction at the mean encoder feature),
    SSE_j = Σ (y_j − ȳ_j)² + n (ȳ_j − c_j)² − 2 w_jᵀ Σ (x − x̄)(y_j − ȳ_j) + w_jᵀ C w_j,
    which works on centered sums to limit cancellation.

    Args:
        coef: (q, p) weights.
        intercept: (q,) offsets.
        stats: statistics of the samples to score (all folds of SufficientStats are summed).

    Returns:
        (q,) float64 SSE per target dimension, clipped at 0.
    """
    moments = as_moments(stats)
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    if coef.shape != (moments.q, moments.p) or intercept.shape != (moments.q,):
        raise ShapeError(
            f"coef has shape {coef.shape} and intercept {intercept.shape}, expected ({moments.q}, {moments.p}) "
            f"and ({moments.q},) to match the statistics; score an aligner fitted on the same encoder and target"
        )

    weights = coef.T
    offset = moments.mean_y - (coef @ moments.mean_x + intercept)

    sse = (
        moments.centered_y2()
        + moments.n * offset**2
        - 2.0 * np.sum(weights * moments.centered_xy(), axis=0)
        + np.sum(weights * (moments.centered_xx() @ weights), axis=0)
    )
    return np.maximum(sse, 0.0)


def r2_from_stats(coef: np.ndarray, intercept: np.ndarray, stats: SufficientStats | Moments) -> dict[str, float]:
    """Both R² definitions of y ≈ coef x + intercept on the samples behind `stats`, without the data.

    Args:
        coef: (q, p) weights.
        intercept: (q,) offsets.
        stats: held-out statistics (all folds of SufficientStats are summed).

    Returns:
        {"r2_paper": float, "r2_sklearn": float}.
    """
    moments = as_moments(stats)
    if moments.n == 0:
        raise ShapeError("the statistics hold no samples, expected at least one; update them with held-out features first")

    sse = sse_from_stats(coef, intercept, moments)
    total_per_dim = moments.centered_y2()

    # Rounding leaves tiny nonzero sums where the exact value is 0 (constant targets, perfect fits).
    scale_per_dim = np.maximum(moments.sum_y2, np.finfo(np.float64).tiny)
    sse = np.where(sse <= ROUNDING_TOLERANCE * scale_per_dim, 0.0, sse)
    total_per_dim = np.where(total_per_dim <= ROUNDING_TOLERANCE * scale_per_dim, 0.0, total_per_dim)

    grand_mean = moments.sum_y.sum() / (moments.n * moments.q)
    total_all = total_per_dim.sum() + moments.n * float(np.sum((moments.mean_y - grand_mean) ** 2))
    if total_all <= ROUNDING_TOLERANCE * scale_per_dim.sum():
        total_all = 0.0

    paper = _ratio_score(np.asarray([sse.sum()]), np.asarray([total_all]))[0]
    per_dim = _ratio_score(sse, total_per_dim)
    return {"r2_paper": float(paper), "r2_sklearn": float(np.mean(per_dim))}
