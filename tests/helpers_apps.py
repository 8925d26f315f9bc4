"""Shared setup of the application tests: the offline demo models on one feature-store shard of Fashion-MNIST.

Features are read from (or written to) the default feature store, so the first run extracts
1024 train and 1024 test images per encoder and later runs read them from the cache.
"""

import json

import pytest
from click.testing import CliRunner

ENCODER = "offline:resnet50-opennsfw"
SECOND_ENCODER = "offline:effnet-lite0"
TARGET = "offline:effnet-lite0-minilm"
DATASET = "fashion-mnist"
SAMPLES = 1024  # one shard of the feature store per split

FOOTWEAR = ["sandal", "sneaker", "ankle boot"]
TOPS = ["t-shirt", "pullover", "shirt"]


def require_offline() -> None:
    """Skip the calling test module unless the offline plugin and Fashion-MNIST are installed."""
    pytest.importorskip("t2c_plugin_offline", reason="needs t2c-plugin-offline: pip install -e plugins/t2c-plugin-offline")
    from t2c_plugin_offline.datasets.fashion_mnist import data_dir, split_files

    if not split_files(data_dir(), "test")[0].is_file():
        pytest.skip(f"Fashion-MNIST not installed at {data_dir()} (Debian package dataset-fashion-mnist)")


def demo_aligned():
    """Return the offline demo pair with a ridge head fitted on the first 1024 train images (labels unused)."""
    from t2c import pipeline
    from t2c.apps.aligned import prepare_aligned

    dataset = pipeline.resolve_dataset(DATASET)
    return prepare_aligned(ENCODER, TARGET, dataset, train_samples=SAMPLES, use_zoo=False)


def run_cli(*args: str) -> dict:
    """Run `t2c run ...` in this process with --json and return the parsed output."""
    from t2c.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["run", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
