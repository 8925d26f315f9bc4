"""The ray executor on a local Ray instance: the same feature store and the same head as the local executor."""

import json

import numpy as np
import pytest
import ray
import timm
import torch
from PIL import Image

from t2c import registry
from t2c.data.folder import FolderDataset
from t2c.encoders.preprocess import PreprocessConfig
from t2c.encoders.timm_encoder import TimmEncoder
from t2c.errors import ConfigError
from t2c.features.executors import LocalExecutor
from t2c.features.extract import extract_features
from t2c.features.manifest import MANIFEST_NAME
from t2c.features.paired_stats import PairedStats
from t2c.features.store import FeatureStore
from t2c.pipeline import EncoderAsTarget, Runtime, accumulate_stats, fit_head

from t2c_plugin_ray.executor import RayExecutor

IMAGES = 45
SHARD_SIZE = 8
PREPROCESS = PreprocessConfig(resize=40, crop=32, interpolation="bilinear")
TIMESTAMPS = ("created", "updated")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """45 noise photos, one of them a truncated PNG that every executor must skip."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for index in range(IMAGES):
        Image.fromarray(rng.integers(0, 255, (36, 44, 3), dtype=np.uint8)).save(folder / f"{index:03d}.png")
    broken = folder / "017.png"
    broken.write_bytes(broken.read_bytes()[:60])
    return FolderDataset(folder)


def encoder(seed: int) -> TimmEncoder:
    """A timm ResNet-10t with seeded random weights on 32 x 32 input."""
    torch.manual_seed(seed)
    return TimmEncoder(timm.create_model("resnet10t", pretrained=False, num_classes=0), f"timm:resnet10t-seed{seed}", PREPROCESS)


def extract(store, dataset, executor, seed=0):
    torch.set_num_threads(1)  # the actors run with one thread each (num_cpus=1)
    return extract_features(
        encoder(seed), dataset, dataset.fit_split, store=store, batch_size=4, shard_size=SHARD_SIZE, executor=executor
    )


def manifest_without_timestamps(entry) -> dict:
    manifest = json.loads((entry.path / MANIFEST_NAME).read_text())
    return {name: value for name, value in manifest.items() if name not in TIMESTAMPS}


def test_registered_as_ray():
    assert isinstance(registry.get_executor("ray", address="auto"), RayExecutor)


def test_ray_address_comes_from_option_or_environment(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert RayExecutor().address == "ray://head:10001"
    assert RayExecutor(address="auto").address == "auto"


def test_unknown_option_rejected():
    with pytest.raises(ConfigError, match="num_workers"):
        RayExecutor(num_workers="2")


def test_feature_store_matches_the_local_executor(tmp_path, dataset):
    local = extract(FeatureStore(tmp_path / "local"), dataset, LocalExecutor(num_workers=1))
    remote = extract(FeatureStore(tmp_path / "ray"), dataset, RayExecutor(num_cpus=1))

    assert remote.path.name == local.path.name
    assert manifest_without_timestamps(remote) == manifest_without_timestamps(local)
    assert [sample.key for sample in remote.skipped_samples()] == ["017.png"]
    for record in local.manifest.shards:
        assert (remote.path / record.file).read_bytes() == (local.path / record.file).read_bytes()


def test_cluster_statistics_equal_the_local_sums(tmp_path, dataset):
    store = FeatureStore(tmp_path / "store")
    x_entry = extract(store, dataset, LocalExecutor(num_workers=1), seed=0)
    y_entry = extract(store, dataset, LocalExecutor(num_workers=1), seed=1)
    paired = PairedStats(x_entry, y_entry, 40, n_folds=5)

    found = RayExecutor().shard_stats(paired, paired.needed_shards())
    expected = accumulate_stats(x_entry, y_entry, 40, n_folds=5)
    for name, array in expected.to_arrays().items():
        np.testing.assert_allclose(found.to_arrays()[name], array, rtol=1e-6, atol=1e-5, err_msg=name)


def test_head_matches_the_local_executor(tmp_path, dataset):
    def fit(executor, during):
        torch.set_num_threads(1)
        runtime = Runtime(store=FeatureStore(tmp_path / executor), executor=executor, stats_during_extraction=during, batch_size=4)
        return fit_head(encoder(0), EncoderAsTarget(encoder(1)), dataset, "ridge", limit=40, runtime=runtime)

    local = fit("local", during=True)
    remote = fit("ray", during=False)  # the ray executor sums statistics itself

    assert np.abs(remote.coef - local.coef).max() <= 1e-6
    assert np.abs(remote.intercept - local.intercept).max() <= 1e-6
