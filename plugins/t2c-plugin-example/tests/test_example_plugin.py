"""Tests of the example plugin: entry point discovery, and the shapes of what it builds."""

import importlib.metadata
import logging

import numpy as np
import pytest

from t2c.encoders.base import Encoder
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, ShapeError
from t2c.plugins import load_plugins, reset_plugins
from t2c.registry import load_dataset, load_encoder, load_target
from t2c.targets.base import Target
from t2c_plugin_example.target import hash_bag_of_words

TINY_CNN_SHA256 = "8962059893f28f96f4bd61ad529216084f0f909f95b69c64025ab36072fc1c04"  # state dict from RandomState(0)


@pytest.fixture(autouse=True)
def example_only(monkeypatch):
    """Load the example plugin and no other external plugin."""
    monkeypatch.setenv("T2C_LOAD_PLUGINS", "t2c-plugin-example")
    reset_plugins()
    yield
    reset_plugins()


def test_entry_point_discovered():
    entry_points = [
        entry_point
        for entry_point in importlib.metadata.entry_points(group="t2c")
        if entry_point.dist is not None and entry_point.dist.name == "t2c-plugin-example"
    ]

    assert [(entry_point.name, entry_point.value) for entry_point in entry_points] == [("example", "t2c_plugin_example")]


def test_plugin_loads_cleanly():
    plugins = load_plugins(distributions=["t2c-plugin-example"], builtin_modules=())

    info = plugins.infos["t2c-plugin-example"]
    assert info.errors == []
    assert info.clashes == []
    assert info.hooks == ["register_datasets", "register_encoders", "register_targets"]
    assert info.names == {"encoders": ["example"], "targets": ["example"], "datasets": ["example-shapes"]}


def test_encoder_output_shape():
    encoder = load_encoder("example:tiny-cnn")
    pixels = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)

    features = encoder.encode(pixels)

    assert isinstance(encoder, Encoder)
    assert encoder.dim == 64
    assert features.shape == (5, 64)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


def test_encoder_preprocess_declared():
    encoder = load_encoder("example:tiny-cnn")

    assert encoder.preprocess.resize == 32
    assert encoder.preprocess.crop == 32


def test_bare_family_loads_default(caplog):
    with caplog.at_level(logging.INFO, logger="t2c.registry"):
        encoder = load_encoder("example")

    assert encoder.id == "example:tiny-cnn"
    assert "resolved to 'example:tiny-cnn'" in caplog.text


def test_encoder_weights_deterministic():
    first = load_encoder("example:tiny-cnn")
    second = load_encoder("example:tiny-cnn")
    pixels = np.ones((2, 3, 32, 32), dtype=np.float32)

    assert first.weights_sha256 == TINY_CNN_SHA256
    assert second.weights_sha256 == TINY_CNN_SHA256
    np.testing.assert_array_equal(first.encode(pixels), second.encode(pixels))


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((2, 32, 32, 3), dtype=np.float32), np.zeros((3, 32, 32), dtype=np.float32), [[0.0]]],
)
def test_encoder_rejects_wrong_layout(pixels):
    encoder = load_encoder("example:tiny-cnn")

    with pytest.raises(ShapeError, match=r"expects pixels of shape \(n, 3, 32, 32\)"):
        encoder.encode(pixels)


def test_unknown_model_suggests_name():
    with pytest.raises(NotFoundError, match="example encoder model 'tiny' not found; did you mean 'tiny-cnn'"):
        load_encoder("example:tiny")


def test_options_rejected():
    with pytest.raises(ConfigError, match="takes no options but got pretrained"):
        load_encoder("example:tiny-cnn", pretrained=True)


def test_target_output_shapes():
    target = load_target("example:bag-of-words")
    pixels = np.zeros((2, 3, 32, 32), dtype=np.float32)

    texts = target.encode_text(["a circle", "a square", ""])
    images = target.image_encoder.encode(pixels)

    assert isinstance(target, Target)
    assert target.dim == 32
    assert texts.shape == (3, 32)
    assert texts.dtype == np.float32
    assert images.shape == (2, 32)
    assert target.image_encoder.weights_sha256 != TINY_CNN_SHA256


def test_bag_of_words_counts_tokens():
    embeddings = hash_bag_of_words(["red circle", "Circle, red!", "blue square", ""])

    np.testing.assert_array_equal(embeddings[0], embeddings[1])
    assert not np.array_equal(embeddings[0], embeddings[2])
    assert np.abs(embeddings[0]).sum() == 2.0
    assert not embeddings[3].any()


def test_target_rejects_single_string():
    target = load_target("example")

    with pytest.raises(ConfigError, match="wrap a single text in a list"):
        target.encode_text("a circle")


def test_dataset_splits():
    dataset = load_dataset("example-shapes")
    train, test = dataset.split("train"), dataset.split("test")

    assert dataset.classnames == ["circle", "square", "triangle"]
    assert (len(train), len(test)) == (300, 90)
    assert train.keys[12] == "train/00012"
    assert test.keys[-1] == "test/00089"
    assert np.bincount(train.labels).tolist() == [100, 100, 100]
    assert train.labels.dtype == np.int64


def test_dataset_images_deterministic():
    split = load_dataset("example-shapes").split("test")

    first, second = split.load(7), split.load(7)

    assert first.mode == "RGB"
    assert first.size == (64, 64)
    assert first.tobytes() == second.tobytes()
    assert first.tobytes() != split.load(8).tobytes()


def test_dataset_image_size_option():
    image = load_dataset("example-shapes", image_size=32).split("train").load(0)

    assert image.size == (32, 32)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda dataset: dataset.split("validation"), NotFoundError, "available: train, test"),
        (lambda dataset: dataset.split("train").load(300), NotFoundError, "out of range"),
        (lambda dataset: dataset.split("train").load(-1), NotFoundError, "out of range"),
    ],
)
def test_dataset_rejects(call, error, message):
    with pytest.raises(error, match=message):
        call(load_dataset("example-shapes"))


def test_dataset_rejects_small_images():
    with pytest.raises(ConfigError, match="at least 16 pixels"):
        load_dataset("example-shapes", image_size=4)


def test_images_through_encoder():
    dataset = load_dataset("example-shapes")
    encoder = load_encoder("example")
    split = dataset.split("train")

    pixels = to_pixels([split.load(index) for index in range(6)], encoder.preprocess)
    features = encoder.encode(pixels)

    assert pixels.shape == (6, 3, 32, 32)
    assert features.shape == (6, 64)
    assert len({row.tobytes() for row in features}) == 6
