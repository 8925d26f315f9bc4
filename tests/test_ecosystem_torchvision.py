"""torchvision:<model>/<weights> encoders: the torch hub cache, penultimate features, preprocessing parity, offline errors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from ecosystem_fixtures import TORCHVISION_MODEL
from t2c.encoders.pixels import to_pixels
from t2c.encoders.torchvision_encoder import remove_classifier, torchvision_preprocess
from t2c.errors import ConfigError, NotFoundError, OfflineError
from t2c.registry import load_encoder

torchvision = pytest.importorskip("torchvision")
from torchvision.models import get_model, get_model_weights  # noqa: E402

# Weights whose transforms are compared with t2c's preprocessing (no weights needed): resize 232
# bilinear, resize 384 bicubic without crop margin, and resize 256 bicubic.
PARITY_WEIGHTS = [
    ("resnet50", "IMAGENET1K_V2"),
    ("vit_b_16", "IMAGENET1K_SWAG_E2E_V1"),
    ("efficientnet_b0", "IMAGENET1K_V1"),
    (TORCHVISION_MODEL, "IMAGENET1K_V1"),
]


def test_loads_from_torch_hub_cache():
    encoder = load_encoder(f"torchvision:{TORCHVISION_MODEL}/IMAGENET1K_V1")

    assert encoder.id == f"torchvision:{TORCHVISION_MODEL}/IMAGENET1K_V1"
    assert encoder.dim == 1024
    assert encoder.preprocess.resize == 256
    assert encoder.preprocess.crop == 224


def test_features_are_penultimate(offline, chelsea):
    encoder = load_encoder(f"torchvision:{TORCHVISION_MODEL}/IMAGENET1K_V1")
    pixels = to_pixels([chelsea, chelsea.transpose(0)], encoder.preprocess)

    weights = get_model_weights(TORCHVISION_MODEL)["IMAGENET1K_V1"]
    reference = get_model(TORCHVISION_MODEL, weights=None).eval()
    reference.load_state_dict(torch.load(offline.torch_checkpoints / Path(weights.url).name, weights_only=True))
    with torch.inference_mode():
        logits = reference(torch.from_numpy(pixels)).numpy()
    classifier = reference.fc.weight.detach().numpy(), reference.fc.bias.detach().numpy()

    features = encoder.encode(pixels)

    assert features.shape == (2, 1024)
    # Penultimate features are exactly what the classifier reads: fc(features) gives the logits.
    np.testing.assert_allclose(features @ classifier[0].T + classifier[1], logits, atol=1e-4)


def test_bare_model_takes_default_weights():
    encoder = load_encoder(f"torchvision:{TORCHVISION_MODEL}")

    assert encoder.id == f"torchvision:{TORCHVISION_MODEL}/IMAGENET1K_V1"


@pytest.mark.parametrize(("architecture", "weights_name"), PARITY_WEIGHTS)
def test_preprocessing_matches_weights_transforms(architecture, weights_name, chelsea):
    weights = get_model_weights(architecture)[weights_name]

    expected = weights.transforms()(chelsea).numpy()
    pixels = to_pixels([chelsea], torchvision_preprocess(weights.transforms(), f"torchvision:{architecture}/{weights_name}"))[0]

    assert pixels.shape == expected.shape
    np.testing.assert_allclose(pixels, expected, atol=1e-5)


def test_classifier_replaced_in_sequential_head():
    model = get_model("mobilenet_v3_small", weights=None, num_classes=1000)

    dim = remove_classifier(model, 1000, "torchvision:mobilenet_v3_small")

    assert dim == 1024
    assert isinstance(model.classifier[3], torch.nn.Identity)
    assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 1024)


def test_model_without_linear_classifier_rejected():
    model = get_model("squeezenet1_1", weights=None, num_classes=1000)

    with pytest.raises(ConfigError, match="no linear classifier"):
        remove_classifier(model, 1000, "torchvision:squeezenet1_1")


def test_unknown_model_suggests_names():
    with pytest.raises(NotFoundError, match="did you mean 'resnet50'"):
        load_encoder("torchvision:resnet500/IMAGENET1K_V2")


def test_unknown_weights_suggest_names():
    with pytest.raises(NotFoundError, match="IMAGENET1K_V2"):
        load_encoder("torchvision:resnet50/IMAGENET1K_V3")


def test_uncached_weights_raise_offline_error(empty_caches):
    with pytest.raises(OfflineError) as raised:
        load_encoder("torchvision:resnet50/IMAGENET1K_V2")

    message = str(raised.value)
    assert "torchvision:resnet50/IMAGENET1K_V2" in message
    assert "resnet50-11ad3fa6.pth" in message  # the file name of the weights URL
    assert str(empty_caches.torch_checkpoints) in message
    assert "torchvision.models.get_model('resnet50', weights='IMAGENET1K_V2')" in message
