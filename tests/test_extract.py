"""Feature extraction: caching, resuming, killed runs, concurrent runs and throughput."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pluggy
import pytest

from helpers_extract import SyntheticDataset, SyntheticSplit, TinyConvEncoder
from t2c import hookspecs
from t2c.builtins import executors as builtin_executors
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, DataError, FeatureStoreError, ShapeError
from t2c.features import Executor, FeatureStore, LocalExecutor, extract_features
from t2c.features.manifest import MANIFEST_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
HELPER = Path(__file__).resolve().parent / "helpers_extract.py"
SAMPLES = 600
SHARD_SIZE = 64
NUM_SHARDS = 10  # ceil(600 / 64)


def helper_command(root: Path, *extra: str) -> list[str]:
    return [sys.executable, str(HELPER), "--root", str(root), "--samples", str(SAMPLES), "--shard-size", str(SHARD_SIZE), *extra]


def helper_env() -> dict:
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run_helper(root: Path, *extra: str) -> dict:
    """Run an extraction in a subprocess to the end and return its JSON summary."""
    done = subprocess.run(helper_command(root, *extra), env=helper_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def entry_folder(root: Path) -> Path:
    (folder,) = [path for path in root.iterdir() if path.is_dir()]
    return folder


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def manifest_without_timestamps(folder: Path) -> dict:
    manifest = read_manifest(folder)
    del manifest["created"], manifest["updated"]
    return manifest


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("shard-*.safetensors"))}


def temp_files(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if ".tmp-" in path.name]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The entry folder of an uninterrupted run."""
    root = tmp_path_factory.mktemp("reference")
    run_helper(root)
    return entry_folder(root)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> dict:
    """Kill an extraction with SIGKILL after its first complete shard, then resume it."""
    root = tmp_path_factory.mktemp("killed")
    process = subprocess.Popen(helper_command(root, "--delay", "0.05"), env=helper_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    deadline = time.monotonic() + 120
    manifest = None
    while time.monotonic() < deadline and process.poll() is None:
        folders = [path for path in root.iterdir() if path.is_dir()]
        manifest = read_manifest(folders[0]) if folders else None
        if manifest and manifest["shards"]:
            break
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    folder = entry_folder(root)
    at_kill = read_manifest(folder)
    inodes = {shard["file"]: (folder / shard["file"]).stat().st_ino for shard in at_kill["shards"]}
    resumed = run_helper(root)
    return {"folder": folder, "at_kill": at_kill, "inodes": inodes, "resumed": resumed, "returncode": process.returncode}


def test_kill_lands_mid_extraction(killed_and_resumed):
    assert killed_and_resumed["returncode"] == -signal.SIGKILL
    assert 1 <= len(killed_and_resumed["at_kill"]["shards"]) < NUM_SHARDS


def test_resumed_run_matches_uninterrupted_run(killed_and_resumed, reference):
    folder = killed_and_resumed["folder"]

    assert manifest_without_timestamps(folder) == manifest_without_timestamps(reference)
    assert shard_bytes(folder) == shard_bytes(reference)
    assert len(shard_bytes(folder)) == NUM_SHARDS
    assert temp_files(folder) == []


def test_resumed_run_computes_only_missing_shards(killed_and_resumed):
    folder = killed_and_resumed["folder"]
    done_before = sum(shard["count"] for shard in killed_and_resumed["at_kill"]["shards"])

    assert killed_and_resumed["resumed"]["images_encoded"] == SAMPLES - done_before
    for name, inode in killed_and_resumed["inodes"].items():
        assert (folder / name).stat().st_ino == inode, f"{name} was rewritten"


def test_concurrent_runs_share_entry(tmp_path, reference):
    processes = [
        subprocess.Popen(helper_command(tmp_path, "--delay", "0.01"), env=helper_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]

    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    encoded = [json.loads(stdout.strip().splitlines()[-1])["images_encoded"] for stdout, _ in outputs]
    folder = entry_folder(tmp_path)
    assert SAMPLES <= sum(encoded) <= 2 * SAMPLES
    assert manifest_without_timestamps(folder) == manifest_without_timestamps(reference)
    assert shard_bytes(folder) == shard_bytes(reference)
    assert temp_files(folder) == []
    assert FeatureStore(tmp_path).entries()[0].verify() == []


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path)


def test_features_match_direct_encoding(store):
    encoder = TinyConvEncoder()
    dataset = SyntheticDataset(40)
    split = dataset.split("train")

    keys, features = extract_features(encoder, dataset, "train", store=store, batch_size=8, shard_size=16).load()

    pixels = to_pixels([split.load(index) for index in range(40)], encoder.preprocess)
    assert keys == split.keys
    np.testing.assert_allclose(features, encoder.encode(pixels), rtol=0, atol=1e-5)


def test_second_run_hits_cache(store):
    dataset = SyntheticDataset(40)
    extract_features(TinyConvEncoder(), dataset, "train", store=store, shard_size=16)
    encoder = TinyConvEncoder()

    entry = extract_features(encoder, dataset, "train", store=store, shard_size=16)

    assert encoder.images_encoded == 0
    assert entry.num_samples() == 40


def test_limit_computes_whole_covering_shards(store):
    encoder = TinyConvEncoder()

    entry = extract_features(encoder, SyntheticDataset(40), "train", store=store, limit=20, shard_size=16)

    assert encoder.images_encoded == 32
    assert sorted(entry.complete_shards()) == [0, 1]
    assert len(entry.load(limit=20)[0]) == 20
    with pytest.raises(FeatureStoreError, match="missing shards"):
        entry.load()


def test_larger_limit_computes_only_missing(store):
    dataset = SyntheticDataset(40)
    first = extract_features(TinyConvEncoder(), dataset, "train", store=store, limit=20, shard_size=16)
    shard_one = (first.path / "shard-00001.safetensors").read_bytes()
    encoder = TinyConvEncoder()

    entry = extract_features(encoder, dataset, "train", store=store, shard_size=16)

    assert encoder.images_encoded == 8
    assert (entry.path / "shard-00001.safetensors").read_bytes() == shard_one
    assert len(entry.load()[0]) == 40


def test_progress_receives_batch_sizes(store):
    counts = []

    class Progress:
        total = None

        def __call__(self, count):
            counts.append(count)

        def set_total(self, total):
            self.total = total

    progress = Progress()
    extract_features(TinyConvEncoder(), SyntheticDataset(40), "train", store=store, batch_size=12, shard_size=16, progress=progress)

    assert progress.total == 40
    assert counts == [12, 4, 12, 4, 8]


def test_dataset_overrides_change_entry(store):
    plain = extract_features(TinyConvEncoder(), SyntheticDataset(16), "train", store=store)
    inverted = extract_features(TinyConvEncoder(), SyntheticDataset(16, overrides={"invert": True}), "train", store=store)

    assert plain.path != inverted.path
    assert inverted.manifest.preprocess["invert"] is True
    assert not np.allclose(plain.load()[1], inverted.load()[1])


def test_changed_dataset_rejected(store):
    extract_features(TinyConvEncoder(), SyntheticDataset(40), "train", store=store, shard_size=16)

    with pytest.raises(FeatureStoreError, match="now has 41"):
        extract_features(TinyConvEncoder(), SyntheticDataset(41), "train", store=store, shard_size=16)


def test_nan_features_name_sample(store):
    class NaNEncoder(TinyConvEncoder):
        def encode(self, pixels):
            features = super().encode(pixels)
            features[1, 0] = np.nan
            return features

    with pytest.raises(ShapeError, match="train/00001"):
        extract_features(NaNEncoder(), SyntheticDataset(8), "train", store=store)


def test_wrong_encoder_output_rejected(store):
    class ShortEncoder(TinyConvEncoder):
        def encode(self, pixels):
            return super().encode(pixels)[:, :5]

    with pytest.raises(ShapeError, match=r"shape \(8, 5\)"):
        extract_features(ShortEncoder(), SyntheticDataset(8), "train", store=store)


def test_decode_error_propagates(store):
    class BrokenSplit(SyntheticSplit):
        def load(self, index):
            raise DataError(f"cannot decode sample {index}")

    dataset = SyntheticDataset(8)
    dataset.train = BrokenSplit("train", 8)

    with pytest.raises(DataError, match="cannot decode sample 0"):
        extract_features(TinyConvEncoder(), dataset, "train", store=store)
    assert FeatureStore(store.root).entries()[0].missing_shards() == [0]


@pytest.mark.parametrize("options", [{"batch_size": 0}, {"limit": -3}, {"shard_size": 0}, {"executor": "local"}])
def test_invalid_options_rejected(store, options):
    with pytest.raises(ConfigError):
        extract_features(TinyConvEncoder(), SyntheticDataset(8), "train", store=store, **options)


@pytest.mark.parametrize("options", [{"num_workers": 0}, {"num_workers": "two"}, {"prefetch_batches": -1}, {"workers": 2}])
def test_local_executor_rejects_bad_options(options):
    with pytest.raises(ConfigError, match="num_workers|prefetch_batches"):
        LocalExecutor(**options)


def test_local_executor_parses_option_strings():
    executor = LocalExecutor(num_workers="3", prefetch_batches="5")

    assert executor.num_workers == 3
    assert executor.prefetch_batches == 5


def test_local_executor_registered():
    manager = pluggy.PluginManager("t2c")
    manager.add_hookspecs(hookspecs)
    manager.register(builtin_executors)
    registered = {}

    manager.hook.register_executors(register=registered.__setitem__)

    assert registered == {"local": LocalExecutor}
    assert issubclass(registered["local"], Executor)


class EventLog:
    """Records when batches are encoded and images decoded, so overlap is shown by ordering, not timing."""

    def __init__(self):
        self.lock = threading.Lock()
        self.encoding = False
        self.loads_during_encode = 0

    def loaded(self):
        with self.lock:
            if self.encoding:
                self.loads_during_encode += 1


class LoggingSplit(SyntheticSplit):
    def __init__(self, name, size, events):
        super().__init__(name, size)
        self.events = events

    def load(self, index):
        self.events.loaded()
        return super().load(index)


class LoggingDataset(SyntheticDataset):
    def __init__(self, size, events):
        super().__init__(size, dataset_id="synthetic:logged")
        self.logged_split = LoggingSplit("train", size, events)

    def split(self, name):
        return self.logged_split


class SlowEncoder(TinyConvEncoder):
    """An encoder whose forward pass waits, leaving the CPU to the decoder threads."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def encode(self, pixels):
        with self.events.lock:
            self.events.encoding = True
        time.sleep(0.05)
        with self.events.lock:
            self.events.encoding = False
        return np.zeros((len(pixels), self.dim), np.float32)


def test_decoding_overlaps_forward(tmp_path):
    events = EventLog()
    dataset = LoggingDataset(256, events)

    extract_features(SlowEncoder(events), dataset, "train", store=FeatureStore(tmp_path), shard_size=128, executor=LocalExecutor(num_workers=1))

    assert events.loads_during_encode > 0
