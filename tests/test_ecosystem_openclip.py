"""openclip encoders and targets: local-dir and Hub cache checkpoints, tag resolution, text side, parity, offline errors."""

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from ecosystem_fixtures import OPENCLIP_HUB_REPO, install_snapshot, write_tiny_openclip
from t2c.encoders.openclip_encoder import openclip_preprocess, resolve_source
from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, OfflineError, ShapeError
from t2c.registry import get_registry, load_encoder, load_target
from t2c.targets.base import Target
from t2c.targets.concepts import build_concepts

open_clip = pytest.importorskip("open_clip")

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def reference_model(folder):
    """Build the checkpoint folder with open_clip alone."""
    return open_clip.create_model(f"local-dir:{folder}").eval()


def test_local_dir_encoder_matches_open_clip(offline, chelsea):
    encoder = load_encoder(f"openclip:local-dir:{offline.openclip_dir}")
    pixels = to_pixels([chelsea, chelsea.transpose(0)], encoder.preprocess)

    features = encoder.encode(pixels)
    with torch.inference_mode():
        expected = reference_model(offline.openclip_dir).encode_image(torch.from_numpy(pixels)).numpy()

    assert encoder.id == f"openclip:local-dir:{offline.openclip_dir.resolve().as_posix()}"
    assert encoder.dim == 32
    np.testing.assert_allclose(features, expected, atol=1e-5)


def test_hub_repo_loads_from_cache(offline):
    encoder = load_encoder(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}")
    snapshot = next((offline.hub / "models--t2c-test--tiny-clip" / "snapshots").iterdir())

    assert encoder.id == f"openclip:hf-hub:{OPENCLIP_HUB_REPO}"
    assert encoder.weights_sha256 != load_encoder(f"openclip:local-dir:{offline.openclip_dir}").weights_sha256
    assert encoder.weights_sha256 == load_encoder(f"openclip:local-dir:{snapshot}").weights_sha256


def test_preprocessing_from_preprocess_cfg():
    encoder = load_encoder(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}")

    assert encoder.preprocess.resize == 32
    assert encoder.preprocess.crop == 32
    assert encoder.preprocess.mean == (0.5, 0.4, 0.3)
    assert encoder.preprocess.std == (0.2, 0.25, 0.3)


def test_preprocessing_matches_open_clip_transform(offline, chelsea):
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{offline.openclip_dir}")
    model = reference_model(offline.openclip_dir)

    expected = transform(chelsea).numpy()
    pixels = to_pixels([chelsea], openclip_preprocess(model.visual.preprocess_cfg, "openclip:tiny"))[0]

    assert pixels.shape == expected.shape
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_openai_preprocessing_matches_at_224(chelsea):
    config = {"size": 224, "mean": OPENAI_MEAN, "std": (0.26862954, 0.26130258, 0.27577711), "interpolation": "bicubic", "resize_mode": "shortest"}
    transform = open_clip.transform.image_transform_v2(open_clip.transform.PreprocessCfg(**config), is_train=False)

    expected = transform(chelsea).numpy()
    pixels = to_pixels([chelsea], openclip_preprocess(config, "openclip:ViT-B-16/openai"))[0]

    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_squash_model_matches_open_clip_transform(tmp_path, chelsea):
    folder = write_tiny_openclip(tmp_path / "tiny-squash", seed=9, resize_mode="squash")
    encoder = load_encoder(f"openclip:local-dir:{folder}")
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{folder}")

    expected = transform(chelsea).numpy()
    pixels = to_pixels([chelsea], encoder.preprocess)[0]

    assert encoder.preprocess.resize_mode == "squash"
    assert pixels.shape == expected.shape == (3, 32, 32)
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_siglip_squash_matches_at_256(chelsea):
    config = {"size": 256, "mean": (0.5,) * 3, "std": (0.5,) * 3, "interpolation": "bicubic", "resize_mode": "squash"}
    transform = open_clip.transform.image_transform_v2(open_clip.transform.PreprocessCfg(**config), is_train=False)

    expected = transform(chelsea).numpy()
    preprocess = openclip_preprocess(config, "openclip:ViT-B-16-SigLIP-256/webli")
    pixels = to_pixels([chelsea], preprocess)[0]

    assert preprocess.resize_mode == "squash"
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_longest_resize_mode_declared(caplog):
    config = {"size": 256, "mean": (0.5,) * 3, "std": (0.5,) * 3, "interpolation": "bicubic", "resize_mode": "longest", "fill_color": 7}

    with caplog.at_level(logging.WARNING, logger="t2c.encoders.openclip"):
        preprocess = openclip_preprocess(config, "openclip:x")

    assert preprocess.resize_mode == "longest"
    assert preprocess.resize == 256
    assert preprocess.crop == 256
    assert preprocess.fill == (7, 7, 7)
    assert caplog.text == ""


