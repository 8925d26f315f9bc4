"""The onnx backend of torch encoders: a checked, cached export that stays close to eager torch, or a logged fallback."""

import logging

import numpy as np
import pytest
import timm
import torch

from t2c.encoders.onnx_backend import MAX_RELATIVE_DIFFERENCE, check_pixels
from t2c.encoders.preprocess import PreprocessConfig
from t2c.encoders.timm_encoder import TimmEncoder
from t2c.errors import ConfigError
from t2c.features.key import FeatureKey
from t2c.pipeline import Runtime

PREPROCESS = PreprocessConfig(resize=72, crop=64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("T2C_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def small_convnet() -> TimmEncoder:
    """A small timm ResNet (random weights, fixed seed) with batch norm, whose eval mode the export must keep."""
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    return TimmEncoder(model, "timm:resnet10t-test", PREPROCESS)


class NumpyRoundTrip(TimmEncoder):
    """A forward pass that leaves torch for numpy, so the traced graph freezes one batch."""

    def forward(self, batch):
        return torch.from_numpy(super().forward(batch).numpy() * 2.0)


def test_onnx_matches_eager_torch_on_photos():
    encoder = small_convnet()
    pixels = check_pixels(encoder)
    expected = encoder.encode(pixels)

    encoder.set_backend("onnx")
    found = encoder.encode(pixels)

    assert encoder.backend == "onnx"
    assert found.dtype == np.float32
    assert found.shape == expected.shape
    assert np.abs(found - expected).max() <= MAX_RELATIVE_DIFFERENCE * np.abs(expected).max()


def test_graph_is_exported_once_and_reused(cache):
    small_convnet().set_backend("onnx")
    graphs = sorted((cache / "onnx").glob("*.onnx"))
    assert len(graphs) == 1
    written = graphs[0].stat().st_mtime_ns

    again = small_convnet()
    again.set_backend("onnx")

    assert again.backend == "onnx"
    assert sorted((cache / "onnx").glob("*.onnx")) == graphs
    assert graphs[0].stat().st_mtime_ns == written


def test_dynamic_batch_axis_runs_any_batch_size():
    encoder = small_convnet()
    encoder.set_backend("onnx")
    pixels = np.random.default_rng(0).normal(size=(5, 3, 64, 64)).astype(np.float32)

    assert encoder.encode(pixels[:1]).shape == (1, encoder.dim)
    assert np.allclose(encoder.encode(pixels)[:1], encoder.encode(pixels[:1]), atol=1e-5)


def test_failed_check_falls_back_to_torch_with_reason(caplog, cache):
    torch.manual_seed(0)
    encoder = NumpyRoundTrip(timm.create_model("resnet10t", pretrained=False, num_classes=0), "timm:roundtrip", PREPROCESS)

    with caplog.at_level(logging.WARNING, logger="t2c.encoders.onnx_backend"):
        encoder.set_backend("onnx")

    assert encoder.backend == "torch"
    assert "running eager torch" in caplog.text
    assert not list((cache / "onnx").glob("*.onnx"))


def test_backend_is_part_of_the_feature_key():
    encoder = small_convnet()
    torch_key = FeatureKey.for_encoder(encoder, "photos", "train", PREPROCESS)
    encoder.set_backend("onnx")
    onnx_key = FeatureKey.for_encoder(encoder, "photos", "train", PREPROCESS)

    assert torch_key.backend == "torch"
    assert onnx_key.backend == "onnx"
    assert torch_key != onnx_key


def test_runtime_backend_reaches_the_encoder():
    encoder = small_convnet()
    Runtime(backend="onnx").prepare(encoder)
    assert encoder.backend == "onnx"

    Runtime(backend="torch").prepare(encoder)
    assert encoder.backend == "torch"


def test_unknown_backend_rejected():
    with pytest.raises(ConfigError, match="tensorrt"):
        small_convnet().set_backend("tensorrt")
