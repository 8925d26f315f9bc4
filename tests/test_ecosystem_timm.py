"""timm:<model> encoders: loading from a Hub cache snapshot, features, preprocessing parity and offline errors."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from ecosystem_fixtures import TIMM_MODEL
from t2c.encoders.pixels import to_pixels
from t2c.encoders.timm_encoder import timm_preprocess
from t2c.errors import ConfigError, NotFoundError, OfflineError
from t2c.registry import load_encoder

timm = pytest.importorskip("timm")

IMAGENET_MEAN = (0.485, 0.456, 0.406)

# Pretrained configs whose preprocessing is compared with timm's own transform (no weights needed):
# crop_pct 0.95 bicubic, crop_pct 0.875 bicubic, crop_pct 0.9 bilinear with ImageNet-21k mean 0.5,
# and crop mode "squash" at crop_pct 0.9 (192 of 213) and at crop_pct 1.0 (384).
PARITY_MODELS = [
    TIMM_MODEL,
    "resnet50.a1_in1k",
    "efficientnet_b0.ra_in1k",
    "vit_base_patch16_224.augreg2_in21k_ft_in1k",
    "dm_nfnet_f0.dm_in1k",
    "convnext_tiny.in12k_ft_in1k_384",
]


def reference_model(hub):
    """Load the cached checkpoint with timm alone, as a user would with a local file."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(f"timm/{TIMM_MODEL}", "model.safetensors", local_files_only=True, cache_dir=hub)
    return timm.create_model(TIMM_MODEL, pretrained=True, pretrained_cfg_overlay={"file": path}).eval()


def test_loads_from_hub_cache(offline):
    encoder = load_encoder(f"timm:{TIMM_MODEL}")

    assert encoder.id == f"timm:{TIMM_MODEL}"
    assert encoder.dim == 64
    assert len(encoder.weights_sha256) == 64


def test_features_are_pre_logits(offline, chelsea):
    encoder = load_encoder(f"timm:{TIMM_MODEL}")
    pixels = to_pixels([chelsea, chelsea.rotate(90, expand=True)], encoder.preprocess)

    features = encoder.encode(pixels)
    model = reference_model(offline.hub)
    with torch.inference_mode():
        expected = model.forward_head(model.forward_features(torch.from_numpy(pixels)), pre_logits=True).numpy()

    assert features.shape == (2, 64)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, expected, atol=1e-5)


def test_features_differ_from_logits(chelsea):
    encoder = load_encoder(f"timm:{TIMM_MODEL}")
    pixels = to_pixels([chelsea], encoder.preprocess)

    with torch.inference_mode():
        logits = encoder.model(torch.from_numpy(pixels))

    assert logits.shape == (1, 1000)
    assert encoder.encode(pixels).shape == (1, 64)


def test_tag_defaults_to_timms():
    encoder = load_encoder("timm:test_vit")

    assert encoder.id == f"timm:{TIMM_MODEL}"


