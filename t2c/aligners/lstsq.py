"""`lstsq`: ordinary least squares with intercept, from sufficient statistics."""

import logging
import numbers

from t2c.aligners.base import StatsAligner
from t2c.aligners.linalg import pinv_solve
from t2c.aligners.stats import SufficientStats
from t2c.errors import ConfigError

log = logging.getLogger("t2c.aligners.lstsq")


class LstsqAligner(StatsAligner):
    """Ordinary least squares with intercept, like scikit-learn's `LinearRegression`.

    Solves the centered normal equations C W = D with a pseudo-inverse of C, so a
    rank-deficient C (p > n, duplicated features) gives the minimum-norm solution.

    Args:
        rcond: eigenvalues of C below rcond · λ_max count as zero; None uses p · eps.
            Because the cutoff applies to eigenvalues of C, which are squared singular values
            of the centered X, it is stricter than scikit-learn's cutoff on singular values
            for badly conditioned X.

    Fitted attributes: `coef_` (q, p), `intercept_` (q,), `hyperparameters_` {"rank": r},
    `rank_` (numerical rank of C), `stats_`.
    """

    kind = "lstsq"

    def __init__(self, rcond: float | None = None):
        if rcond is not None and not (isinstance(rcond, numbers.Real) and not isinstance(rcond, bool) and 0 <= rcond < 1):
            raise ConfigError(f"lstsq rcond={rcond!r} is invalid, expected None or a number in [0, 1)")
        self.rcond = rcond

    def _solve(self, stats: SufficientStats) -> None:
        moments = stats.total()

        weights, rank = pinv_solve(moments.centered_xx(), moments.centered_xy(), self.rcond)
        intercept = moments.mean_y - moments.mean_x @ weights

        self.rank_ = rank
        self._set_affine(weights.T, intercept, {"rank": rank})
        log.debug("lstsq fitted on %d samples: p=%d, q=%d, rank %d", moments.n, moments.p, moments.q, rank)
