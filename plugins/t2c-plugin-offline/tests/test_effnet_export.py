"""EfficientNet-Lite0: ONNX export against eager torch, the export cache and the torch backend."""

import numpy as np
import pytest

from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError

from t2c_plugin_offline import effnet


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty t2c cache, so the next ONNX load exports again."""
    monkeypatch.setenv("T2C_CACHE", str(tmp_path))
    return tmp_path


def test_export_matches_eager_torch(fresh_cache, photos, fashion_images):
    onnx_encoder = effnet.load_effnet_lite0("onnx")
    torch_encoder = effnet.load_effnet_lite0("torch")
    assert onnx_encoder.backend == "onnx"
    assert torch_encoder.backend == "torch"

    config = effnet.EFFNET_LITE0.merged({"grayscale_to_rgb": True})
    pixels = to_pixels(photos + fashion_images, config)
    expected = torch_encoder.encode(pixels)
    got = onnx_encoder.encode(pixels)

    relative = np.abs(got - expected).max() / np.abs(expected).max()
    assert relative <= 1e-4


def test_export_is_cached(fresh_cache):
    effnet.load_effnet_lite0("onnx")
    cached = list((fresh_cache / "onnx").glob("effnet-lite0-*.onnx"))
    assert len(cached) == 1

    modified = cached[0].stat().st_mtime_ns
    encoder = effnet.load_effnet_lite0("onnx")
    assert encoder.backend == "onnx"
    assert cached[0].stat().st_mtime_ns == modified


def test_cache_name_has_weights_and_shape():
    sha = "ab" * 32
    name = effnet.onnx_cache_path(sha).name
    assert name.startswith(f"effnet-lite0-{sha[:16]}-3x224x224-opset")


def test_failed_check_falls_back_to_torch(fresh_cache, monkeypatch, caplog):
    monkeypatch.setattr(effnet, "MAX_EXPORT_DIFFERENCE", -1.0)  # no export can pass

    encoder = effnet.load_effnet_lite0("onnx")

    assert encoder.backend == "torch"
    assert "eager torch" in caplog.text
    assert not list((fresh_cache / "onnx").glob("*.onnx"))


def test_eager_swish_swap_would_fail_check(chelsea):
    # set_swish(memory_efficient=False) replaces ReLU6 by Swish; the features must change a lot,
    # which is why the export never calls it.
    module = effnet.PooledFeatures(effnet.build_model())
    swapped = effnet.PooledFeatures(effnet.build_model())
    swapped.model.set_swish(memory_efficient=False)

    import torch

    pixels = torch.from_numpy(to_pixels([chelsea], effnet.EFFNET_LITE0))
    with torch.inference_mode():
        relu6 = module(pixels).numpy()
        swish = swapped(pixels).numpy()
    assert np.abs(relu6 - swish).max() / np.abs(relu6).max() > 1e-2


def test_torch_backend_names_chelsea_a_cat(chelsea):
    encoder = effnet.load_effnet_lite0("torch")
    weight, bias = effnet.classifier_weights()

    logits = encoder.encode(to_pixels([chelsea], encoder.preprocess)) @ weight.T + bias
    assert int(np.argmax(logits[0])) in (281, 282, 285)


def test_invalid_backend_rejected():
    with pytest.raises(ConfigError, match="'onnx' or 'torch'"):
        effnet.load_effnet_lite0("tensorrt")


def test_torch_set_device_rejects_unknown():
    encoder = effnet.load_effnet_lite0("torch")
    with pytest.raises(ConfigError):
        encoder.set_device("tpu")
