"""The feature store: layout, atomic shards, checksums and the manifest."""

import json
import threading

import numpy as np
import pytest

from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError, FeatureStoreError, NotFoundError, ShapeError
from t2c.features.atomic import host_name, temp_path
from t2c.features.entry import FeatureEntry
from t2c.features.key import FeatureKey
from t2c.features.manifest import MANIFEST_NAME, keys_digest
from t2c.features.shard import decode_shard
from t2c.features.store import FeatureStore

PREPROCESS = PreprocessConfig()
KEY = FeatureKey(
    model="timm:resnet50.a1_in1k",
    weights_sha256="ab" * 32,
    backend="torch",
    dataset="folder:/data/my photos",
    split="train",
    preprocess_digest=PREPROCESS.digest(),
)
DIM = 6
SPLIT_SIZE = 25
SHARD_SIZE = 10


def sample_keys(start: int, stop: int) -> list[str]:
    return [f"train/{index:05d}" for index in range(start, stop)]


def sample_features(start: int, stop: int) -> np.ndarray:
    """Features whose first column is the sample index, so order mistakes show."""
    features = np.random.default_rng(start).standard_normal((stop - start, DIM)).astype(np.float32)
    features[:, 0] = np.arange(start, stop)
    return features


def new_entry(store: FeatureStore, key: FeatureKey = KEY) -> FeatureEntry:
    return store.open_or_create(key, dim=DIM, split_size=SPLIT_SIZE, shard_size=SHARD_SIZE, preprocess=PREPROCESS)


def write_all(entry: FeatureEntry, shards=None) -> None:
    for index in shards if shards is not None else range(entry.num_shards):
        samples = entry.manifest.shard_range(index)
        entry.write_shard(index, sample_keys(samples.start, samples.stop), sample_features(samples.start, samples.stop))


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path / "features")


def test_round_trip(store):
    entry = new_entry(store)
    write_all(entry)

    keys, features = entry.load()

    assert keys == sample_keys(0, SPLIT_SIZE)
    np.testing.assert_array_equal(features, np.concatenate([sample_features(0, 10), sample_features(10, 20), sample_features(20, 25)]))


def test_reopened_entry_reads_same_features(store):
    write_all(new_entry(store))

    keys, features = store.open(KEY).load()

    assert keys == sample_keys(0, SPLIT_SIZE)
    np.testing.assert_array_equal(features[:, 0], np.arange(SPLIT_SIZE))


@pytest.mark.parametrize("batch_size", [1, 3, 10, 11, 25, 100])
def test_iter_batches_crosses_shards(store, batch_size):
    entry = new_entry(store)
    write_all(entry)

    batches = list(entry.iter_batches(batch_size=batch_size))

    assert [len(keys) for keys, _ in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert sum(len(keys) for keys, _ in batches) == SPLIT_SIZE
    assert [key for keys, _ in batches for key in keys] == sample_keys(0, SPLIT_SIZE)
    np.testing.assert_array_equal(np.concatenate([features for _, features in batches])[:, 0], np.arange(SPLIT_SIZE))


@pytest.mark.parametrize("limit", [0, 1, 10, 13, 25, 1000])
def test_load_limit(store, limit):
    entry = new_entry(store)
    write_all(entry)

    keys, features = entry.load(limit=limit)

    expected = min(limit, SPLIT_SIZE)
    assert keys == sample_keys(0, expected)
    assert features.shape == (expected, DIM)


def test_limit_needs_only_covering_shards(store):
    entry = new_entry(store)
    write_all(entry, shards=[0, 1])

    keys, _ = entry.load(limit=20)

    assert len(keys) == 20
    assert entry.missing_shards() == [2]
    assert entry.missing_shards(limit=13) == []


def test_reading_missing_shards_fails(store):
    entry = new_entry(store)
    write_all(entry, shards=[0, 2])

    with pytest.raises(FeatureStoreError, match=r"missing shards \[1\]"):
        entry.load()
    with pytest.raises(FeatureStoreError, match=r"missing shards \[1\]"):
        list(entry.iter_batches(limit=11))


@pytest.mark.parametrize("limit", [-1, 2.5, "10", True])
def test_invalid_limit_rejected(store, limit):
    with pytest.raises(ConfigError, match="limit"):
        new_entry(store).load(limit=limit)


def test_folder_name_is_readable_with_hash(store):
    entry = new_entry(store)

    assert entry.path.parent == store.root
    assert entry.path.name == f"timm_resnet50.a1_in1k__folder_data_my_photos__{KEY.digest()}"
    assert len(KEY.digest()) == 16


@pytest.mark.parametrize(
    "field, value",
    [
        ("model", "timm:resnet50.tv_in1k"),
        ("weights_sha256", "cd" * 32),
        ("backend", "onnx"),
        ("dataset", "folder:/data/other"),
        ("split", "test"),
        ("preprocess_digest", PreprocessConfig(invert=True).digest()),
    ],
)
def test_every_key_field_selects_entry(store, field, value):
    other = KEY.model_copy(update={field: value})

    assert store.path_for(other) != store.path_for(KEY)
    assert other.digest() != KEY.digest()


def test_default_root_follows_t2c_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("T2C_CACHE", str(tmp_path / "cache"))

    assert FeatureStore().root == tmp_path / "cache" / "features"


def test_manifest_records_layout_and_shards(store):
    entry = new_entry(store)
    write_all(entry)

    manifest = json.loads((entry.path / MANIFEST_NAME).read_text())

    assert manifest["format_version"] == 1
    assert manifest["key"] == KEY.model_dump()
    assert manifest["dim"] == DIM
    assert manifest["split_size"] == SPLIT_SIZE
    assert manifest["shard_size"] == SHARD_SIZE
    assert manifest["preprocess"] == PREPROCESS.model_dump(mode="json")
    assert [shard["file"] for shard in manifest["shards"]] == [f"shard-0000{index}.safetensors" for index in range(3)]
    assert [(shard["start"], shard["count"]) for shard in manifest["shards"]] == [(0, 10), (10, 10), (20, 5)]
    assert manifest["shards"][2]["keys_sha256"] == keys_digest(sample_keys(20, 25))


def test_shard_file_contains_features_and_keys(store):
    entry = new_entry(store)
    write_all(entry, shards=[1])

    keys, features = decode_shard((entry.path / "shard-00001.safetensors").read_bytes(), "shard 1")

    assert keys == sample_keys(10, 20)
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, sample_features(10, 20))


