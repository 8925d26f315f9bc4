"""`linear`: the text-to-concept authors' recipe, a torch nn.Linear trained by SGD on rescaled features.

Recipe (Moayeri et al., ICML 2023; `LinearAligner.py` of github.com/k1rezaei/Text-to-concept):
scale X by c1 and Y by c2 so the variance of all entries of each around one grand mean is
`target_variance` (4.5), train nn.Linear(p, q) on MSE with SGD (lr 0.01, momentum 0.9, weight
decay 5e-4, batch 100) under CosineAnnealingLR(T_max=200) stepped once per epoch, then undo the
scaling: y = (W (c1 x) + b) / c2.
"""

import logging
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from t2c.aligners.base import Aligner
from t2c.aligners.shuffle import shuffled_batch_order, shuffled_minibatches
from t2c.aligners.stats import SufficientStats
from t2c.aligners.validation import check_pair
from t2c.errors import ConfigError, ShapeError

log = logging.getLogger("t2c.aligners.linear")

# A batch from a feature store: (X, Y) or (X, Y, keys), X (b, p) and Y (b, q) numpy arrays.
Batch = tuple
EpochFactory = Callable[[int], Iterable[Batch]]


def split_batch(batch: Batch) -> tuple[Any, Any, Any]:
    """Unpack a batch into (X, Y, keys); keys is None for an (X, Y) batch."""
    if not isinstance(batch, tuple | list) or len(batch) not in (2, 3):
        raise ShapeError(
            f"a batch is {type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}, "
            "expected a tuple (X, Y) or (X, Y, keys); make the epoch iterable yield such tuples"
        )
    if len(batch) == 2:
        return batch[0], batch[1], None
    return batch[0], batch[1], batch[2]


# The authors' cosine schedule length, in epochs. With 5 epochs the rate stays above 99.8% of lr.
COSINE_T_MAX = 200


class GrandMoments:
    """Count, sum and sum of squares over all entries of a stream of arrays, in float64."""

    def __init__(self, count: int = 0, total: float = 0.0, total_squares: float = 0.0):
        self.count = count
        self.total = total
        self.total_squares = total_squares

    def update(self, values: np.ndarray) -> None:
        self.count += values.size
        self.total += float(values.sum(dtype=np.float64))
        self.total_squares += float(np.square(values, dtype=np.float64).sum())

    def variance(self) -> float:
        """Variance of all entries around their grand mean: mean(v²) − mean(v)²."""
        mean = self.total / self.count
        return self.total_squares / self.count - mean**2


def scale_factor(variance: float, target_variance: float, name: str) -> float:
    """Return c = sqrt(target_variance / variance), the factor that gives entries that variance."""
    if not variance > 0.0:
        raise ShapeError(
            f"{name} has variance {variance:.3g} over all its entries, expected > 0; "
            f"linear cannot rescale constant features, so check that {name} is not constant"
        )
    return float(np.sqrt(target_variance / variance))


def check_positive(name: str, value, integer: bool = False, allow_zero: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    low_ok = value >= 0 if allow_zero else value > 0
    if not isinstance(value, kind) or isinstance(value, bool) or not np.isfinite(value) or not low_ok:
        expected = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"linear {name}={value!r} is invalid, expected {expected} {bound}")


