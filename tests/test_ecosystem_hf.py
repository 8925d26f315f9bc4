"""hf:<repo> encoders: Hub cache snapshots and local folders, pooling, preprocessing parity and offline errors."""

import logging

import numpy as np
import pytest
import torch

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from ecosystem_fixtures import DINOV2_REPO
from t2c.encoders.hf_encoder import hf_preprocess
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, OfflineError
from t2c.registry import load_encoder

transformers = pytest.importorskip("transformers")

IMAGENET_STD_MIN = 0.224
# transformers' default image processor backend resizes tensors with torchvision's antialiased
# kernels, whose output differs from PIL's by at most one 8-bit level (measured on chelsea at
# 64 -> 56 and 256 -> 224: max 1 level, mean 4e-5 after normalisation); the PIL backend matches exactly.
ONE_LEVEL = 1.0 / 255.0 / IMAGENET_STD_MIN + 1e-5
VIT_ONE_LEVEL = 1.0 / 255.0 / 0.5 + 1e-5  # one 8-bit level after ViTImageProcessor's std of 0.5


def reference_dinov2(hub):
    return transformers.AutoModel.from_pretrained(DINOV2_REPO, cache_dir=str(hub), local_files_only=True).eval()


def run(model, pixels: np.ndarray):
    with torch.inference_mode():
        return model(pixel_values=torch.from_numpy(pixels))


@pytest.fixture
def vit_classifier_folder(tmp_path):
    """A tiny ViT image classifier saved with save_pretrained: its checkpoint has no pooler weights."""
    torch.manual_seed(6)
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=8, num_labels=3)
    folder = tmp_path / "vit-classifier"
    transformers.ViTForImageClassification(config).save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture
def clip_folder(tmp_path):
    """A tiny CLIP model (both towers) and its image processor saved with save_pretrained."""
    torch.manual_seed(7)
    config = transformers.CLIPConfig(
        text_config={"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 99},
        vision_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    folder = tmp_path / "clip"
    transformers.CLIPModel(config).save_pretrained(folder)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture
def convnext_folder(tmp_path):
    """A tiny ConvNeXt with a processor that resizes to 32 / 0.875 and crops 32."""
    torch.manual_seed(8)
    config = transformers.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, image_size=32)
    folder = tmp_path / "convnext"
    transformers.ConvNextModel(config).save_pretrained(folder)
    transformers.ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=0.875).save_pretrained(folder)
    return folder


def test_loads_from_hub_cache():
    encoder = load_encoder(f"hf:{DINOV2_REPO}")

    assert encoder.id == f"hf:{DINOV2_REPO}"
    assert encoder.dim == 32
    assert encoder.pooling == "pooler"


def test_auto_pooling_is_dinov2_cls(offline, chelsea):
    encoder = load_encoder(f"hf:{DINOV2_REPO}")
    pixels = to_pixels([chelsea, chelsea.transpose(0)], encoder.preprocess)

    features = encoder.encode(pixels)
    outputs = run(reference_dinov2(offline.hub), pixels)

    np.testing.assert_allclose(features, outputs.pooler_output.numpy(), atol=1e-5)
    np.testing.assert_allclose(features, outputs.last_hidden_state[:, 0].numpy(), atol=1e-5)


def test_mean_pooling_skips_cls(offline, chelsea):
    encoder = load_encoder(f"hf:{DINOV2_REPO}", pooling="mean")
    pixels = to_pixels([chelsea], encoder.preprocess)

    features = encoder.encode(pixels)
    hidden = run(reference_dinov2(offline.hub), pixels).last_hidden_state

    assert encoder.id == f"hf:{DINOV2_REPO}?pooling=mean"
    np.testing.assert_allclose(features, hidden[:, 1:].mean(dim=1).numpy(), atol=1e-5)


def test_pooling_in_id_loads_back():
    encoder = load_encoder(f"hf:{DINOV2_REPO}?pooling=mean")

    assert encoder.pooling == "mean"
    assert encoder.id == f"hf:{DINOV2_REPO}?pooling=mean"


def test_pooling_given_twice_rejected():
    with pytest.raises(ConfigError, match="both in the id and as keywords"):
        load_encoder(f"hf:{DINOV2_REPO}?pooling=mean", pooling="cls")


def test_classifier_checkpoint_pools_cls(vit_classifier_folder, chelsea):
    encoder = load_encoder(f"hf:{vit_classifier_folder}")
    pixels = to_pixels([chelsea], encoder.preprocess)

    model = transformers.AutoModel.from_pretrained(vit_classifier_folder).eval()
    expected = run(model, pixels).last_hidden_state[:, 0].numpy()

    assert encoder.id == f"hf:{vit_classifier_folder.resolve().as_posix()}"
    assert encoder.pooling == "cls"  # the pooler is missing from the checkpoint
    np.testing.assert_allclose(encoder.encode(pixels), expected, atol=1e-5)


