"""Concept-to-text: WordNet vocabularies, their cached embeddings, carrying vectors into target space, decoding."""

import json

import numpy as np
import pytest

from helpers_apps import DATASET, SAMPLES, demo_aligned, require_offline, run_cli
from t2c import registry
from t2c.apps.decode import EncoderVector, class_direction, class_means, read_vectors, run_decode, to_target_space
from t2c.apps.decoders import TargetVectors, VocabularyDecoder
from t2c.apps.vocabulary import load_vocabulary, vocabulary_embeddings, wordnet_adjectives, wordnet_dir, wordnet_nouns
from t2c.errors import ConfigError, NotFoundError

# Words whose nearest-word rank the class-mean tests check; a short list keeps embedding fast.
FASHION_WORDS = [
    "coat", "jacket", "hood", "cloak", "dress", "gown", "shirt", "t-shirt", "sweater", "pullover", "trouser",
    "sandal", "sneaker", "boot", "shoe", "sole", "handbag", "bag", "purse", "strap",
    "car", "dog", "cat", "tree", "house", "river", "guitar", "bird", "cloud", "bridge",
    "computer", "pizza", "mountain", "flower", "chair", "lamp", "clock", "bicycle", "apple", "boat",
]


def wordnet_installed() -> bool:
    return (wordnet_dir() / "index.noun").is_file()


needs_wordnet = pytest.mark.skipif(not wordnet_installed(), reason="needs Debian's wordnet-base (apt-get install -y wordnet-base)")


@needs_wordnet
def test_wordnet_vocabulary_is_large():
    vocabulary = load_vocabulary("wordnet")
    assert len(vocabulary) >= 10_000
    assert len(wordnet_nouns()) >= 10_000
    assert len(wordnet_adjectives()) >= 3_000


@needs_wordnet
@pytest.mark.parametrize("word", ["sandal", "sneaker", "pullover", "handbag", "striped", "leather", "t-shirt"])
def test_wordnet_vocabulary_has_word(word):
    assert word in load_vocabulary("wordnet").words


@needs_wordnet
def test_wordnet_vocabulary_skips_phrases_and_names():
    words = set(load_vocabulary("wordnet").words)
    assert "ankle_boot" not in words
    assert all(word == word.lower() and " " not in word for word in words)


def test_missing_wordnet_raises(monkeypatch, tmp_path):
    wordnet_nouns.cache_clear()
    monkeypatch.setenv("T2C_WORDNET_DIR", str(tmp_path))
    try:
        with pytest.raises(NotFoundError, match="wordnet-base"):
            load_vocabulary("wordnet-nouns")
    finally:
        wordnet_nouns.cache_clear()


def test_vocabulary_from_file_and_list(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("# fabric words\nsilk\nwool\nsilk\n\ncotton\n")
    assert load_vocabulary(str(path)).words == ("silk", "wool", "cotton")
    assert load_vocabulary("silk, wool").words == ("silk", "wool")
    assert load_vocabulary(["a", "b"]).name == "list"


def test_unknown_vocabulary_raises():
    with pytest.raises(NotFoundError, match="built-in vocabulary"):
        load_vocabulary("wordnet-verbs")


def test_vocabulary_decoder_is_registered():
    assert registry.get_decoder("vocabulary") is not None


def test_read_vectors_rejects_pickle(tmp_path):
    np.save(tmp_path / "ok.npy", np.ones((2, 3), dtype=np.float32))
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "one.json").write_text(json.dumps([1.0, 2.0, 3.0]))

    assert [item.vector.tolist() for item in read_vectors(str(tmp_path / "ok.npy"))] == [[1, 1, 1], [1, 1, 1]]
    assert read_vectors(str(tmp_path / "one.json"), "direction")[0].kind == "direction"
    with pytest.raises(ConfigError, match="not a plain .npy"):
        read_vectors(str(tmp_path / "pickled.npy"))


@pytest.fixture(scope="module")
def aligned():
    require_offline()
    return demo_aligned()


@pytest.fixture(scope="module")
def samples(aligned):
    from t2c import pipeline
    from t2c.apps.samples import load_split_features

    return load_split_features(aligned.encoder, pipeline.resolve_dataset(DATASET), "test", SAMPLES, pipeline.Runtime())


def test_point_uses_affine_map(aligned, samples):
    vector = samples.features[0]
    batch = to_target_space(aligned.head, [EncoderVector("first image", "point", vector)])
    assert np.allclose(batch.vectors[0], aligned.head.transform(vector[None, :])[0], atol=1e-5)
    assert batch.kinds == ["point"]


