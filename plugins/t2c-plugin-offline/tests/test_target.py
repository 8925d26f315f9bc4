"""Target offline:effnet-lite0-minilm: the text side against real image features.

The first run embeds 1000 ImageNet class names x 7 templates with MiniLM and fits the text map,
which takes a minute or more on 2 CPU cores. The map is cached under the t2c cache, so later
runs take seconds.
"""

import numpy as np
import pytest

from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, ShapeError

from t2c_plugin_offline import text_map
from t2c_plugin_offline.target import create_target
from offline_helpers import cosine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def target():
    return create_target("effnet-lite0-minilm")


@pytest.fixture(scope="module")
def chelsea_features(target, chelsea):
    encoder = target.image_encoder
    return encoder.encode(to_pixels([chelsea], encoder.preprocess))


def test_target_identity(target):
    assert target.id == "offline:effnet-lite0-minilm"
    assert target.dim == 1280
    assert target.image_encoder.id == "offline:effnet-lite0"
    assert target.describe()["image_encoder"] == "offline:effnet-lite0"


def test_templates_are_simple_set(target):
    assert target.template_set == "simple-imagenet"
    assert len(target.templates) == 7
    assert all(template.count("{}") == 1 for template in target.templates)


def test_encode_text_shape(target):
    embeddings = target.encode_text(["a photo of a cat", "a photo of a truck", "a red apple"])

    assert embeddings.shape == (3, 1280)
    assert embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all()


def test_encode_text_empty(target):
    assert target.encode_text([]).shape == (0, 1280)


@pytest.mark.parametrize("texts", ["a photo of a cat", ["a cat", 3]])
def test_encode_text_rejects_non_lists(target, texts):
    with pytest.raises(ShapeError, match="list of strings"):
        target.encode_text(texts)


def test_cat_prompt_beats_truck_for_chelsea(target, chelsea_features):
    texts = target.encode_text(["a photo of a cat", "a photo of a truck"])
    cat, truck = cosine(chelsea_features, texts)[0]
    assert cat > truck


def test_chelsea_closest_to_cat_among_subjects(target, chelsea_features):
    subjects = ["cat", "truck", "airplane", "pizza", "guitar", "bridge"]
    texts = target.encode_text([f"a photo of a {subject}." for subject in subjects])
    assert subjects[int(np.argmax(cosine(chelsea_features, texts)[0]))] == "cat"


def test_predicted_rows_match_classifier(target):
    # Text for an ImageNet class maps close to that class's own classifier row.
    from t2c_plugin_offline.effnet import classifier_weights

    rows, _ = classifier_weights()
    names = text_map.imagenet_classnames()
    indices = [281, 407, 817, 948]  # tabby cat, ambulance, sports car, Granny Smith
    texts = target.encode_text([f"a photo of a {names[i]}." for i in indices])

    similarity = cosine(texts, rows[indices])
    assert (np.argmax(similarity, axis=1) == np.arange(len(indices))).all()


def test_text_map_fit_quality(target):
    fitted = target.text_map
    assert fitted.alpha in text_map.ALPHAS
    assert fitted.coef.shape == (1280, 384)
    # Chance is 1/200; a working map retrieves a good fraction of unseen classes.
    assert fitted.heldout_retrieval > 0.2


def test_text_map_is_cached(target):
    first = target.text_map
    again = create_target("effnet-lite0-minilm").text_map
    np.testing.assert_array_equal(first.coef, again.coef)
    assert first.alpha == again.alpha


def test_unknown_target_model():
    with pytest.raises(NotFoundError, match="effnet-lite0-minilm"):
        create_target("clip")


def test_unknown_target_option():
    with pytest.raises(ConfigError, match="template_set"):
        create_target("effnet-lite0-minilm", templates="x")


def test_unknown_template_set():
    with pytest.raises(ConfigError, match="openai-imagenet"):
        create_target("effnet-lite0-minilm", template_set="nope")
