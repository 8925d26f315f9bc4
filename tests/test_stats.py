"""Streaming sufficient statistics: fold assignment, additivity, batch invariance, storage."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from t2c.aligners import SufficientStats, fold_index
from t2c.errors import ConfigError, ShapeError

FIELDS = ("n", "sum_x", "sum_y", "xtx", "xty", "sum_y2")


def make_pair(seed: int, n: int = 40, p: int = 4, q: int = 3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 1.5
    Y = X @ rng.normal(size=(p, q)) + rng.normal(size=(n, q)) - 2.0
    return X.astype(dtype), Y.astype(dtype)


def assert_stats_close(actual: SufficientStats, expected: SufficientStats, rtol: float = 1e-12) -> None:
    for field in FIELDS:
        np.testing.assert_allclose(getattr(actual, field), getattr(expected, field), rtol=rtol, atol=1e-9, err_msg=field)


def test_fold_index_is_blake2b_of_key():
    keys = ["img/0001.png", b"raw-bytes", 12345]
    expected = [
        int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") % 7
        for data in (b"img/0001.png", b"raw-bytes", b"12345")
    ]
    assert fold_index(keys, 7).tolist() == expected


def test_fold_index_int_equals_decimal_string():
    assert fold_index([42, np.int64(7)], 5).tolist() == fold_index(["42", "7"], 5).tolist()


def test_fold_index_spreads_keys_evenly():
    counts = np.bincount(fold_index(range(5000), 5), minlength=5)
    assert counts.min() > 900
    assert counts.max() < 1100


def test_fold_index_rejects_float_key():
    with pytest.raises(ConfigError, match="expected str, bytes or int"):
        fold_index([1.5], 5)


def test_stats_match_direct_sums():
    X, Y = make_pair(0)
    total = SufficientStats(4, 3, n_folds=5).update(X, Y).total()

    assert total.n == 40
    np.testing.assert_allclose(total.sum_x, X.sum(axis=0))
    np.testing.assert_allclose(total.sum_y, Y.sum(axis=0))
    np.testing.assert_allclose(total.xtx, X.T @ X)
    np.testing.assert_allclose(total.xty, X.T @ Y)
    np.testing.assert_allclose(total.sum_y2, (Y**2).sum(axis=0))


def test_stats_folds_follow_keys():
    X, Y = make_pair(1)
    keys = [f"sample-{i}" for i in range(40)]
    stats = SufficientStats(4, 3, n_folds=3).update(X, Y, keys)
    folds = fold_index(keys, 3)

    for k in range(3):
        rows = folds == k
        assert stats.fold(k).n == rows.sum()
        np.testing.assert_allclose(stats.fold(k).xty, X[rows].T @ Y[rows])
        np.testing.assert_allclose(stats.without_fold(k).xtx, X[~rows].T @ X[~rows], atol=1e-9)


def test_stats_without_keys_count_samples():
    X, Y = make_pair(2)
    streamed = SufficientStats(4, 3).update(X[:15], Y[:15]).update(X[15:], Y[15:])
    keyed = SufficientStats(4, 3).update(X, Y, keys=range(40))

    assert streamed.n_seen == 40
    assert_stats_close(streamed, keyed)


def test_stats_float32_sums_are_float64():
    X, Y = make_pair(3, dtype=np.float32)
    stats = SufficientStats(4, 3).update(X, Y)
    reference = SufficientStats(4, 3).update(X.astype(np.float64), Y.astype(np.float64))

    for field in FIELDS[1:]:
        assert getattr(stats, field).dtype == np.float64
    assert_stats_close(stats, reference, rtol=1e-5)


def test_stats_float64_products_are_exact():
    X, Y = make_pair(4)
    X = X * 1e4 + 1e-4
    total = SufficientStats(4, 3, n_folds=1).update(X, Y).total()
    np.testing.assert_allclose(total.xtx, X.T @ X, rtol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    cut_fractions=st.lists(st.floats(0.0, 1.0), max_size=4),
    n_folds=st.integers(1, 4),
)
def test_merge_equals_concatenation(seed, cut_fractions, n_folds):
    X, Y = make_pair(seed, n=30)
    keys = [f"k{i}" for i in range(30)]
    cuts = sorted({int(f * 30) for f in cut_fractions} | {0, 30})

    merged = SufficientStats(4, 3, n_folds)
    for start, stop in zip(cuts[:-1], cuts[1:]):
        part = SufficientStats(4, 3, n_folds).update(X[start:stop], Y[start:stop], keys[start:stop]) if stop > start else SufficientStats(4, 3, n_folds)
        merged = merged + part

    whole = SufficientStats(4, 3, n_folds).update(X, Y, keys)
    assert_stats_close(merged, whole)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), batch_size=st.integers(1, 30))
def test_stats_invariant_to_order_and_batches(seed, batch_size):
    X, Y = make_pair(seed, n=30)
    keys = np.asarray([f"k{i}" for i in range(30)])
    order = np.random.default_rng(seed).permutation(30)

    shuffled = SufficientStats(4, 3, n_folds=3)
    for start in range(0, 30, batch_size):
        rows = order[start : start + batch_size]
        shuffled.update(X[rows], Y[rows], keys[rows].tolist())

    whole = SufficientStats(4, 3, n_folds=3).update(X, Y, keys.tolist())
    assert_stats_close(shuffled, whole, rtol=1e-10)


def test_folds_add_up_to_total():
    X, Y = make_pair(5)
    stats = SufficientStats(4, 3, n_folds=4).update(X, Y)
    summed = stats.fold(0) + stats.fold(1) + stats.fold(2) + stats.fold(3)

    np.testing.assert_allclose(summed.xtx, stats.total().xtx)
    assert summed.n == 40


def test_arrays_round_trip_through_safetensors(tmp_path):
    X, Y = make_pair(6)
    stats = SufficientStats(4, 3, n_folds=3).update(X, Y)

    path = tmp_path / "stats.safetensors"
    save_file(stats.to_arrays(), str(path))
    loaded = SufficientStats.from_arrays(load_file(str(path)))

    assert (loaded.p, loaded.q, loaded.n_folds, loaded.n_seen) == (4, 3, 3, 40)
    assert_stats_close(loaded, stats, rtol=0)


def test_from_arrays_missing_array():
    arrays = SufficientStats(4, 3).to_arrays()
    del arrays["xty"]
    with pytest.raises(ShapeError, match="xty"):
        SufficientStats.from_arrays(arrays)


def test_from_arrays_wrong_shape():
    arrays = SufficientStats(4, 3).to_arrays()
    arrays["xtx"] = np.zeros((5, 4, 5))
    with pytest.raises(ShapeError, match=r"xtx has shape \(5, 4, 5\), expected \(5, 4, 4\)"):
        SufficientStats.from_arrays(arrays)


@pytest.mark.parametrize(
    ("X", "Y", "keys", "message"),
    [
        (np.zeros((5, 3)), np.zeros((5, 3)), None, r"X has shape \(5, 3\), expected \(n, 4\)"),
        (np.zeros((5, 4)), np.zeros((6, 3)), None, "X has 5 rows but Y has 6"),
        (np.full((5, 4), np.nan), np.zeros((5, 3)), None, "X contains 20 NaN or infinite values"),
        (np.zeros((5, 4)), np.zeros((5, 3)), ["a", "b"], "keys has 2 entries but X has 5 rows"),
        (np.zeros(4), np.zeros(3), None, r"reshape a single sample"),
    ],
    ids=["wrong width", "row mismatch", "nan", "key count", "1-d"],
)
def test_update_rejects_bad_input(X, Y, keys, message):
    with pytest.raises(ShapeError, match=message):
        SufficientStats(4, 3).update(X, Y, keys)


def test_merge_rejects_other_dimensions():
    with pytest.raises(ShapeError, match="cannot merge statistics with p=5"):
        SufficientStats(4, 3) + SufficientStats(5, 3)


@pytest.mark.parametrize("arguments", [(0, 3, 5), (4, 3, 0), (4.5, 3, 5)])
def test_stats_reject_bad_sizes(arguments):
    with pytest.raises(ConfigError, match="expected an integer >= 1"):
        SufficientStats(*arguments)


def test_fold_out_of_range():
    with pytest.raises(ConfigError, match="fold 5 is out of range"):
        SufficientStats(4, 3, n_folds=5).fold(5)