def test_direction_uses_linear_part(aligned, samples):
    difference = samples.features[0] - samples.features[1]
    batch = to_target_space(aligned.head, [EncoderVector("difference", "direction", difference)])
    expected = aligned.head.coef @ difference
    assert np.allclose(batch.vectors[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_weights_become_activation_patterns(aligned, samples):
    weights = np.random.default_rng(0).standard_normal(samples.features.shape[1]).astype(np.float32)
    covariance = np.cov(samples.features.astype(np.float64), rowvar=False)
    batch = to_target_space(aligned.head, [EncoderVector("weights", "weights", weights)], covariance)
    expected = aligned.head.coef @ (covariance @ weights)
    assert np.allclose(batch.vectors[0], expected / np.linalg.norm(expected), atol=1e-4)


def test_weights_without_covariance_raise(aligned, samples):
    with pytest.raises(ConfigError, match="covariance"):
        to_target_space(aligned.head, [EncoderVector("weights", "weights", samples.features[0])])


def test_wrong_vector_length_raises(aligned):
    with pytest.raises(ConfigError, match="expects 1024"):
        to_target_space(aligned.head, [EncoderVector("short", "point", np.ones(3))])


def test_centering_applies_to_points_only(aligned):
    mean = np.ones(4, dtype=np.float32)
    batch = TargetVectors(np.full((2, 4), 3.0), ["point", "direction"], target_mean=mean)
    assert batch.centered().tolist() == [[2.0] * 4, [3.0] * 4]


@pytest.fixture(scope="module")
def fashion_decoder(aligned):
    return VocabularyDecoder(aligned.target, FASHION_WORDS, top_k=5)


def test_vocabulary_embeddings_are_cached(aligned, fashion_decoder):
    again = vocabulary_embeddings(aligned.target, load_vocabulary(FASHION_WORDS))
    assert np.array_equal(again, fashion_decoder.embeddings)
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("classname", ["coat", "handbag", "dress"])
def test_class_mean_decodes_near_its_name(aligned, samples, fashion_decoder, classname):
    batch = to_target_space(aligned.head, class_means(samples, [classname]))
    rank = fashion_decoder.rank_of(batch, classname)[0]
    assert rank <= 10, f"{classname} ranks {rank} of {len(FASHION_WORDS)}"


def direction_rank(aligned, samples, decoder, spec: str, word: str) -> int:
    batch = to_target_space(aligned.head, [class_direction(samples, spec)])
    return decoder.rank_of(batch, word)[0]


def test_direction_points_towards_boots(aligned, samples, fashion_decoder):
    towards = direction_rank(aligned, samples, fashion_decoder, "sneaker:ankle boot", "boot")
    away = direction_rank(aligned, samples, fashion_decoder, "ankle boot:sneaker", "boot")
    assert towards <= 10
    assert towards < away


def test_direction_towards_sneakers(aligned, samples, fashion_decoder):
    assert direction_rank(aligned, samples, fashion_decoder, "sandal:sneaker", "sneaker") <= 3


def test_bad_direction_spec_raises(samples):
    with pytest.raises(ConfigError, match="FROM:TO"):
        class_direction(samples, "sneaker")


def test_run_decode_every_class(aligned):
    results = run_decode(
        f"{DATASET}/test", limit=SAMPLES, vocabulary=FASHION_WORDS, top_k=3,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head,
    )
    assert [entry["label"] for entry in results["decoded"]][:2] == ["class mean: t-shirt", "class mean: trousers"]
    assert len(results["decoded"]) == 10
    assert all(len(entry["words"]) == 3 for entry in results["decoded"])
    assert results["vocabulary"]["size"] == len(FASHION_WORDS)


def test_run_decode_probe_and_output(aligned, tmp_path):
    results = run_decode(
        f"{DATASET}/test", probe_classes=["coat"], limit=SAMPLES, vocabulary=FASHION_WORDS, top_k=5,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head, output=str(tmp_path / "decode"),
    )
    entry = results["decoded"][0]
    assert entry["kind"] == "weights"
    assert entry["class_name_rank"] <= 10
    assert json.loads((tmp_path / "decode" / "decode.json").read_text())["decoded"][0]["label"] == "probe weights: coat"


def test_cli_decode_json(aligned):
    results = run_cli(
        "decode", "--dataset", f"{DATASET}/test", "--class", "coat", "--direction", "sneaker:ankle boot",
        "--vocabulary", ",".join(FASHION_WORDS), "--limit", str(SAMPLES), "--train-samples", str(SAMPLES), "--no-zoo",
    )
    assert [entry["kind"] for entry in results["decoded"]] == ["point", "direction"]


@needs_wordnet
@pytest.mark.slow
def test_decode_with_wordnet_vocabulary(aligned, samples):
    # The full vocabulary (about 22k words) is embedded once per target and cached.
    decoder = VocabularyDecoder(aligned.target, "wordnet", top_k=10)
    batch = to_target_space(aligned.head, class_means(samples, ["coat"]))
    words = [entry["word"] for entry in decoder.decode(batch)[0]["words"]]
    assert {"jacket", "cloak", "overcoat", "hood"} & set(words)