@pytest.mark.parametrize("name", PARITY_MODELS)
def test_preprocessing_matches_create_transform(name, chelsea):
    pretrained_cfg = timm.models.get_pretrained_cfg(name).to_dict()
    data_config = timm.data.resolve_data_config(pretrained_cfg=pretrained_cfg)
    transform = timm.data.create_transform(**data_config, is_training=False)

    expected = transform(chelsea).numpy()
    pixels = to_pixels([chelsea], timm_preprocess(data_config, f"timm:{name}"))[0]

    assert pixels.shape == expected.shape
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_crop_pct_sets_resize():
    config = {"input_size": (3, 224, 224), "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3, "crop_pct": 0.95, "crop_mode": "center"}

    preprocess = timm_preprocess(config, "timm:x")

    assert preprocess.resize == 235  # floor(224 / 0.95), as timm computes it
    assert preprocess.crop == 224
    assert preprocess.interpolation == "bicubic"


def test_squash_crop_mode_declared(caplog):
    config = {"input_size": (3, 192, 192), "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3, "crop_pct": 0.9, "crop_mode": "squash"}

    with caplog.at_level(logging.WARNING, logger="t2c.encoders.timm"):
        preprocess = timm_preprocess(config, "timm:dm_nfnet_f0.dm_in1k")

    assert preprocess.resize_mode == "squash"
    assert preprocess.resize == 213  # floor(192 / 0.9) on both sides
    assert preprocess.crop == 192
    assert "approximated" not in caplog.text


def test_center_crop_mode_keeps_aspect_ratio():
    config = {"input_size": (3, 224, 224), "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3, "crop_pct": 0.875, "crop_mode": "center"}

    assert timm_preprocess(config, "timm:x").resize_mode == "shortest"


def test_border_crop_mode_declared(caplog):
    config = {"input_size": (3, 384, 384), "interpolation": "bicubic", "mean": IMAGENET_MEAN, "std": (0.5,) * 3, "crop_pct": 1.0, "crop_mode": "border"}

    with caplog.at_level(logging.WARNING, logger="t2c.encoders.timm"):
        preprocess = timm_preprocess(config, "timm:x")

    assert preprocess.resize_mode == "longest"
    assert preprocess.resize == 384
    assert preprocess.crop == 384
    assert preprocess.fill == (124, 116, 104)  # round(255 * mean), as timm fills the border
    assert caplog.text == ""


def test_center_crop_mode_pads_black():
    config = {"input_size": (3, 224, 224), "interpolation": "bicubic", "mean": IMAGENET_MEAN, "std": (0.5,) * 3, "crop_pct": 1.2}

    assert timm_preprocess(config, "timm:x").fill == (0, 0, 0)


# (pretrained config, crop_pct, crop_mode) on the 451 x 300 photo and its 300 x 451 rotation:
# test_vit at crop_pct 0.95 resizes the longer side to 168 and crops it to 160 while padding the
# shorter side (112 -> 160); at crop_pct 1.25 it resizes to 128, so both sides are padded; the
# DeepSeek ViT's own config (392, crop_pct 1.0) pads the shorter side by an odd 131 pixels.
BORDER_CASES = [
    (TIMM_MODEL, 0.95, "border"),
    (TIMM_MODEL, 1.25, "border"),
    ("deepseek_vit_412m.deepseek_v4_flash_vision_exp", None, None),
]


@pytest.mark.parametrize("portrait", [False, True], ids=["landscape", "portrait"])
@pytest.mark.parametrize("name, crop_pct, crop_mode", BORDER_CASES)
def test_border_crop_mode_matches_create_transform(name, crop_pct, crop_mode, portrait, chelsea):
    image = chelsea.transpose(Image.Transpose.ROTATE_90) if portrait else chelsea
    pretrained_cfg = timm.models.get_pretrained_cfg(name).to_dict()
    overrides = {key: value for key, value in (("crop_pct", crop_pct), ("crop_mode", crop_mode)) if value is not None}
    data_config = timm.data.resolve_data_config(args=overrides, pretrained_cfg=pretrained_cfg)
    transform = timm.data.create_transform(**data_config, is_training=False)

    expected = transform(image).numpy()
    preprocess = timm_preprocess(data_config, f"timm:{name}")
    pixels = to_pixels([image], preprocess)[0]

    assert data_config["crop_mode"] == "border"
    assert preprocess.resize_mode == "longest"
    assert pixels.shape == expected.shape
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_border_differs_from_shortest(chelsea):
    # The padded border shows in the pixels, so the parity above is not by chance.
    data_config = timm.data.resolve_data_config(args={"crop_mode": "border"}, pretrained_cfg=timm.models.get_pretrained_cfg(TIMM_MODEL).to_dict())
    border = timm_preprocess(data_config, f"timm:{TIMM_MODEL}")
    shortest = border.model_copy(update={"resize_mode": "shortest"})

    difference = to_pixels([chelsea], border) - to_pixels([chelsea], shortest)

    assert np.abs(difference).max() > 0.5


def test_squash_model_differs_from_shortest(chelsea):
    # On a non-square photo the two modes give different pixels, so parity above is not by chance.
    data_config = timm.data.resolve_data_config(pretrained_cfg=timm.models.get_pretrained_cfg("dm_nfnet_f0.dm_in1k").to_dict())
    squash = timm_preprocess(data_config, "timm:dm_nfnet_f0.dm_in1k")
    shortest = squash.model_copy(update={"resize_mode": "shortest"})

    difference = to_pixels([chelsea], squash) - to_pixels([chelsea], shortest)

    assert np.abs(difference).max() > 0.5


def test_non_square_input_rejected():
    config = {"input_size": (3, 224, 320), "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3, "crop_pct": 1.0}

    with pytest.raises(ConfigError, match="square"):
        timm_preprocess(config, "timm:x")


def test_unknown_model_suggests_names():
    with pytest.raises(NotFoundError, match="did you mean 'resnet50'"):
        load_encoder("timm:resnet5O")


def test_unknown_tag_suggests_tags():
    with pytest.raises(NotFoundError, match="resnet50.a1_in1k"):
        load_encoder("timm:resnet50.a1_in1kk")


def test_model_without_weights_rejected():
    with pytest.raises(NotFoundError, match="has no pretrained weights"):
        load_encoder("timm:coatnet_0_224")


def test_options_rejected():
    with pytest.raises(ConfigError, match="unknown option"):
        load_encoder(f"timm:{TIMM_MODEL}", pooling="mean")


def test_uncached_hub_weights_raise_offline_error(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_encoder("timm:resnet50.a1_in1k")

    message = str(raised.value)
    assert "timm:resnet50.a1_in1k" in message
    assert "models--timm--resnet50.a1_in1k" in message
    assert str(empty_caches.hub) in message
    assert "hf download timm/resnet50.a1_in1k" in message


def test_uncached_url_weights_raise_offline_error(empty_caches):
    # legacy_seresnet18.in1k has a download URL but no Hub repo, so timm would fetch it into torch's cache.
    with pytest.raises(OfflineError) as raised:
        load_encoder("timm:legacy_seresnet18.in1k")

    message = str(raised.value)
    assert str(empty_caches.torch_checkpoints) in message
    assert "timm.create_model('legacy_seresnet18.in1k', pretrained=True)" in message
