"""Concept bottlenecks on the offline models: accuracy beside a linear probe, sparsity, saving and loading."""

import json

import numpy as np
import pytest

from helpers_apps import DATASET, SAMPLES, demo_aligned, require_offline, run_cli
from t2c import pipeline
from t2c.apps.bottleneck import CONFIG_NAME, WEIGHTS_NAME, ConceptBottleneck
from t2c.apps.cbm import fit_bottleneck, logistic_regression, run_cbm
from t2c.apps.samples import filter_classes, load_split_features
from t2c.apps.vocabulary import load_vocabulary, vocabulary_embeddings
from t2c.errors import ConfigError, HeadError, ShapeError

CONCEPTS = [
    "coat", "jacket", "hood", "dress", "gown", "skirt", "shirt", "t-shirt", "sweater", "pullover", "collar", "sleeve",
    "trouser", "jeans", "leg", "sandal", "sneaker", "boot", "shoe", "heel", "sole", "lace", "strap", "handbag", "bag",
    "purse", "handle", "buckle", "zipper", "button", "pocket", "stripe", "dark", "bright", "long", "short", "round",
    "flat", "tall", "wide", "car", "dog", "tree", "cloud", "guitar", "pizza", "bridge", "flower", "clock", "chair",
]


def test_l1_penalty_zeroes_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 30))
    y = (x[:, 0] + 0.1 * rng.standard_normal(200) > 0).astype(int)
    model = logistic_regression(0.05, 1.0, "saga", 2000).fit(x, y)
    assert 1 <= np.count_nonzero(model.coef_) < 10
    assert model.coef_[0, 0] != 0


@pytest.fixture(scope="module")
def aligned():
    require_offline()
    return demo_aligned()


@pytest.fixture(scope="module")
def results(aligned):
    return run_cbm(
        DATASET, concepts=CONCEPTS, train_samples=SAMPLES, eval_samples=SAMPLES, C=0.05,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head,
    )


def test_bottleneck_accuracy_near_probe(results):
    metrics = results["metrics"]
    assert metrics["accuracy"] > 0.6
    assert metrics["linear_probe_accuracy"] > 0.75
    assert metrics["accuracy"] > metrics["linear_probe_accuracy"] - 0.2


def test_bottleneck_is_sparse(results):
    sparsity = results["sparsity"]
    assert sparsity["concepts_total"] == len(CONCEPTS)
    assert sparsity["mean_concepts_per_class"] < 0.8 * len(CONCEPTS)
    assert sparsity["nonzero_weights"] > 0


RELATED = {  # class -> concepts that describe it
    "t-shirt": {"t-shirt", "shirt", "collar", "sleeve", "short"},
    "trousers": {"trouser", "jeans", "leg", "long"},
    "pullover": {"pullover", "sweater", "sleeve", "collar"},
    "dress": {"dress", "gown", "skirt"},
    "coat": {"coat", "jacket", "hood", "zipper", "button", "pocket"},
    "sandal": {"sandal", "strap", "shoe", "sole", "heel", "flat"},
    "shirt": {"shirt", "collar", "sleeve", "button", "pocket"},
    "sneaker": {"sneaker", "shoe", "sole", "lace", "flat"},
    "handbag": {"handbag", "bag", "purse", "handle", "strap", "buckle"},
    "ankle boot": {"boot", "shoe", "heel", "sole", "lace", "tall"},
}


def test_top_concepts_per_class(results):
    assert list(results["top_concepts"]) == pipeline.resolve_dataset(DATASET).classnames
    assert all(item["weight"] > 0 for items in results["top_concepts"].values() for item in items)


def test_top_concepts_describe_most_classes(results):
    # The offline target is weak ("pizza" helps to spot pullovers), so only most classes need a related concept.
    described = [
        classname for classname, items in results["top_concepts"].items()
        if RELATED[classname] & {item["concept"] for item in items[:3]}
    ]
    assert len(described) >= 5, described


@pytest.fixture(scope="module")
def splits(aligned):
    dataset = pipeline.resolve_dataset(DATASET)
    runtime = pipeline.Runtime()
    return (
        load_split_features(aligned.encoder, dataset, "train", SAMPLES, runtime),
        load_split_features(aligned.encoder, dataset, "test", SAMPLES, runtime),
    )