def test_reopened_entry_keeps_recorded_shard_size(store):
    new_entry(store)

    reopened = store.open_or_create(KEY, dim=DIM, split_size=SPLIT_SIZE, shard_size=4, preprocess=PREPROCESS)

    assert reopened.shard_size == SHARD_SIZE
    assert reopened.shards_for() == [0, 1, 2]


def test_other_dim_rejected(store):
    new_entry(store)

    with pytest.raises(FeatureStoreError, match="6-d features but the encoder gives 7-d"):
        store.open_or_create(KEY, dim=7, split_size=SPLIT_SIZE, preprocess=PREPROCESS)


def test_other_split_size_rejected(store):
    new_entry(store)

    with pytest.raises(FeatureStoreError, match="now has 26"):
        store.open_or_create(KEY, dim=DIM, split_size=26, preprocess=PREPROCESS)


def test_changed_sample_keys_rejected(store):
    entry = new_entry(store)
    write_all(entry, shards=[0])
    keys = sample_keys(0, SPLIT_SIZE)
    keys[3] = "train/renamed"

    entry.check_keys(sample_keys(0, SPLIT_SIZE))
    with pytest.raises(FeatureStoreError, match=r"shards \[0\]"):
        entry.check_keys(keys)


def test_open_missing_entry(store):
    with pytest.raises(NotFoundError, match="extract the features first"):
        store.open(KEY)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_features_rejected(store, bad_value):
    entry = new_entry(store)
    features = sample_features(0, 10)
    features[7, 2] = bad_value

    with pytest.raises(ShapeError, match="train/00007"):
        entry.write_shard(0, sample_keys(0, 10), features)
    assert entry.missing_shards() == [0, 1, 2]
    assert not (entry.path / "shard-00000.safetensors").exists()


def test_wrong_feature_shape_rejected(store):
    entry = new_entry(store)

    with pytest.raises(ShapeError, match=r"\(10, 5\)"):
        entry.write_shard(0, sample_keys(0, 10), np.zeros((10, 5), np.float32))


def test_wrong_key_count_rejected(store):
    entry = new_entry(store)

    with pytest.raises(ConfigError, match="covers 5 samples"):
        entry.write_shard(2, sample_keys(20, 24), np.zeros((4, DIM), np.float32))


def test_shard_index_out_of_range(store):
    with pytest.raises(ConfigError, match="out of range"):
        new_entry(store).write_shard(3, [], np.zeros((0, DIM), np.float32))


def test_float64_features_stored_as_float32(store):
    entry = new_entry(store)
    entry.write_shard(0, sample_keys(0, 10), sample_features(0, 10).astype(np.float64))

    _, features = entry.read_shard(0)

    assert features.dtype == np.float32


def test_flipped_byte_detected(store):
    entry = new_entry(store)
    write_all(entry)
    path = entry.path / "shard-00001.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(FeatureStoreError, match="shard-00001.safetensors") as caught:
        entry.load()
    assert "t2c cache verify" in str(caught.value)
    assert "sha256" in str(caught.value)
    assert [problem.path for problem in entry.verify()] == [path]


