"""Undecodable images in the feature store: skipped per shard, recorded, left out of reads, paired.

Also: `--strict` semantics in the library, and `t2c cache verify` on a store with a damaged
shard and a damaged manifest.
"""

import json
import logging

import click
import numpy as np
import pytest
from click.testing import CliRunner
from helpers_reliability import BytesDataset, ProjectionEncoder, image_bytes

from t2c import pipeline
from t2c.cli.cache_cmd import register
from t2c.data.folder import FolderDataset
from t2c.data.images import ImageDecodeError
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, FeatureStoreError, NotFoundError, ShapeError
from t2c.features import FeatureStore, LocalExecutor, SkippedSample, extract_features
from t2c.features.manifest import MANIFEST_NAME

SIZE = 40
SHARD_SIZE = 8
BAD = {3: "truncated", 9: "zero-byte", 10: "non-image", 12: "corrupt", 13: "truncated", 14: "truncated", 15: "zero-byte", 16: "non-image", 33: "truncated"}
# Shard 1 covers samples 8..15, six of which are bad.


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path / "features")


def extract(store, encoder=None, dataset=None, split="train", **options):
    return extract_features(
        encoder or ProjectionEncoder(),
        dataset or BytesDataset(SIZE, BAD),
        split,
        store=store,
        batch_size=3,
        shard_size=SHARD_SIZE,
        executor=LocalExecutor(num_workers=2),
        **options,
    )


def good_keys(limit: int = SIZE) -> list[str]:
    return [f"train/{index:05d}" for index in range(limit) if index not in BAD]


def test_shards_keep_fixed_ranges(store):
    records = extract(store).manifest.records()

    assert [(record.start, record.count) for record in records.values()] == [(i * 8, 8) for i in range(5)]
    assert [record.rows for record in records.values()] == [7, 2, 7, 8, 7]


def test_skipped_samples_recorded_with_reason(store):
    entry = extract(store)
    skipped = entry.skipped_samples()

    assert [(sample.index, sample.reason) for sample in skipped] == sorted(BAD.items())
    assert skipped[0].key == "train/00003"
    assert "re-copy the file or remove it" in skipped[0].detail


def test_reading_returns_only_decoded_samples(store):
    keys, features = extract(store).load()

    assert keys == good_keys()
    assert features.shape == (SIZE - len(BAD), 12)


