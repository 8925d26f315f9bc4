"""Stitching on the offline encoders: R², agreement with EfficientNet's own classifier, accuracy in a shared label space."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from helpers_apps import DATASET, ENCODER, SAMPLES, SECOND_ENCODER, require_offline, run_cli
from t2c import pipeline
from t2c.apps.classifier import LinearClassifier, encoder_classifier
from t2c.apps.stitch import behaviour_metrics, label_space, pair_matrix, run_stitch, stitch_pair
from t2c.errors import ConfigError, ShapeError

# scikit-image photos saved under ImageNet class names, so their labels live in EfficientNet's label space.
PHOTOS = {"chelsea": "tiger cat", "coffee": "espresso", "rocket": "missile", "stereo_motorcycle": "moped"}


def test_behaviour_of_own_features_is_perfect():
    rng = np.random.default_rng(0)
    classifier = LinearClassifier(rng.standard_normal((5, 8)).astype(np.float32), np.zeros(5, np.float32), list("abcde"))
    features = rng.standard_normal((30, 8)).astype(np.float32)
    labels = classifier.predict(features)
    metrics = behaviour_metrics(classifier, features, features, labels)

    assert metrics["agreement_top1"] == 1.0
    assert metrics["accuracy_aligned"] == 1.0
    assert metrics["agreement_majority_baseline"] == np.bincount(labels).max() / 30


def test_repeated_class_names_count_as_one():
    # open_clip's ImageNet names contain "missile" twice; predicting either is correct for "missile".
    classifier = LinearClassifier(np.eye(3, dtype=np.float32), np.zeros(3, np.float32), ["missile", "cat", "Missile"])
    features = np.array([[0, 0, 1.0]], dtype=np.float32)
    metrics = behaviour_metrics(classifier, features, features, np.array([0]))

    assert classifier.class_index(["missile"]) == [0]
    assert metrics["accuracy_destination"] == 1.0


def test_pair_matrix_places_source_rows():
    pairs = [{"source": "a", "destination": "b", "r2_paper": 0.5}, {"source": "b", "destination": "a", "r2_paper": 0.7}]
    assert pair_matrix(["a", "b"], pairs, "r2_paper") == [[None, 0.5], [0.7, None]]


@pytest.fixture(scope="module")
def encoders():
    require_offline()
    runtime = pipeline.Runtime()
    return pipeline.resolve_encoder(ENCODER, runtime), pipeline.resolve_encoder(SECOND_ENCODER, runtime)


def test_effnet_has_imagenet_classifier(encoders):
    resnet, effnet = encoders
    classifier = encoder_classifier(effnet)

    assert classifier.weight.shape == (1000, 1280)
    assert classifier.classnames[281] == "tabby cat"
    assert encoder_classifier(resnet) is None


def test_classifier_of_wrong_size_raises(encoders):
    class WrongClassifier:
        id = "wrong"
        dim = 4

        def classifier(self):
            return np.zeros((3, 5)), np.zeros(3), ["a", "b", "c"]

    with pytest.raises(ShapeError, match=r"expected \(3, 4\)"):
        encoder_classifier(WrongClassifier())


def test_fashion_mnist_is_not_imagenet(encoders):
    classifier = encoder_classifier(encoders[1])
    assert label_space(pipeline.resolve_dataset(DATASET), classifier) is None


@pytest.fixture(scope="module")
def resnet_into_effnet(encoders):
    return stitch_pair(*encoders, DATASET, train_samples=SAMPLES, eval_samples=SAMPLES)


def test_stitch_r2_is_held_out(resnet_into_effnet):
    assert resnet_into_effnet["heldout"]
    assert resnet_into_effnet["fit_data"]["split"] == "train"
    assert resnet_into_effnet["eval_split"] == f"{DATASET}/test"
    assert resnet_into_effnet["r2_paper"] > 0.6


def test_agreement_beats_majority_baseline(resnet_into_effnet):
    assert resnet_into_effnet["label_space"] == "different"
    assert resnet_into_effnet["accuracy_aligned"] is None
    assert resnet_into_effnet["agreement_top1"] > 0.35
    assert resnet_into_effnet["agreement_top1"] > 3 * resnet_into_effnet["agreement_majority_baseline"]
    assert resnet_into_effnet["agreement_top5"] > resnet_into_effnet["agreement_top1"]


def test_destination_without_classifier_reports_r2_only(encoders):
    result = stitch_pair(encoders[1], encoders[0], DATASET, train_samples=SAMPLES, eval_samples=SAMPLES)
    assert result["destination_has_classifier"] is False
    assert "agreement_top1" not in result
    assert result["r2_paper"] > 0.6


def test_same_encoder_twice_raises(encoders):
    with pytest.raises(ConfigError, match="two different encoders"):
        stitch_pair(encoders[0], encoders[0], DATASET)


@pytest.fixture(scope="module")
def imagenet_photos():
    # A fixed folder under the test cache, so the feature store finds its features on later runs.
    import skimage.data

    from t2c.paths import cache_dir

    root = cache_dir("test-photos", "imagenet-classes")
    for name, classname in PHOTOS.items():
        folder = root / classname.replace(" ", "_")
        folder.mkdir(exist_ok=True)
        photo = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":
            photo = photo[0]  # (left, right, disparity): the left view
        Image.fromarray(photo).convert("RGB").save(folder / f"{name}.png")
    return f"folder:{root}"


def test_accuracy_in_shared_label_space(encoders, imagenet_photos):
    # Fitted on Fashion-MNIST, evaluated on photos: R² is poor across domains, but accuracy is defined.
    result = stitch_pair(*encoders, imagenet_photos, fit_dataset=DATASET, train_samples=SAMPLES)

    assert result["label_space"] == "shared"
    assert result["n_eval"] == len(PHOTOS)
    assert result["accuracy_destination"] >= 0.75
    assert 0.0 <= result["accuracy_aligned"] <= 1.0


def test_run_stitch_writes_matrix_files(encoders, tmp_path):
    results = run_stitch(list(encoders), DATASET, train_samples=SAMPLES, eval_samples=SAMPLES, output=str(tmp_path / "stitch"))
    folder = tmp_path / "stitch"
    rows = list(csv.DictReader((folder / "stitch.csv").open()))

    assert results["matrices"]["r2_paper"][0][0] is None
    assert results["matrices"]["agreement_top1"][0][1] == pytest.approx(results["pairs"][0]["agreement_top1"])
    assert len(rows) == 2
    matrices = list(csv.DictReader((folder / "stitch_matrices.csv").open()))
    assert [row["metric"] for row in matrices] == ["r2_paper"] * 2 + ["r2_sklearn"] * 2 + ["agreement_top1"] * 2
    assert matrices[0][ENCODER] == ""
    assert json.loads((folder / "stitch.json").read_text())["encoders"] == [ENCODER, SECOND_ENCODER]
    assert (folder / "stitch.png").stat().st_size > 10_000
    assert "not among the classes" in results["notes"][0]


def test_cli_stitch_json(encoders):
    results = run_cli(
        "stitch", "--encoders", f"{ENCODER},{SECOND_ENCODER}", "--dataset", DATASET,
        "--train-samples", str(SAMPLES), "--eval-samples", str(SAMPLES),
    )
    assert [pair["destination"] for pair in results["pairs"]] == [SECOND_ENCODER, ENCODER]