def test_truncated_shard_detected(store):
    entry = new_entry(store)
    write_all(entry)
    path = entry.path / "shard-00000.safetensors"
    path.write_bytes(path.read_bytes()[:-8])

    with pytest.raises(FeatureStoreError, match="bytes but the manifest records"):
        entry.read_shard(0)
    assert len(entry.verify()) == 1


def test_deleted_shard_detected(store):
    entry = new_entry(store)
    write_all(entry)
    (entry.path / "shard-00002.safetensors").unlink()

    with pytest.raises(FeatureStoreError, match="missing"):
        entry.load()
    assert [problem.problem for problem in entry.verify()] == ["the file is missing"]


def test_intact_entry_verifies(store):
    entry = new_entry(store)
    write_all(entry)

    assert entry.verify() == []


def test_shard_without_manifest_record_is_incomplete(store):
    entry = new_entry(store)
    write_all(entry)
    other = new_entry(store, KEY.model_copy(update={"split": "test"}))
    (entry.path / "shard-00000.safetensors").replace(other.path / "shard-00000.safetensors")

    assert other.missing_shards() == [0, 1, 2]
    with pytest.raises(FeatureStoreError, match="missing shards"):
        other.load(limit=5)


def test_stray_temp_files_ignored_and_cleaned(store):
    entry = new_entry(store)
    write_all(entry, shards=[0])
    dead_writer = entry.path / f"shard-00001.safetensors.tmp-{host_name()}-999999999-abcd"
    dead_writer.write_bytes(b"half a shard")
    live_writer = temp_path(entry.path / "shard-00002.safetensors")
    live_writer.write_bytes(b"still writing")

    assert entry.missing_shards() == [1, 2]
    new_entry(store)

    assert not dead_writer.exists()
    assert live_writer.exists()


def test_shard_written_twice_keeps_first(store):
    entry = new_entry(store)
    first = entry.write_shard(0, sample_keys(0, 10), sample_features(0, 10))
    data = (entry.path / first.file).read_bytes()

    again = entry.write_shard(0, sample_keys(0, 10), sample_features(0, 10) + 1)

    assert again == first
    assert (entry.path / first.file).read_bytes() == data
    assert [path.name for path in entry.path.iterdir() if ".tmp-" in path.name] == []


def test_same_shard_gives_same_bytes(tmp_path):
    entries = [new_entry(FeatureStore(tmp_path / name)) for name in ("one", "two")]
    for entry in entries:
        write_all(entry)

    for index in range(3):
        name = f"shard-0000{index}.safetensors"
        assert (entries[0].path / name).read_bytes() == (entries[1].path / name).read_bytes()


def test_threads_writing_shards_lose_no_record(tmp_path):
    store = FeatureStore(tmp_path)
    entry = store.open_or_create(KEY, dim=DIM, split_size=80, shard_size=5, preprocess=PREPROCESS)

    def write(index: int) -> None:
        FeatureEntry.open(entry.path).write_shard(index, sample_keys(index * 5, index * 5 + 5), sample_features(index * 5, index * 5 + 5))

    threads = [threading.Thread(target=write, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(entry.complete_shards()) == list(range(16))
    assert entry.load()[0] == sample_keys(0, 80)


def test_corrupt_manifest_rejected(store):
    entry = new_entry(store)
    (entry.path / MANIFEST_NAME).write_text("{not json")

    with pytest.raises(FeatureStoreError, match="unreadable"):
        FeatureEntry.open(entry.path)


def test_unknown_format_version_rejected(store):
    entry = new_entry(store)
    manifest = json.loads((entry.path / MANIFEST_NAME).read_text())
    manifest["format_version"] = 99
    (entry.path / MANIFEST_NAME).write_text(json.dumps(manifest))

    with pytest.raises(FeatureStoreError, match="format_version 99"):
        FeatureEntry.open(entry.path)


def test_entries_lists_readable_entries(store):
    new_entry(store)
    broken = new_entry(store, KEY.model_copy(update={"split": "test"}))
    (broken.path / MANIFEST_NAME).write_text("[]")

    assert [entry.key for entry in store.entries()] == [KEY]
    assert len(store.entry_folders()) == 2


def test_remove_frees_bytes(store):
    entry = new_entry(store)
    write_all(entry)
    size = entry.size_on_disk()

    freed = store.remove(entry.path)

    assert freed == size
    assert not entry.path.exists()


def test_remove_outside_store_rejected(store, tmp_path):
    (tmp_path / "elsewhere").mkdir()

    with pytest.raises(ConfigError, match="not an entry folder"):
        store.remove(tmp_path / "elsewhere")