@pytest.mark.parametrize("backend", ["pil", "torchvision"])
def test_vit_squash_matches_image_processor(vit_classifier_folder, chelsea, backend, caplog):
    with caplog.at_level(logging.WARNING, logger="t2c.encoders.hf"):
        encoder = load_encoder(f"hf:{vit_classifier_folder}")
    assert [record for record in caplog.records if record.name.startswith("t2c")] == []  # no preprocessing warning
    processor = transformers.AutoImageProcessor.from_pretrained(vit_classifier_folder, backend=backend)

    expected = processor(images=chelsea, return_tensors="pt")["pixel_values"][0].numpy()
    pixels = to_pixels([chelsea], encoder.preprocess)[0]

    assert encoder.preprocess.resize_mode == "squash"  # ViTImageProcessor resizes to 32 x 32
    assert pixels.shape == expected.shape == (3, 32, 32)
    tolerance = 1e-5 if backend == "pil" else VIT_ONE_LEVEL
    np.testing.assert_allclose(pixels, expected, atol=tolerance)
    assert np.abs(pixels - expected).mean() < 1e-3


def test_convnext_at_384_squashes(chelsea):
    from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil

    processor = ConvNextImageProcessorPil(size={"shortest_edge": 384})

    expected = processor(images=chelsea, return_tensors="pt")["pixel_values"][0].numpy()
    preprocess = hf_preprocess(processor, "hf:facebook/convnext-tiny-224-384")
    pixels = to_pixels([chelsea], preprocess)[0]

    assert preprocess.resize_mode == "squash"
    assert pixels.shape == expected.shape == (3, 384, 384)
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_clip_uses_vision_tower(clip_folder, chelsea):
    encoder = load_encoder(f"hf:{clip_folder}")
    pixels = to_pixels([chelsea], encoder.preprocess)

    model = transformers.CLIPModel.from_pretrained(clip_folder).eval()
    expected = run(model.vision_model, pixels).pooler_output.numpy()

    assert encoder.pooling == "pooler"
    assert encoder.dim == 32
    np.testing.assert_allclose(encoder.encode(pixels), expected, atol=1e-5)


def test_convnext_pools_feature_map(convnext_folder, chelsea):
    encoder = load_encoder(f"hf:{convnext_folder}")
    pixels = to_pixels([chelsea], encoder.preprocess)

    model = transformers.AutoModel.from_pretrained(convnext_folder).eval()
    expected = run(model, pixels).pooler_output.numpy()

    assert encoder.preprocess.resize == 36  # int(32 / 0.875)
    assert encoder.preprocess.crop == 32
    assert encoder.dim == 16
    np.testing.assert_allclose(encoder.encode(pixels), expected, atol=1e-5)


def test_cls_pooling_without_cls_token_rejected(convnext_folder):
    with pytest.raises(ConfigError, match="no CLS token"):
        load_encoder(f"hf:{convnext_folder}", pooling="cls")


def test_unknown_pooling_rejected():
    with pytest.raises(ConfigError, match="pooling='max' is unknown"):
        load_encoder(f"hf:{DINOV2_REPO}", pooling="max")


@pytest.mark.parametrize("backend", ["pil", "torchvision"])
def test_preprocessing_matches_image_processor(offline, chelsea, backend):
    processor = transformers.AutoImageProcessor.from_pretrained(DINOV2_REPO, cache_dir=str(offline.hub), local_files_only=True, backend=backend)

    expected = processor(images=chelsea, return_tensors="pt")["pixel_values"][0].numpy()
    pixels = to_pixels([chelsea], hf_preprocess(processor, f"hf:{DINOV2_REPO}"))[0]

    assert pixels.shape == expected.shape
    tolerance = 1e-5 if backend == "pil" else ONE_LEVEL
    np.testing.assert_allclose(pixels, expected, atol=tolerance)
    assert np.abs(pixels - expected).mean() < 1e-3


def test_dinov2_size_processor_matches(chelsea):
    # facebook/dinov2-small's own settings: shortest edge 256, crop 224, bicubic.
    processor = transformers.BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}, resample=3,
                                               image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])

    expected = processor(images=chelsea, return_tensors="pt")["pixel_values"][0].numpy()
    pixels = to_pixels([chelsea], hf_preprocess(processor, "hf:facebook/dinov2-small"))[0]

    np.testing.assert_allclose(pixels, expected, atol=ONE_LEVEL)


def test_convnext_processor_matches(convnext_folder, chelsea):
    processor = transformers.AutoImageProcessor.from_pretrained(convnext_folder, backend="pil")

    expected = processor(images=chelsea, return_tensors="pt")["pixel_values"][0].numpy()
    pixels = to_pixels([chelsea], hf_preprocess(processor, "hf:convnext"))[0]

    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_folder_without_processor_rejected(tmp_path):
    folder = tmp_path / "no-processor"
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=28, patch_size=14)
    transformers.Dinov2Model(config).save_pretrained(folder)

    with pytest.raises(NotFoundError, match="AutoImageProcessor"):
        load_encoder(f"hf:{folder}")


def test_uncached_repo_raises_offline_error(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_encoder("hf:facebook/dinov2-base")

    message = str(raised.value)
    assert "hf:facebook/dinov2-base" in message
    assert "models--facebook--dinov2-base" in message
    assert str(empty_caches.hub) in message
    assert "hf download facebook/dinov2-base" in message