class LinearAligner(Aligner):
    """A torch nn.Linear(p, q) trained by SGD on rescaled features, as the text-to-concept authors do.

    Args:
        epochs: passes over the data (the authors' notebook uses 5).
        lr, momentum, weight_decay: torch.optim.SGD settings.
        batch_size: rows per SGD step.
        target_variance: variance of all entries of each side after rescaling.
        random_state: seed of the layer's initialisation and of the data order; None draws one.
        device: torch device of the training ("cpu", "cuda", "cuda:1").
        shuffle_buffer: rows held back by `fit_batches` to mix rows across stream batches.

    Fitted attributes: `coef_` (q, p), `intercept_` (q,), `x_scale_` c1, `y_scale_` c2,
    `hyperparameters_` {"x_scale": c1, "y_scale": c2}, `loss_curve_` (mean training MSE per
    epoch, in rescaled units).
    """

    kind = "linear"

    def __init__(
        self,
        epochs: int = 5,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        batch_size: int = 100,
        target_variance: float = 4.5,
        random_state: int | None = 0,
        device: str = "cpu",
        shuffle_buffer: int = 4096,
    ):
        check_positive("epochs", epochs, integer=True)
        check_positive("lr", lr)
        check_positive("momentum", momentum, allow_zero=True)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        check_positive("batch_size", batch_size, integer=True)
        check_positive("target_variance", target_variance)
        check_positive("shuffle_buffer", shuffle_buffer, integer=True, allow_zero=True)
        if random_state is not None:
            check_positive("random_state", random_state, integer=True, allow_zero=True)
        if not isinstance(device, str):
            raise ConfigError(f"linear device={device!r} is invalid, expected a torch device name such as 'cpu' or 'cuda'")

        self.epochs = epochs
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.target_variance = target_variance
        self.random_state = random_state
        self.device = device
        self.shuffle_buffer = shuffle_buffer

    def fit(self, X, Y, keys: Iterable | None = None) -> "LinearAligner":
        """Train on in-memory features, reshuffling all rows every epoch. `keys` is unused."""
        X, Y = check_pair(X, Y)
        x_scale = scale_factor(float(X.var(dtype=np.float64)), self.target_variance, "X")
        y_scale = scale_factor(float(Y.var(dtype=np.float64)), self.target_variance, "Y")
        self._start(X.shape[1], Y.shape[1], x_scale, y_scale)

        for _ in range(self.epochs):
            order = self._rng.permutation(X.shape[0])
            minibatches = ((X[rows], Y[rows]) for rows in np.array_split(order, range(self.batch_size, X.shape[0], self.batch_size)))
            self._train_epoch(minibatches)
            self._scheduler.step()

        self._finish()
        return self

    def fit_batches(self, make_epoch: EpochFactory, stats: SufficientStats | None = None) -> "LinearAligner":
        """Train on streamed batches, as a feature store supplies them.

        Args:
            make_epoch: `make_epoch(epoch)` returns a finite iterable of (X, Y) or (X, Y, keys)
                numpy batches, X (b, p) and Y (b, q). A list or tuple is visited in random
                order. A plain iterator is visited in its own order, so it should shuffle its
                shards per epoch. Rows then pass through a shuffle buffer of `shuffle_buffer` rows.
            stats: statistics of the same data for the scale factors; without them a first
                pass over `make_epoch(0)` computes the factors.
        """
        if stats is not None:
            if not isinstance(stats, SufficientStats) or stats.n_samples == 0:
                raise ShapeError(f"stats={stats!r} is invalid, expected SufficientStats holding at least one sample")
            moments = stats.total()
            # The trace of XᵀX is the sum of squares of all entries of X.
            x_moments = GrandMoments(moments.n * moments.p, float(moments.sum_x.sum()), float(np.trace(moments.xtx)))
            y_moments = GrandMoments(moments.n * moments.q, float(moments.sum_y.sum()), float(moments.sum_y2.sum()))
            p, q = moments.p, moments.q
        else:
            x_moments, y_moments, p, q = self._scan(make_epoch)

        x_scale = scale_factor(x_moments.variance(), self.target_variance, "X")
        y_scale = scale_factor(y_moments.variance(), self.target_variance, "Y")
        self._start(p, q, x_scale, y_scale)

        for epoch in range(self.epochs):
            batches = shuffled_batch_order(make_epoch(epoch), self._rng)
            pairs = self._checked_pairs(batches, p, q)
            self._train_epoch(shuffled_minibatches(pairs, self.batch_size, self.shuffle_buffer, self._rng))
            self._scheduler.step()

        self._finish()
        return self

    def partial_fit(self, X, Y, keys: Iterable | None = None) -> "LinearAligner":
        """Run one SGD pass over this batch, in random order, without a learning-rate schedule step.

        The first call (without an earlier fit) fixes the scale factors from this batch alone.
        `keys` is unused.
        """
        if "_module" not in vars(self):
            X, Y = check_pair(X, Y)
            x_scale = scale_factor(float(X.var(dtype=np.float64)), self.target_variance, "X")
            y_scale = scale_factor(float(Y.var(dtype=np.float64)), self.target_variance, "Y")
            self._start(X.shape[1], Y.shape[1], x_scale, y_scale)
        else:
            X, Y = check_pair(X, Y, self._module.in_features, self._module.out_features)

        order = self._rng.permutation(X.shape[0])
        minibatches = ((X[rows], Y[rows]) for rows in np.array_split(order, range(self.batch_size, X.shape[0], self.batch_size)))
        self._train_epoch(minibatches)

        self._finish()
        return self

    def fit_stats(self, stats: SufficientStats) -> "LinearAligner":
        raise ConfigError(
            "linear trains by SGD on the features and cannot be fitted from sufficient statistics; "
            "call fit or fit_batches, or use lstsq, ridge or procrustes, which fit from statistics"
        )

    def _scan(self, make_epoch: EpochFactory) -> tuple[GrandMoments, GrandMoments, int, int]:
        """Compute the grand moments of X and Y in one pass over make_epoch(0)."""
        x_moments = GrandMoments()
        y_moments = GrandMoments()
        p = q = None

        for batch in make_epoch(0):
            X, Y, _ = split_batch(batch)
            X, Y = check_pair(X, Y, p, q)
            p, q = X.shape[1], Y.shape[1]
            x_moments.update(X)
            y_moments.update(Y)

        if p is None:
            raise ShapeError("make_epoch(0) yielded no batches, expected at least one (X, Y) batch; check the feature store is not empty")
        return x_moments, y_moments, p, q

    def _checked_pairs(self, batches: Iterable, p: int, q: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in batches:
            X, Y, _ = split_batch(batch)
            yield check_pair(X, Y, p, q)

    def _torch_device(self):
        # NOTE: the test suite runs on CPU only, so training on a CUDA device is untested.
        import torch

        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ConfigError(f"linear device={self.device!r} is invalid ({error}); use 'cpu', 'cuda' or 'cuda:N'") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"linear device={self.device!r} requested but CUDA is not available here; use device='cpu'")
        return device

    def _start(self, p: int, q: int, x_scale: float, y_scale: float) -> None:
        """Create a fresh layer, optimizer, schedule and data-order generator."""
        # torch imports in about a second and only this aligner needs it.
        import torch

        device = self._torch_device()
        with torch.random.fork_rng(devices=[]):
            if self.random_state is not None:
                torch.manual_seed(self.random_state)
            module = torch.nn.Linear(p, q)

        self._module = module.to(device)
        self._device = device
        self._optimizer = torch.optim.SGD(self._module.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        self._scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self._optimizer, T_max=COSINE_T_MAX)
        self._rng = np.random.default_rng(self.random_state)
        self._x_scale = x_scale
        self._y_scale = y_scale
        self.loss_curve_ = []
        log.info("linear: training nn.Linear(%d, %d) on %s with scale factors x %.4g, y %.4g", p, q, device, x_scale, y_scale)

    def _train_epoch(self, minibatches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Run one SGD step per minibatch and record the mean loss."""
        import torch

        device = self._device
        self._module.train()
        loss_sum = torch.zeros((), device=device)
        steps = 0

        for X, Y in minibatches:
            inputs = torch.as_tensor(X, dtype=torch.float32, device=device) * self._x_scale
            targets = torch.as_tensor(Y, dtype=torch.float32, device=device) * self._y_scale

            self._optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(self._module(inputs), targets)
            loss.backward()
            self._optimizer.step()

            loss_sum += loss.detach()
            steps += 1

        mean_loss = float(loss_sum) / max(steps, 1)
        self.loss_curve_.append(mean_loss)
        log.debug("linear: epoch %d, %d steps, mean MSE %.4f (rescaled units)", len(self.loss_curve_), steps, mean_loss)

    def _finish(self) -> None:
        """Undo the scaling and store the affine map in original units."""
        weight = self._module.weight.detach().cpu().double().numpy()
        bias = self._module.bias.detach().cpu().double().numpy()

        # The layer computes c2 y ≈ W (c1 x) + b, so y ≈ (c1 / c2) W x + b / c2. The authors'
        # LinearAligner.py multiplies the bias by c1 / c2 instead of dividing it by c2, which is
        # wrong whenever c1 != 1; this uses the correct b / c2.
        coef = weight * (self._x_scale / self._y_scale)
        intercept = bias / self._y_scale

        self.x_scale_ = self._x_scale
        self.y_scale_ = self._y_scale
        self._set_affine(coef, intercept, {"x_scale": self._x_scale, "y_scale": self._y_scale})