def test_longest_model_matches_open_clip_transform(tmp_path, chelsea):
    folder = write_tiny_openclip(tmp_path / "tiny-longest", seed=10, resize_mode="longest")
    config_file = folder / "open_clip_config.json"
    config = json.loads(config_file.read_text())
    config["preprocess_cfg"]["fill_color"] = 200
    config_file.write_text(json.dumps(config))

    encoder = load_encoder(f"openclip:local-dir:{folder}")
    _, _, transform = open_clip.create_model_and_transforms(f"local-dir:{folder}")

    # At 32 pixels the 451 x 300 photo becomes 32 x 21 and is padded by 11 rows (or columns when rotated).
    assert encoder.preprocess.resize_mode == "longest"
    assert encoder.preprocess.fill == (200, 200, 200)
    for image in (chelsea, chelsea.transpose(Image.Transpose.ROTATE_90)):
        expected = transform(image).numpy()
        pixels = to_pixels([image], encoder.preprocess)[0]

        assert pixels.shape == expected.shape == (3, 32, 32)
        np.testing.assert_allclose(pixels, expected, atol=1e-5)


@pytest.mark.parametrize("portrait", [False, True], ids=["landscape", "portrait"])
@pytest.mark.parametrize("fill_color", [0, (124, 116, 104)], ids=["black", "rgb"])
def test_longest_matches_at_224(chelsea, portrait, fill_color):
    image = chelsea.transpose(Image.Transpose.ROTATE_90) if portrait else chelsea
    config = {"size": 224, "mean": OPENAI_MEAN, "std": OPENAI_STD, "interpolation": "bicubic", "resize_mode": "longest", "fill_color": fill_color}
    transform = open_clip.transform.image_transform_v2(open_clip.transform.PreprocessCfg(**config), is_train=False)

    expected = transform(image).numpy()
    pixels = to_pixels([image], openclip_preprocess(config, "openclip:x"))[0]

    assert pixels.shape == expected.shape
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


@pytest.mark.parametrize("fill_color", [256, -1, (1, 2), "white"])
def test_invalid_fill_color_rejected(fill_color):
    config = {"size": 224, "mean": OPENAI_MEAN, "std": OPENAI_STD, "resize_mode": "longest", "fill_color": fill_color}

    with pytest.raises(ConfigError, match="fill_color"):
        openclip_preprocess(config, "openclip:x")


def test_unknown_resize_mode_rejected():
    config = {"size": 224, "mean": OPENAI_MEAN, "std": OPENAI_STD, "resize_mode": "fit"}

    with pytest.raises(ConfigError, match="resize_mode 'fit'"):
        openclip_preprocess(config, "openclip:x")


def test_tag_resolves_to_hub_checkpoint(offline, monkeypatch, tmp_path):
    hub = tmp_path / "hub"
    snapshot = install_snapshot(hub, "timm/vit_base_patch16_clip_224.openai")
    (snapshot / "open_clip_model.safetensors").write_bytes(b"stand-in; resolve_source does not read it")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))

    source = resolve_source(open_clip, "ViT-B-16/openai")

    assert source.model_id == "openclip:ViT-B-16/openai"
    assert source.model_name == "ViT-B-16"
    assert source.checkpoint == snapshot / "open_clip_model.safetensors"
    assert source.quick_gelu  # OpenAI's weights were trained with QuickGELU
    assert source.preprocess["mean"] == OPENAI_MEAN


