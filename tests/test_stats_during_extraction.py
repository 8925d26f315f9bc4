"""Aligner statistics summed while the target's shards are extracted equal those read back from the store."""

import logging

import numpy as np
import pytest
from helpers_extract import SyntheticDataset, TinyConvEncoder

from t2c.errors import FeatureStoreError
from t2c.features.executors import LocalExecutor
from t2c.features.extract import extract_features
from t2c.features.paired_stats import STATS_PREFIX, PairedStats, StatsTap
from t2c.features.store import FeatureStore
from t2c.pipeline import EncoderAsTarget, Runtime, accumulate_stats, fit_head

SAMPLES = 300
LIMIT = 250  # not a multiple of the shard size, so the last shard is cut
SHARD_SIZE = 64


@pytest.fixture
def store(tmp_path):
    return FeatureStore(tmp_path / "features")


@pytest.fixture
def dataset():
    return SyntheticDataset(SAMPLES)


def extract(encoder, dataset, store, limit, executor=None):
    return extract_features(
        encoder, dataset, "train", store=store, limit=limit, batch_size=16, shard_size=SHARD_SIZE,
        executor=executor or LocalExecutor(num_workers=1),
    )


def assert_same_stats(found, expected):
    for name, array in expected.to_arrays().items():
        np.testing.assert_allclose(found.to_arrays()[name], array, rtol=1e-6, atol=1e-6, err_msg=name)


def test_tap_sums_written_shards(store, dataset):
    x_entry = extract(TinyConvEncoder(seed=0), dataset, store, LIMIT)
    tap = StatsTap(LocalExecutor(num_workers=1), x_entry, LIMIT, n_folds=5)
    y_entry = extract(TinyConvEncoder(seed=1), dataset, store, LIMIT, executor=tap)

    assert tap.paired.shards == set(tap.paired.needed_shards())
    assert tap.paired.stats.n_samples == LIMIT
    assert_same_stats(tap.paired.stats, accumulate_stats(x_entry, y_entry, LIMIT, n_folds=5))


def test_untapped_shards_read_from_store(store, dataset):
    x_entry = extract(TinyConvEncoder(seed=0), dataset, store, LIMIT)
    extract(TinyConvEncoder(seed=1), dataset, store, 1)  # shard 0 of the target is cached
    tap = StatsTap(LocalExecutor(num_workers=1), x_entry, LIMIT)
    y_entry = extract(TinyConvEncoder(seed=1), dataset, store, LIMIT, executor=tap)

    assert 0 not in tap.paired.shards
    stats = tap.paired.complete()
    assert_same_stats(stats, accumulate_stats(x_entry, y_entry, LIMIT))
    assert tap.paired.path.is_file()


def test_saved_statistics_are_loaded_again(store, dataset):
    x_entry = extract(TinyConvEncoder(seed=0), dataset, store, LIMIT)
    y_entry = extract(TinyConvEncoder(seed=1), dataset, store, LIMIT)
    saved = PairedStats(x_entry, y_entry, LIMIT).complete()

    again = PairedStats(x_entry, y_entry, LIMIT)
    assert again.load()
    assert_same_stats(again.stats, saved)
    assert not PairedStats(x_entry, y_entry, LIMIT - 1).load()


def test_fit_head_matches_plain_fit(store, dataset, caplog):
    extract(TinyConvEncoder(seed=0), dataset, store, LIMIT)
    extract(TinyConvEncoder(seed=1), dataset, store, 1)  # fixes the target entry's shard size

    def fit(during):
        runtime = Runtime(store=store, stats_during_extraction=during, executor_options={"num_workers": "1"})
        target = EncoderAsTarget(TinyConvEncoder(seed=1))
        return fit_head(TinyConvEncoder(seed=0), target, dataset, "ridge", split="train", limit=LIMIT, runtime=runtime)

    during = fit(True)
    x_entry = next(entry for entry in store.entries() if entry.key.weights_sha256 == TinyConvEncoder(seed=0).weights_sha256)
    assert len(list(x_entry.path.glob(STATS_PREFIX + "*.safetensors"))) == 1

    # The features are nearly collinear and CV picks a tiny alpha, so the coefficients react to
    # float32 rounding of the sums. The aligned features barely change.
    plain = fit(False)
    _, x = x_entry.load(LIMIT)
    aligned = plain.transform(x)
    np.testing.assert_allclose(during.transform(x), aligned, atol=1e-4 * np.abs(aligned).max())

    with caplog.at_level(logging.INFO, logger="t2c.features.paired_stats"):
        repeated = fit(True)
    assert "loaded aligner statistics" in caplog.text
    np.testing.assert_array_equal(repeated.coef, during.coef)


def test_different_shard_sizes_rejected(store, dataset):
    x_entry = extract(TinyConvEncoder(seed=0), dataset, store, LIMIT)
    y_entry = extract_features(TinyConvEncoder(seed=1), dataset, "train", store=store, limit=LIMIT, shard_size=32)

    with pytest.raises(FeatureStoreError, match="shard sizes 64 and 32"):
        PairedStats(x_entry, y_entry, LIMIT)
