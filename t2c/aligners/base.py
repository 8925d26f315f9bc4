"""The aligner interface: a scikit-learn style estimator that ends as an affine map.

An aligner maps encoder features X (n, p) to the target's image space: once fitted,
`transform(X) = X @ coef_.T + intercept_` with `coef_` (q, p) and `intercept_` (q,).
"""

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from t2c.aligners.stats import SufficientStats
from t2c.aligners.validation import check_matrix, check_pair
from t2c.errors import NotFittedError, ShapeError

log = logging.getLogger("t2c.aligners")

class Aligner(ABC):
    """Base class of aligners.

    Subclasses set `kind` (the registry name) and take only keyword hyperparameters in
    `__init__`, stored under the same names so `get_params` can read them back. Fitting sets
    `coef_` (q, p) float64, `intercept_` (q,) float64, `hyperparameters_` (the values the fit
    chose, such as {"alpha": 10.0}) and `n_features_in_` (p).
    """

    kind: ClassVar[str]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters as a dict, as scikit-learn's `get_params` does."""
        signature = inspect.signature(type(self).__init__)
        names = [name for name in signature.parameters if name != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes: a missing fitted attribute means "not fitted".
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(f"{type(self).__name__} has no {name} because it is not fitted yet; call fit(X, Y) first")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def is_fitted(self) -> bool:
        return "coef_" in vars(self)

    def check_fitted(self) -> None:
        """Raise NotFittedError unless the aligner has been fitted."""
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, Y), partial_fit, "
                "fit_stats (closed-form aligners) or fit_batches (linear) before transform"
            )

    def transform(self, X) -> np.ndarray:
        """Map encoder features into target space.

        Args:
            X: (n, p) encoder features.

        Returns:
            (n, q) aligned features in target space, float32 for float32 input, else float64.
        """
        self.check_fitted()
        X = check_matrix(X, "X", self.n_features_in_)

        coef = self.coef_.astype(X.dtype, copy=False)
        intercept = self.intercept_.astype(X.dtype, copy=False)
        return X @ coef.T + intercept

    def fit_transform(self, X, Y, keys: Iterable | None = None) -> np.ndarray:
        """Fit on (X, Y) and return transform(X)."""
        return self.fit(X, Y, keys=keys).transform(X)

    def _set_affine(self, coef: np.ndarray, intercept: np.ndarray, hyperparameters: dict[str, Any]) -> None:
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(intercept, dtype=np.float64)
        self.hyperparameters_ = hyperparameters
        self.n_features_in_ = self.coef_.shape[1]

    @abstractmethod
    def fit(self, X, Y, keys: Iterable | None = None) -> "Aligner":
        """Fit on X (n, p) encoder features and Y (n, q) target features; keys pick CV folds."""

    @abstractmethod
    def partial_fit(self, X, Y, keys: Iterable | None = None) -> "Aligner":
        """Update the fit with one more batch."""

    @abstractmethod
    def fit_stats(self, stats: SufficientStats) -> "Aligner":
        """Fit from sufficient statistics."""


class StatsAligner(Aligner):
    """An aligner computed in closed form from `SufficientStats`.

    `fit` and `partial_fit` accumulate statistics and solve from them, as `fit_stats` does. The
    statistics of the fit are kept in `stats_`, so `partial_fit` continues where the last
    fit stopped. Each `partial_fit` solves again, at O(p³) per call, so to feed many batches
    update a `SufficientStats` yourself and call `fit_stats` once.
    """

    def _stats_folds(self) -> int:
        """Number of folds of the statistics this aligner builds for itself."""
        return 1

    @abstractmethod
    def _solve(self, stats: SufficientStats) -> None:
        """Set the fitted attributes from statistics that hold at least one sample."""

    def fit(self, X, Y, keys: Iterable | None = None) -> "StatsAligner":
        X, Y = check_pair(X, Y)

        stats = SufficientStats(X.shape[1], Y.shape[1], self._stats_folds())
        stats.update(X, Y, keys)

        self.stats_ = stats
        self._owns_stats = True
        self._solve(stats)
        return self

    def partial_fit(self, X, Y, keys: Iterable | None = None) -> "StatsAligner":
        X, Y = check_pair(X, Y)

        if "stats_" not in vars(self):
            self.stats_ = SufficientStats(X.shape[1], Y.shape[1], self._stats_folds())
            self._owns_stats = True
        elif not self._owns_stats:
            # Statistics passed to fit_stats belong to the caller, so update a copy.
            self.stats_ = self.stats_.copy()
            self._owns_stats = True

        self.stats_.update(X, Y, keys)
        self._solve(self.stats_)
        return self

    def fit_stats(self, stats: SufficientStats) -> "StatsAligner":
        """Fit from sufficient statistics, without the features.

        Args:
            stats: statistics of paired features; they are kept as `stats_` and not modified.
        """
        if not isinstance(stats, SufficientStats):
            raise ShapeError(f"fit_stats expects SufficientStats, got {type(stats).__name__}; build them with SufficientStats(p, q).update(X, Y)")
        if stats.n_samples == 0:
            raise ShapeError(f"{stats!r} contains no samples, expected at least one; call stats.update(X, Y) before fit_stats")

        self.stats_ = stats
        self._owns_stats = False
        self._solve(stats)
        return self