def test_target_text_side_matches_open_clip(offline):
    target = load_target(f"openclip:local-dir:{offline.openclip_dir}")
    texts = ["a photo of a cat.", "a photo of a dog."]

    embeddings = target.encode_text(texts)
    tokenizer = open_clip.get_tokenizer(f"local-dir:{offline.openclip_dir}")
    with torch.inference_mode():
        expected = reference_model(offline.openclip_dir).encode_text(tokenizer(texts)).numpy()

    assert isinstance(target, Target)
    assert embeddings.shape == (2, 32)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def test_target_image_side_is_the_encoder(offline, chelsea):
    target = load_target(f"openclip:local-dir:{offline.openclip_dir}")
    encoder = load_encoder(f"openclip:local-dir:{offline.openclip_dir}")
    pixels = to_pixels([chelsea], encoder.preprocess)

    assert target.image_encoder.id == encoder.id
    assert target.dim == target.image_encoder.dim
    np.testing.assert_allclose(target.image_encoder.encode(pixels), encoder.encode(pixels), atol=1e-6)


def test_concepts_average_prompt_embeddings(offline):
    target = load_target(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}")
    templates = ["a photo of a {}.", "a drawing of a {}."]

    concepts = build_concepts(target, ["cat", "dog"], templates)
    cat = target.encode_text(["a photo of a cat.", "a drawing of a cat."])
    cat = cat / np.linalg.norm(cat, axis=1, keepdims=True)
    expected = cat.mean(axis=0) / np.linalg.norm(cat.mean(axis=0))

    assert concepts.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(concepts, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(concepts[0], expected, atol=1e-5)


def test_target_templates_are_open_clips_80():
    target = load_target(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}")

    assert len(target.templates) == 80
    assert target.templates[0] == "a bad photo of a {}."


def test_target_template_set_option():
    target = load_target(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}", template_set="cifar10")

    assert len(target.templates) == 18
    assert target.describe()["template_set"] == "cifar10"


def test_unknown_template_set_rejected():
    with pytest.raises(ConfigError, match="template_set"):
        load_target(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}", template_set="cifar11")


def test_encode_text_rejects_a_string():
    target = load_target(f"openclip:hf-hub:{OPENCLIP_HUB_REPO}")

    with pytest.raises(ShapeError, match="list of strings"):
        target.encode_text("a cat")


def test_default_target_is_vit_b_16_openai():
    assert get_registry().get("targets", "openclip").default == "ViT-B-16/openai"


def test_default_target_offline_error_names_weights(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_target("openclip")

    message = str(raised.value)
    assert "openclip:ViT-B-16/openai" in message
    assert "models--timm--vit_base_patch16_clip_224.openai" in message
    assert str(empty_caches.hub) in message
    assert "open_clip.create_model('ViT-B-16', pretrained='openai')" in message


def test_architecture_without_tag_lists_tags():
    with pytest.raises(ConfigError, match="openai"):
        load_encoder("openclip:ViT-B-16")


def test_unknown_tag_suggests_tags():
    with pytest.raises(NotFoundError, match="did you mean 'openai'"):
        load_encoder("openclip:ViT-B-16/opena")


def test_unknown_architecture_suggests_names():
    with pytest.raises(NotFoundError, match="did you mean 'ViT-B-16'"):
        load_encoder("openclip:ViT-B-61/openai")


def test_local_dir_without_checkpoint_rejected(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")

    with pytest.raises(NotFoundError, match="no checkpoint"):
        load_encoder(f"openclip:local-dir:{tmp_path}")


def test_uncached_hub_repo_raises_offline_error(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_encoder("openclip:hf-hub:t2c-test/not-cached")

    message = str(raised.value)
    assert "openclip:hf-hub:t2c-test/not-cached" in message
    assert "models--t2c-test--not-cached" in message
    assert str(empty_caches.hub) in message
    assert "hf download t2c-test/not-cached" in message


def test_uncached_tag_encoder_raises_offline_error(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_encoder("openclip:ViT-B-32/laion2b_s34b_b79k")

    message = str(raised.value)
    assert "openclip:ViT-B-32/laion2b_s34b_b79k" in message
    assert str(empty_caches.hub) in message
    assert "open_clip.create_model('ViT-B-32', pretrained='laion2b_s34b_b79k')" in message
