"""`procrustes`: an orthogonal map with isotropic scale between centered, scaled feature spaces."""

import logging

import numpy as np

from t2c.aligners.base import StatsAligner
from t2c.aligners.stats import SufficientStats
from t2c.errors import ConfigError

log = logging.getLogger("t2c.aligners.procrustes")


class ProcrustesAligner(StatsAligner):
    """Orthogonal Procrustes between centered, scaled encoder and target features.

    Both sides are centered and divided by their RMS row norm, so the scaled X and Y have
    Σ‖x‖² = Σ‖y‖² = n. From the SVD of the cross-covariance of the scaled features,
    Xsᵀ Ys = U S Vᵀ, the map is R = U Vᵀ (p, q): orthogonal when p == q, semi-orthogonal
    otherwise. R equals the (p, q) block of the square solution after zero-padding the
    smaller side to max(p, q) columns, as in latent space translation work. The map in scaled
    units is ys = s · xs R, with s = tr(S) / tr(Rᵀ Xsᵀ Xs R) the least-squares isotropic scale
    for that R (when p > q this is larger than the padded problem's tr(S) / n).

    In original units: coef_ = (y_scale_ · s / x_scale_) Rᵀ and intercept_ = ȳ − coef_ x̄.

    Args:
        scale: fit the isotropic scale s; False keeps s = 1, which maps unit RMS norm to unit
            RMS norm.

    Fitted attributes: `coef_` (q, p), `intercept_` (q,), `rotation_` R (p, q), `scale_` s,
    `x_mean_` (p,), `y_mean_` (q,), `x_scale_` and `y_scale_` (RMS norms of centered rows),
    `hyperparameters_` {"scale": s}, `stats_`.
    """

    kind = "procrustes"

    def __init__(self, scale: bool = True):
        if not isinstance(scale, bool):
            raise ConfigError(f"procrustes scale={scale!r} is invalid, expected True or False")
        self.scale = scale

    def _solve(self, stats: SufficientStats) -> None:
        moments = stats.total()
        gram = moments.centered_xx()

        x_scale = float(np.sqrt(max(np.trace(gram), 0.0) / moments.n))
        y_scale = float(np.sqrt(moments.centered_y2().sum() / moments.n))
        if x_scale == 0.0 or y_scale == 0.0:
            # Constant encoder or target features: no direction to rotate, predict the mean.
            log.warning("procrustes: constant %s features over %d samples; the map predicts the mean", "encoder" if x_scale == 0.0 else "target", moments.n)
            rotation = np.zeros((moments.p, moments.q))
            scale = 0.0
            x_scale = x_scale or 1.0
            y_scale = y_scale or 1.0
        else:
            cross = moments.centered_xy() / (x_scale * y_scale)
            left, singular_values, right_t = np.linalg.svd(cross, full_matrices=False)
            rotation = left @ right_t

            scale = 1.0
            if self.scale:
                projected_norm = float(np.sum((gram @ rotation) * rotation)) / x_scale**2
                scale = float(singular_values.sum()) / projected_norm if projected_norm > 0.0 else 0.0

        coef = (y_scale * scale / x_scale) * rotation.T
        intercept = moments.mean_y - coef @ moments.mean_x

        self.rotation_ = rotation
        self.scale_ = scale
        self.x_mean_ = moments.mean_x
        self.y_mean_ = moments.mean_y
        self.x_scale_ = x_scale
        self.y_scale_ = y_scale
        self._set_affine(coef, intercept, {"scale": scale})
        log.debug("procrustes fitted on %d samples: p=%d, q=%d, scale %.4g", moments.n, moments.p, moments.q, scale)