@pytest.fixture(scope="module")
def bottleneck(aligned, splits):
    vocabulary = load_vocabulary(CONCEPTS)
    train = splits[0]
    return fit_bottleneck(
        aligned.head, CONCEPTS, vocabulary_embeddings(aligned.target, vocabulary), train.features, train.labels,
        list(train.dataset.classnames), templates=["a photo of {}."], C=0.05,
        fit_data={"dataset": DATASET, "split": "train", "n_samples": len(train)},
    )


def test_save_load_round_trip(bottleneck, splits, tmp_path):
    folder = bottleneck.save_pretrained(tmp_path / "cbm")
    loaded = ConceptBottleneck.from_pretrained(folder)
    test = splits[1]

    assert np.array_equal(loaded.predict(test.features), bottleneck.predict(test.features))
    assert loaded.card.concepts == CONCEPTS
    assert loaded.card.head_weights_sha256 == loaded.head.card.weights_sha256


def test_saved_folder_has_no_pickle(bottleneck, tmp_path):
    bottleneck.save_pretrained(tmp_path / "cbm")
    suffixes = {path.suffix for path in (tmp_path / "cbm").rglob("*") if path.is_file()}
    assert suffixes == {".json", ".safetensors"}


def test_modified_weights_raise(bottleneck, tmp_path):
    folder = bottleneck.save_pretrained(tmp_path / "cbm")
    data = bytearray((folder / WEIGHTS_NAME).read_bytes())
    data[-1] ^= 0xFF
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(HeadError, match="sha256"):
        ConceptBottleneck.from_pretrained(folder)


def test_unknown_card_field_raises(bottleneck, tmp_path):
    folder = bottleneck.save_pretrained(tmp_path / "cbm")
    card = json.loads((folder / CONFIG_NAME).read_text())
    card["solver"] = "saga"
    (folder / CONFIG_NAME).write_text(json.dumps(card))
    with pytest.raises(HeadError, match="unknown field 'solver'"):
        ConceptBottleneck.from_pretrained(folder)


def test_card_and_arrays_must_agree(bottleneck):
    with pytest.raises(ShapeError, match="coef"):
        ConceptBottleneck(
            bottleneck.head, bottleneck.concept_vectors, bottleneck.coef[:, :-1], bottleneck.intercept,
            bottleneck.score_mean, bottleneck.score_scale, bottleneck.card,
        )


def test_binary_bottleneck_matches_sklearn(aligned, bottleneck, splits):
    train = filter_classes(splits[0], ["sandal", "sneaker"])
    labels = (train.labels == 7).astype(np.int64)  # 0: sandal, 1: sneaker
    binary = fit_bottleneck(
        aligned.head, CONCEPTS, bottleneck.concept_vectors, train.features, labels, ["sandal", "sneaker"],
        templates=["a photo of {}."], C=0.1,
    )
    assert binary.coef.shape == (2, len(CONCEPTS))
    assert np.allclose(binary.coef[0], -binary.coef[1])
    assert (binary.predict(train.features) == labels).mean() > 0.9


def test_elastic_net_keeps_more_concepts(aligned, bottleneck, splits):
    train = splits[0]
    mixed = fit_bottleneck(
        aligned.head, CONCEPTS, bottleneck.concept_vectors, train.features, train.labels, list(train.dataset.classnames),
        templates=["a photo of {}."], C=0.05, l1_ratio=0.5,
    )
    assert mixed.card.regularization.l1_ratio == 0.5
    assert mixed.sparsity()["nonzero_weights"] > bottleneck.sparsity()["nonzero_weights"]


def test_missing_class_raises(aligned, bottleneck, splits):
    train = splits[0]
    with pytest.raises(ConfigError, match="no example of classes"):
        fit_bottleneck(
            aligned.head, CONCEPTS, bottleneck.concept_vectors, train.features[:5], train.labels[:5],
            list(train.dataset.classnames), templates=["a photo of {}."],
        )


def test_cli_cbm_writes_bottleneck(aligned, tmp_path):
    results = run_cli(
        "cbm", "--dataset", DATASET, "--concepts", ",".join(CONCEPTS), "--train-samples", str(SAMPLES),
        "--eval-samples", str(SAMPLES), "--no-zoo", "--output", str(tmp_path / "out"),
    )
    loaded = ConceptBottleneck.from_pretrained(results["files"]["bottleneck"])
    assert loaded.card.metrics[f"{DATASET}/test/accuracy"] == pytest.approx(results["metrics"]["accuracy"])
