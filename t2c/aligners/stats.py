"""Streaming sufficient statistics of paired features, kept per cross-validation fold.

For encoder features X (n, p) and target features Y (n, q) the statistics are n, Σx, Σy, XᵀX,
XᵀY and Σy² per output dimension, summed in float64. They need O(p² + pq) memory per fold
whatever n is, they add (so machines can sum their parts), and `lstsq`, `ridge` and
`procrustes` are computed from them exactly.

Each sample goes to the fold given by a stable hash of its key, so the same key lands in the
same fold on every machine and in every run.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from t2c.aligners.validation import check_pair
from t2c.errors import ConfigError, ShapeError

ARRAY_NAMES = ("n", "sum_x", "sum_y", "xtx", "xty", "sum_y2", "n_seen")


def fold_index(keys: Iterable, n_folds: int) -> np.ndarray:
    """Assign each sample key to a fold: blake2b (8-byte digest) of the key, modulo n_folds.

    Args:
        keys: str, bytes or int per sample; an int hashes like its decimal string.
        n_folds: number of folds, >= 1.

    Returns:
        (n,) int64 fold numbers in [0, n_folds).
    """
    folds = []
    for key in keys:
        if isinstance(key, bytes):
            data = key
        elif isinstance(key, str):
            data = key.encode("utf-8")
        elif isinstance(key, int | np.integer) and not isinstance(key, bool):
            data = str(int(key)).encode("ascii")
        else:
            raise ConfigError(
                f"sample key {key!r} has type {type(key).__name__}, expected str, bytes or int; "
                "pass one stable id per sample, such as its file path"
            )
        digest = hashlib.blake2b(data, digest_size=8).digest()
        folds.append(int.from_bytes(digest, "little") % n_folds)

    return np.asarray(folds, dtype=np.int64)


@dataclass(frozen=True)
class Moments:
    """Sums over one group of samples (a fold, all folds, or all but one fold).

    Sums are over samples, not averages: `xtx` is Σ x xᵀ (p, p), `xty` is Σ x yᵀ (p, q),
    `sum_y2` is Σ y_j² per target dimension (q,). All arrays are float64.
    """

    n: int
    sum_x: np.ndarray
    sum_y: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    sum_y2: np.ndarray

    @property
    def p(self) -> int:
        return self.sum_x.shape[0]

    @property
    def q(self) -> int:
        return self.sum_y.shape[0]

    @property
    def mean_x(self) -> np.ndarray:
        """(p,) mean encoder feature; zeros when n == 0."""
        return self.sum_x / max(self.n, 1)

    @property
    def mean_y(self) -> np.ndarray:
        """(q,) mean target feature; zeros when n == 0."""
        return self.sum_y / max(self.n, 1)

    def centered_xx(self) -> np.ndarray:
        """(p, p) centered Gram matrix Σ (x − x̄)(x − x̄)ᵀ."""
        # NOTE: centering raw sums loses about log10(1 + mean² / variance) of float64's 16
        # digits per feature, which matters only for features far from zero relative to their spread.
        return self.xtx - np.outer(self.sum_x, self.mean_x)

    def centered_xy(self) -> np.ndarray:
        """(p, q) centered cross-product Σ (x − x̄)(y − ȳ)ᵀ."""
        return self.xty - np.outer(self.sum_x, self.mean_y)

    def centered_y2(self) -> np.ndarray:
        """(q,) centered sum of squares Σ (y_j − ȳ_j)² per target dimension, clipped at 0."""
        return np.maximum(self.sum_y2 - self.sum_y * self.mean_y, 0.0)

    def __add__(self, other: "Moments") -> "Moments":
        return Moments(
            n=self.n + other.n,
            sum_x=self.sum_x + other.sum_x,
            sum_y=self.sum_y + other.sum_y,
            xtx=self.xtx + other.xtx,
            xty=self.xty + other.xty,
            sum_y2=self.sum_y2 + other.sum_y2,
        )

    def __sub__(self, other: "Moments") -> "Moments":
        return Moments(
            n=self.n - other.n,
            sum_x=self.sum_x - other.sum_x,
            sum_y=self.sum_y - other.sum_y,
            xtx=self.xtx - other.xtx,
            xty=self.xty - other.xty,
            sum_y2=self.sum_y2 - other.sum_y2,
        )


class SufficientStats:
    """Float64 sums n, Σx, Σy, XᵀX, XᵀY and Σy² of paired features, one set per fold.

    Args:
        p: encoder feature dimension (columns of X).
        q: target feature dimension (columns of Y).
        n_folds: number of cross-validation folds; 1 keeps a single set of sums.

    Sums per fold are stored as `n` (n_folds,) int64, `sum_x` (n_folds, p), `sum_y`
    (n_folds, q), `xtx` (n_folds, p, p), `xty` (n_folds, p, q) and `sum_y2` (n_folds, q).
    `n_seen` counts every sample ever added and numbers the samples that come without keys.
    """

    def __init__(self, p: int, q: int, n_folds: int = 5):
        for name, value in (("p", p), ("q", q), ("n_folds", n_folds)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"SufficientStats {name}={value!r} is invalid, expected an integer >= 1")

        self.p = int(p)
        self.q = int(q)
        self.n_folds = int(n_folds)

        self.n = np.zeros(self.n_folds, dtype=np.int64)
        self.sum_x = np.zeros((self.n_folds, self.p))
        self.sum_y = np.zeros((self.n_folds, self.q))
        self.xtx = np.zeros((self.n_folds, self.p, self.p))
        self.xty = np.zeros((self.n_folds, self.p, self.q))
        self.sum_y2 = np.zeros((self.n_folds, self.q))
        self.n_seen = 0

    def __repr__(self) -> str:
        return f"SufficientStats(p={self.p}, q={self.q}, n_folds={self.n_folds}, n={int(self.n.sum())})"

    def update(self, X, Y, keys: Iterable | None = None) -> "SufficientStats":
        """Add a batch of paired features.

        Args:
            X: (n, p) encoder features; float32 batches are multiplied in float32.
            Y: (n, q) target features, row i paired with row i of X.
            keys: n sample keys (str, bytes or int) that pick each sample's fold. Without keys,
                sample i of the stream gets the key `n_seen + i`.

        Returns:
            self, updated in place.
        """
        X, Y = check_pair(X, Y, self.p, self.q)
        n = X.shape[0]

        if keys is None:
            keys = range(self.n_seen, self.n_seen + n)
        else:
            keys = list(keys)
            if len(keys) != n:
                raise ShapeError(f"keys has {len(keys)} entries but X has {n} rows, expected one key per sample; pass keys of the same batch")

        if self.n_folds == 1:
            self._add_rows(0, X, Y)
        else:
            folds = fold_index(keys, self.n_folds)
            for fold in range(self.n_folds):
                rows = np.flatnonzero(folds == fold)
                if rows.size:
                    self._add_rows(fold, X[rows], Y[rows])

        self.n_seen += n
        return self

    def _add_rows(self, fold: int, X: np.ndarray, Y: np.ndarray) -> None:
        # The products run in the inputs' dtype (float32 for speed) and are summed into float64.
        self.n[fold] += X.shape[0]
        self.sum_x[fold] += X.sum(axis=0, dtype=np.float64)
        self.sum_y[fold] += Y.sum(axis=0, dtype=np.float64)
        self.xtx[fold] += X.T @ X
        self.xty[fold] += X.T @ Y
        self.sum_y2[fold] += np.square(Y).sum(axis=0, dtype=np.float64)

    def merge(self, other: "SufficientStats") -> "SufficientStats":
        """Return new statistics holding the sums of both (as if all batches went to one)."""
        if not isinstance(other, SufficientStats):
            raise ConfigError(f"cannot merge SufficientStats with {type(other).__name__}; pass another SufficientStats")
        if (self.p, self.q, self.n_folds) != (other.p, other.q, other.n_folds):
            raise ShapeError(
                f"cannot merge statistics with p={other.p}, q={other.q}, n_folds={other.n_folds} into "
                f"p={self.p}, q={self.q}, n_folds={self.n_folds}; build both from the same encoder, target and fold count"
            )

        merged = SufficientStats(self.p, self.q, self.n_folds)
        merged.n = self.n + other.n
        merged.sum_x = self.sum_x + other.sum_x
        merged.sum_y = self.sum_y + other.sum_y
        merged.xtx = self.xtx + other.xtx
        merged.xty = self.xty + other.xty
        merged.sum_y2 = self.sum_y2 + other.sum_y2
        merged.n_seen = self.n_seen + other.n_seen
        return merged

    def __add__(self, other: "SufficientStats") -> "SufficientStats":
        return self.merge(other)

    def copy(self) -> "SufficientStats":
        """Return an independent copy."""
        return self.merge(SufficientStats(self.p, self.q, self.n_folds))

    @property
    def n_samples(self) -> int:
        """Number of samples over all folds."""
        return int(self.n.sum())

    def total(self) -> Moments:
        """Sums over all folds."""
        return Moments(
            n=int(self.n.sum()),
            sum_x=self.sum_x.sum(axis=0),
            sum_y=self.sum_y.sum(axis=0),
            xtx=self.xtx.sum(axis=0),
            xty=self.xty.sum(axis=0),
            sum_y2=self.sum_y2.sum(axis=0),
        )

    def fold(self, k: int) -> Moments:
        """Sums of fold k alone (the held-out part in cross-validation)."""
        if not 0 <= k < self.n_folds:
            raise ConfigError(f"fold {k} is out of range, expected 0 <= k < {self.n_folds}")

        return Moments(
            n=int(self.n[k]),
            sum_x=self.sum_x[k].copy(),
            sum_y=self.sum_y[k].copy(),
            xtx=self.xtx[k].copy(),
            xty=self.xty[k].copy(),
            sum_y2=self.sum_y2[k].copy(),
        )

    def without_fold(self, k: int) -> Moments:
        """Sums of every fold but k (the training part in cross-validation): total − fold k."""
        return self.total() - self.fold(k)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the sums as named arrays, ready for `safetensors.numpy.save_file`."""
        return {
            "n": self.n.copy(),
            "sum_x": self.sum_x.copy(),
            "sum_y": self.sum_y.copy(),
            "xtx": self.xtx.copy(),
            "xty": self.xty.copy(),
            "sum_y2": self.sum_y2.copy(),
            "n_seen": np.asarray([self.n_seen], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "SufficientStats":
        """Rebuild statistics from the arrays of `to_arrays` (for example as loaded by safetensors)."""
        missing = [name for name in ARRAY_NAMES if name not in arrays]
        if missing:
            raise ShapeError(f"statistics arrays lack {missing}, expected all of {list(ARRAY_NAMES)}; save them with SufficientStats.to_arrays")

        sum_x = np.asarray(arrays["sum_x"], dtype=np.float64)
        sum_y = np.asarray(arrays["sum_y"], dtype=np.float64)
        if sum_x.ndim != 2 or sum_y.ndim != 2:
            raise ShapeError(f"sum_x has shape {sum_x.shape} and sum_y {sum_y.shape}, expected (n_folds, p) and (n_folds, q)")

        n_folds, p = sum_x.shape
        q = sum_y.shape[1]
        stats = cls(p, q, n_folds)

        expected = {
            "n": (n_folds,),
            "sum_y": (n_folds, q),
            "xtx": (n_folds, p, p),
            "xty": (n_folds, p, q),
            "sum_y2": (n_folds, q),
            "n_seen": (1,),
        }
        for name, shape in expected.items():
            found = np.shape(arrays[name])
            if found != shape:
                raise ShapeError(f"statistics array {name} has shape {found}, expected {shape} for p={p}, q={q}, n_folds={n_folds}")

        stats.n = np.asarray(arrays["n"], dtype=np.int64).copy()
        stats.sum_x = sum_x.copy()
        stats.sum_y = sum_y.copy()
        stats.xtx = np.asarray(arrays["xtx"], dtype=np.float64).copy()
        stats.xty = np.asarray(arrays["xty"], dtype=np.float64).copy()
        stats.sum_y2 = np.asarray(arrays["sum_y2"], dtype=np.float64).copy()
        stats.n_seen = int(np.asarray(arrays["n_seen"])[0])
        return stats


def as_moments(stats: "SufficientStats | Moments") -> Moments:
    """Return the total sums of `stats`, which may be SufficientStats or Moments."""
    if isinstance(stats, SufficientStats):
        return stats.total()
    if isinstance(stats, Moments):
        return stats
    raise ConfigError(f"expected SufficientStats or Moments, got {type(stats).__name__}; build them with SufficientStats(p, q).update(X, Y)")
