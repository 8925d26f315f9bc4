"""The `linear` aligner (SGD recipe of the text-to-concept authors) and its streaming shuffle."""

import numpy as np
import pytest
import torch

from t2c.aligners import LinearAligner, LstsqAligner, SufficientStats, r2_paper, r2_sklearn
from t2c.aligners.shuffle import shuffled_batch_order, shuffled_minibatches
from t2c.errors import ConfigError, ShapeError


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Steps of a small nn.Linear are slower with several threads on a busy machine.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def linear_data(seed: int = 0, n: int = 4000, p: int = 16, q: int = 8, x_std: float = 1.0, offsets=None, noise: float = 0.1):
    """Y = signal of unit variance per dimension + offsets + noise, from X of std x_std."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * x_std
    weights = rng.normal(size=(q, p)) / np.sqrt(p)
    offsets = np.zeros(q) if offsets is None else np.asarray(offsets, dtype=np.float64)
    Y = (X / x_std) @ weights.T + offsets + noise * rng.normal(size=(n, q))
    return X, Y


def test_reaches_high_r2():
    X, Y = linear_data()
    aligner = LinearAligner().fit(X, Y)
    Y_pred = aligner.transform(X)

    assert r2_paper(Y, Y_pred) > 0.9
    assert r2_sklearn(Y, Y_pred) > 0.9


def test_scale_factors_give_target_variance():
    X, Y = linear_data(x_std=7.0)
    aligner = LinearAligner(epochs=1).fit(X, Y)

    assert np.var(X * aligner.x_scale_) == pytest.approx(4.5, rel=1e-9)
    assert np.var(Y * aligner.y_scale_) == pytest.approx(4.5, rel=1e-9)
    assert aligner.hyperparameters_ == {"x_scale": aligner.x_scale_, "y_scale": aligner.y_scale_}


def test_bias_unscaling_with_offset_and_scales():
    rng = np.random.default_rng(1)
    offsets = 40.0 + 20.0 * rng.normal(size=8)
    X, Y = linear_data(seed=1, x_std=10.0, offsets=offsets)

    aligner = LinearAligner().fit(X, Y)
    reference = LstsqAligner().fit(X, Y)

    assert aligner.x_scale_ == pytest.approx(0.21, abs=0.01)
    np.testing.assert_allclose(aligner.intercept_, reference.intercept_, atol=0.5)
    assert r2_sklearn(Y, aligner.transform(X)) > 0.9

    # The authors' bias formula b · c1 / c2 equals intercept_ · c1 here, which misses by far.
    authors_intercept = aligner.intercept_ * aligner.x_scale_
    assert np.abs(authors_intercept - reference.intercept_).max() > 10.0


def test_fit_batches_from_list():
    X, Y = linear_data(seed=2)
    batches = [(X[start : start + 500], Y[start : start + 500]) for start in range(0, 4000, 500)]

    aligner = LinearAligner(shuffle_buffer=1000).fit_batches(lambda epoch: batches)

    assert r2_sklearn(Y, aligner.transform(X)) > 0.9
    assert len(aligner.loss_curve_) == 5


def test_fit_batches_from_generator_with_keys():
    X, Y = linear_data(seed=3)
    epochs_requested = []

    def make_epoch(epoch):
        epochs_requested.append(epoch)
        for start in range(0, 4000, 300):
            yield X[start : start + 300], Y[start : start + 300], list(range(start, min(start + 300, 4000)))

    aligner = LinearAligner().fit_batches(make_epoch)

    # One pass for the scale factors, then one per epoch.
    assert epochs_requested == [0, 0, 1, 2, 3, 4]
    assert r2_sklearn(Y, aligner.transform(X)) > 0.9


def test_fit_batches_scale_from_stats():
    X, Y = linear_data(seed=4, x_std=3.0)
    stats = SufficientStats(16, 8, n_folds=1).update(X, Y)
    requested = []

    def make_epoch(epoch):
        requested.append(epoch)
        return [(X, Y)]

    from_stats = LinearAligner(epochs=1).fit_batches(make_epoch, stats=stats)
    scanned = LinearAligner(epochs=1).fit(X, Y)

    assert requested == [0]
    assert from_stats.x_scale_ == pytest.approx(scanned.x_scale_, rel=1e-9)
    assert from_stats.y_scale_ == pytest.approx(scanned.y_scale_, rel=1e-9)


def test_same_seed_same_fit():
    X, Y = linear_data(seed=5, n=600)
    first = LinearAligner(epochs=2, random_state=7).fit(X, Y)
    second = LinearAligner(epochs=2, random_state=7).fit(X, Y)
    other = LinearAligner(epochs=2, random_state=8).fit(X, Y)

    np.testing.assert_array_equal(first.coef_, second.coef_)
    assert not np.array_equal(first.coef_, other.coef_)


def test_loss_decreases():
    X, Y = linear_data(seed=6, n=2000)
    aligner = LinearAligner().fit(X, Y)
    assert aligner.loss_curve_[-1] < aligner.loss_curve_[0]


def test_partial_fit_learns():
    X, Y = linear_data(seed=7)
    aligner = LinearAligner()
    for _ in range(3):
        for start in range(0, 4000, 1000):
            aligner.partial_fit(X[start : start + 1000], Y[start : start + 1000])

    assert r2_sklearn(Y, aligner.transform(X)) > 0.9


def test_constant_features_rejected():
    with pytest.raises(ShapeError, match="X has variance 0 over all its entries"):
        LinearAligner().fit(np.ones((10, 3)), np.random.default_rng(0).normal(size=(10, 2)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_rejected():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        LinearAligner(device="cuda").fit(*linear_data(n=50))


def test_bad_device_name_rejected():
    with pytest.raises(ConfigError, match="linear device='gpu0' is invalid"):
        LinearAligner(device="gpu0").fit(*linear_data(n=50))


def numbered_batches(sizes):
    """Batches whose X rows hold their global row number, Y the number negated."""
    start = 0
    for size in sizes:
        rows = np.arange(start, start + size, dtype=np.float64)[:, None]
        yield rows, -rows
        start += size


def test_shuffle_emits_every_row_once():
    rng = np.random.default_rng(0)
    minibatches = list(shuffled_minibatches(numbered_batches([37, 5, 120, 64]), 10, 50, rng))

    rows = np.concatenate([X[:, 0] for X, _ in minibatches])
    assert sorted(rows.tolist()) == list(range(226))
    assert all(len(X) == 10 for X, _ in minibatches[:-1])
    assert all(np.array_equal(X, -Y) for X, Y in minibatches)


def test_shuffle_mixes_across_batches():
    rng = np.random.default_rng(1)
    minibatches = list(shuffled_minibatches(numbered_batches([100] * 10), 20, 300, rng))

    first = minibatches[0][0][:, 0]
    # The buffer spans several incoming batches before the first minibatch leaves it.
    assert len(set((first // 100).tolist())) >= 2
    assert first.max() >= 100


def test_shuffle_without_buffer_keeps_batches_apart():
    rng = np.random.default_rng(2)
    minibatches = list(shuffled_minibatches(numbered_batches([40, 40]), 10, 0, rng))
    blocks = [set((X[:, 0] // 40).tolist()) for X, _ in minibatches]
    assert blocks == [{0}] * 4 + [{1}] * 4


def test_batch_order_shuffled_for_lists_only():
    rng = np.random.default_rng(3)
    order = list(shuffled_batch_order(list(range(20)), rng))
    assert sorted(order) == list(range(20))
    assert order != list(range(20))

    stream = iter(range(20))
    assert list(shuffled_batch_order(stream, rng)) == list(range(20))