def test_decoded_features_unchanged_by_skips(store, tmp_path):
    clean = extract(FeatureStore(tmp_path / "clean"), dataset=BytesDataset(SIZE, {}))
    clean_keys, clean_features = clean.load()
    keys, features = extract(store).load()

    rows = [clean_keys.index(key) for key in keys]
    # Skips change which images share a batch, which may change the last bits of a BLAS product.
    np.testing.assert_allclose(features, clean_features[rows], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("limit", [1, 4, 9, 16, 17, 34, 40])
def test_limit_counts_samples_not_rows(store, limit):
    entry = extract(store, limit=limit)
    keys, features = entry.load(limit)
    streamed = [key for batch_keys, _ in entry.iter_batches(limit, batch_size=5) for key in batch_keys]

    assert keys == good_keys(limit)
    assert streamed == keys
    assert entry.count_rows(limit) == len(keys) == len(features)


def test_row_positions_pair_labels_with_rows(store):
    entry = extract(store, limit=17)
    positions = entry.row_positions(17)

    assert positions.tolist() == [index for index in range(17) if index not in BAD]
    assert [f"train/{index:05d}" for index in positions] == entry.load(17)[0]


def test_all_samples_of_shard_skipped(store):
    dataset = BytesDataset(16, {index: "zero-byte" for index in range(8, 16)})
    entry = extract(store, dataset=dataset)

    assert entry.manifest.records()[1].rows == 0
    assert entry.load()[0] == [f"train/{index:05d}" for index in range(8)]
    assert entry.verify() == []


def test_skipping_run_is_byte_identical(tmp_path):
    first = extract(FeatureStore(tmp_path / "first"))
    second = extract(FeatureStore(tmp_path / "second"))

    for name in sorted(path.name for path in first.path.glob("shard-*")):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name
    assert first.manifest.shards == second.manifest.shards


def test_cached_entry_skips_without_decoding(store):
    extract(store)
    encoder = ProjectionEncoder()

    entry = extract(store, encoder=encoder)

    assert encoder.images_encoded == 0
    assert len(entry.skipped_samples()) == len(BAD)


def test_summary_counts_reasons(store, caplog):
    with caplog.at_level(logging.WARNING, logger="t2c.features"):
        extract(store)

    summaries = [record.getMessage() for record in caplog.records if "skipped 9 of 40" in record.getMessage()]
    assert len(summaries) == 1
    assert summaries[0].startswith("skipped 9 of 40 images: 4 truncated, 2 non-image, 2 zero-byte, 1 corrupt")
    assert str(store.root) in summaries[0]
    assert "skipped train/00003 (truncated)" in caplog.text


def test_summary_repeats_on_cache_hit(store, caplog):
    extract(store)

    with caplog.at_level(logging.WARNING, logger="t2c.features"):
        extract(store, limit=12)

    assert "skipped 3 of 12 images: 1 non-image, 1 truncated, 1 zero-byte" in caplog.text


def test_strict_stops_at_first_bad_file(store):
    with pytest.raises(ImageDecodeError, match=r"cannot decode image train/00003 \(truncated\).*--strict") as raised:
        extract(store, strict=True)

    assert raised.value.reason == "truncated"
    assert FeatureStore(store.root).entries()[0].complete_shards() == {}


def test_strict_keeps_shards_before_bad_file(store):
    dataset = BytesDataset(SIZE, {20: "non-image"})

    with pytest.raises(ImageDecodeError, match="train/00020"):
        extract(store, dataset=dataset, strict=True)

    entry = FeatureStore(store.root).entries()[0]
    assert set(entry.complete_shards()) == {0, 1}
    assert entry.verify() == []


def test_strict_raises_for_cached_skip(store):
    extract(store)
    encoder = ProjectionEncoder()

    with pytest.raises(ImageDecodeError, match=r"train/00003 \(truncated\).*an earlier run without --strict") as raised:
        extract(store, encoder=encoder, strict=True)

    assert encoder.images_encoded == 0
    assert MANIFEST_NAME in str(raised.value)


def test_strict_passes_on_clean_data(store):
    entry = extract(store, dataset=BytesDataset(SIZE, {}), strict=True)

    assert len(entry.load()[0]) == SIZE


def test_other_data_errors_still_stop(tmp_path, store):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(4):
        (folder / f"{index}.png").write_bytes(image_bytes(index, {}))
    dataset = FolderDataset(folder)
    (folder / "2.png").unlink()

    with pytest.raises(NotFoundError, match="2.png not found"):
        extract(store, dataset=dataset, split="all")


def test_nan_row_names_key_after_skips(store):
    dataset = BytesDataset(SIZE, BAD)
    encoder = ProjectionEncoder()
    sample_17 = to_pixels([dataset.train.load(17)], encoder.preprocess)[0]

    class NaNOnSample17(ProjectionEncoder):
        def encode(self, pixels):
            features = super().encode(pixels)
            features[(pixels == sample_17).all(axis=(1, 2, 3))] = np.nan
            return features

    with pytest.raises(ShapeError, match="train/00017"):
        extract(store, encoder=NaNOnSample17(), dataset=dataset)


# Paired reading: entries of two encoders on one split skip the same keys.


def test_paired_batches_stay_aligned(store):
    source = extract(store, encoder=ProjectionEncoder(seed=1, dim=6))
    destination = extract(store, encoder=ProjectionEncoder(seed=2, dim=4))

    pairs = list(pipeline.paired_batches(source, destination, SIZE, batch_size=7))
    keys = [key for batch_keys, _, _ in pairs for key in batch_keys]

    assert keys == good_keys()
    assert all(x.shape[0] == y.shape[0] == len(k) for k, x, y in pairs)
    assert pipeline.accumulate_stats(source, destination, SIZE).total().n == SIZE - len(BAD)


def test_fit_head_on_data_with_skips(store):
    runtime = pipeline.Runtime(store=store, batch_size=4)
    dataset = BytesDataset(SIZE, BAD)

    head = pipeline.fit_head(ProjectionEncoder(seed=1, dim=6), pipeline.EncoderAsTarget(ProjectionEncoder(seed=2, dim=4)),
                             dataset, "lstsq", limit=None, runtime=runtime)

    assert head.coef.shape == (4, 6)
    assert np.isfinite(head.coef).all()


def test_runtime_strict_reaches_extraction(store):
    runtime = pipeline.Runtime(store=store, strict=True)

    with pytest.raises(ImageDecodeError, match="train/00003"):
        pipeline.embed(ProjectionEncoder(), BytesDataset(SIZE, BAD), "train", runtime=runtime)


def test_paired_entries_with_different_skips_raise(store, tmp_path):
    source = extract(store, encoder=ProjectionEncoder(seed=1, dim=6))
    other = extract(FeatureStore(tmp_path / "other"), encoder=ProjectionEncoder(seed=2, dim=4), dataset=BytesDataset(SIZE, {3: "truncated"}))

    with pytest.raises(FeatureStoreError, match="list different samples"):
        list(pipeline.paired_batches(source, other, SIZE, batch_size=7))


# write_shard and check_keys with skipped samples.


def skipped(index: int, reason: str = "truncated") -> SkippedSample:
    return SkippedSample(index=index, key=f"train/{index:05d}", reason=reason, detail="test")


@pytest.fixture
def empty_entry(store):
    entry = extract(store, dataset=BytesDataset(SIZE, {}), limit=1)
    return entry


@pytest.mark.parametrize(
    ("keys", "skips", "message"),
    [
        (range(8, 16), [skipped(9)], "got 8 keys and 1 skipped samples"),
        ([8, 10, 11, 12, 13, 14, 15], [skipped(30)], "outside shard 1"),
        ([8, 10, 11, 12, 13, 14], [skipped(9), skipped(9)], "skipped sample twice"),
        ([8, 9, 10, 11, 12, 13, 14], [skipped(9)], "both a decoded key and a skipped sample"),
    ],
    ids=["too many", "outside range", "listed twice", "decoded and skipped"],
)
def test_write_shard_rejects_bad_skips(empty_entry, keys, skips, message):
    keys = [f"train/{index:05d}" for index in keys]

    with pytest.raises(ConfigError, match=message):
        empty_entry.write_shard(1, keys, np.zeros((len(keys), 12), np.float32), skips)


def test_changed_skipped_key_detected(store):
    entry = extract(store)
    keys = [f"train/{index:05d}" for index in range(SIZE)]
    keys[3], keys[4] = keys[4], keys[3]

    with pytest.raises(FeatureStoreError, match=r"other samples than test:bytes split train in shards \[0\]"):
        entry.check_keys(keys)


# `t2c cache verify` reports a damaged shard and a damaged manifest together.


@click.group()
def cache_cli():
    """The test's stand-in for the `t2c` group."""


register(cache_cli)


def test_cache_verify_reports_shard_and_manifest(tmp_path):
    store = FeatureStore(tmp_path / "features")
    damaged = extract(store, encoder=ProjectionEncoder(seed=1))
    unreadable = extract(store, encoder=ProjectionEncoder(seed=2))
    intact = extract(store, encoder=ProjectionEncoder(seed=3))
    shard = damaged.path / "shard-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0x10
    shard.write_bytes(bytes(data))
    (unreadable.path / MANIFEST_NAME).write_text('{"format_version": 1, "key": ')

    result = CliRunner(env={"T2C_CACHE": str(tmp_path)}).invoke(cache_cli, ["cache", "verify", "--json"])
    report = json.loads(result.output)
    damaged_paths = {row["path"]: row["problem"] for row in report["damaged"]}

    assert result.exit_code == 1
    assert report["entries"] == 3
    assert report["shards"] == 10
    assert set(damaged_paths) == {str(shard), str(unreadable.path)}
    assert "sha256" in damaged_paths[str(shard)]
    assert "unreadable" in damaged_paths[str(unreadable.path)]
    assert intact.verify() == []


# A manifest whose values are damaged but still valid JSON of the right types is rejected on open.


def set_shard_size(manifest):
    manifest["shard_size"] = 0


def point_file_elsewhere(manifest):
    manifest["shards"][0]["file"] = "../../manifest.json"


def move_skipped_outside(manifest):
    manifest["shards"][0]["skipped"][0]["index"] = 30


def enlarge_dim(manifest):
    manifest["dim"] = 10**12


def shift_start(manifest):
    manifest["shards"][1]["start"] = 3


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (set_shard_size, "shard_size 0 must be"),
        (point_file_elsewhere, "file '../../manifest.json', expected 0, 8 and 'shard-00000.safetensors'"),
        (move_skipped_outside, r"skipped samples \[30\]"),
        (shift_start, "shard 1 records start 3"),
    ],
    ids=["zero shard size", "file outside entry", "skip outside shard", "shifted start"],
)
def test_inconsistent_manifest_rejected(store, damage, message):
    entry = extract(store)
    manifest = json.loads((entry.path / MANIFEST_NAME).read_text())
    damage(manifest)
    (entry.path / MANIFEST_NAME).write_text(json.dumps(manifest))

    with pytest.raises(FeatureStoreError, match=message):
        entry.refresh()


def test_huge_dim_fails_on_read(store):
    entry = extract(store)
    manifest = json.loads((entry.path / MANIFEST_NAME).read_text())
    enlarge_dim(manifest)
    (entry.path / MANIFEST_NAME).write_text(json.dumps(manifest))
    entry.refresh()

    with pytest.raises(FeatureStoreError, match="features have shape"):
        entry.load()
