"""Tests of the DINOv2 plugin: registration, offline loading from a Hub cache, pooling, defaults and errors."""

import importlib.metadata
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from dinov2_fixtures import point_at
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, OfflineError
from t2c.plugins import load_plugins
from t2c.registry import list_entries, load_encoder
from t2c_plugin_dinov2 import repo_id


@pytest.fixture
def photo() -> Image.Image:
    gradient = np.linspace(0, 255, 80 * 60 * 3).reshape(60, 80, 3).astype(np.uint8)
    return Image.fromarray(gradient)


def reference_outputs(hub, repo: str, pixels: np.ndarray):
    """Run the cached checkpoint with transformers directly."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(repo, cache_dir=str(hub), local_files_only=True).eval()
    with torch.inference_mode():
        return model(pixel_values=torch.from_numpy(pixels))


def test_entry_point_discovered():
    entry_points = [
        entry_point
        for entry_point in importlib.metadata.entry_points(group="t2c")
        if entry_point.dist is not None and entry_point.dist.name == "t2c-plugin-dinov2"
    ]

    assert [(entry_point.name, entry_point.value) for entry_point in entry_points] == [("dinov2", "t2c_plugin_dinov2")]


def test_plugin_loads_cleanly():
    plugins = load_plugins(distributions=["t2c-plugin-dinov2"], builtin_modules=())

    info = plugins.infos["t2c-plugin-dinov2"]
    assert info.errors == []
    assert info.names == {"encoders": ["dinov2"]}


def test_listing_names_every_variant():
    [row] = list_entries("encoders", "dinov2")

    assert row["default"] == "vits14"
    assert row["models"] == ["vits14", "vitb14", "vitl14", "vitg14", "vits14_reg", "vitb14_reg", "vitl14_reg", "vitg14_reg"]


@pytest.mark.parametrize(
    ("name", "repo"),
    [
        ("vits14", "facebook/dinov2-small"),
        ("vitb14", "facebook/dinov2-base"),
        ("vitl14", "facebook/dinov2-large"),
        ("vitg14", "facebook/dinov2-giant"),
        ("vits14_reg", "facebook/dinov2-with-registers-small"),
        ("vitg14_reg", "facebook/dinov2-with-registers-giant"),
    ],
)
def test_repo_of_each_variant(name, repo):
    assert repo_id(name) == repo


def test_vits14_features_are_cls(offline_hub, photo):
    encoder = load_encoder("dinov2:vits14")
    pixels = to_pixels([photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)], encoder.preprocess)

    features = encoder.encode(pixels)
    reference = reference_outputs(offline_hub, "facebook/dinov2-small", pixels)

    assert encoder.id == "dinov2:vits14"
    assert encoder.dim == 32
    assert features.shape == (2, 32)
    np.testing.assert_allclose(features, reference.last_hidden_state[:, 0].numpy(), atol=1e-5)


def test_preprocessing_from_image_processor():
    encoder = load_encoder("dinov2:vits14")

    assert encoder.preprocess.resize == 64
    assert encoder.preprocess.crop == 56
    assert encoder.preprocess.interpolation == "bicubic"
    assert encoder.preprocess.mean == (0.485, 0.456, 0.406)


def test_bare_family_resolves_to_vits14(caplog):
    with caplog.at_level(logging.INFO, logger="t2c.registry"):
        encoder = load_encoder("dinov2")

    assert encoder.id == "dinov2:vits14"
    assert "resolved to 'dinov2:vits14'" in caplog.text


def test_registers_mean_skips_prefix_tokens(offline_hub, photo):
    encoder = load_encoder("dinov2:vits14_reg", pooling="mean")
    pixels = to_pixels([photo], encoder.preprocess)

    features = encoder.encode(pixels)
    hidden = reference_outputs(offline_hub, "facebook/dinov2-with-registers-small", pixels).last_hidden_state

    assert encoder.id == "dinov2:vits14_reg?pooling=mean"
    assert hidden.shape[1] == 1 + 4 + 16  # CLS, 4 registers, 4 x 4 patches
    np.testing.assert_allclose(features, hidden[:, 5:].mean(dim=1).numpy(), atol=1e-5)


def test_pooling_in_id_loads_back():
    encoder = load_encoder("dinov2:vits14_reg?pooling=mean")

    assert encoder.id == "dinov2:vits14_reg?pooling=mean"
    assert encoder.pooling == "mean"


def test_unknown_variant_suggests_names():
    with pytest.raises(NotFoundError, match="did you mean 'vits14'"):
        load_encoder("dinov2:vits16")


def test_unknown_option_rejected():
    with pytest.raises(ConfigError, match="unknown option"):
        load_encoder("dinov2:vits14", size=3)


def test_uncached_variant_raises_offline_error(monkeypatch, tmp_path):
    point_at(monkeypatch, tmp_path)

    with pytest.raises(OfflineError) as raised:
        load_encoder("dinov2:vitb14")

    message = str(raised.value)
    assert "dinov2:vitb14" in message
    assert "models--facebook--dinov2-base" in message
    assert str(tmp_path) in message
    assert "hf download facebook/dinov2-base" in message
