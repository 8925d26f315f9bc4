"""Concept-to-text: decode vectors of an encoder's space into words (and, with a plugin, sentences).

A vector of encoder space is carried into target space by the head, then compared with the
concept vectors of a vocabulary. How it is carried depends on what the vector is:
- a point (an image's features, a class mean): the head's affine map, `coef @ x + intercept`;
  the nearest-word decoder then subtracts the head's target mean, as zero-shot scoring does;
- a direction (the difference of two class means): the linear part only, `coef @ d`, because
  an offset cancels in a difference;
- weights (a linear probe's row w, scoring `w . x`): a weight vector is a filter, not a pattern,
  and read as a direction it is dominated by how the features are correlated. So it is first
  turned into its activation pattern `a = cov(x) @ w`, with the covariance of the split's
  features: the direction along which the features move when the score rises (Haufe et al.,
  "On the interpretation of weight vectors of linear models in multivariate neuroimaging",
  NeuroImage 87, 96-110, 2014). The pattern is then carried like a direction. Solving
  `coef.T @ u = w` by least squares instead was tried on the offline models and decoded every
  class to the same words, because it amplifies the directions the head barely uses.
Directions and weights are normalised to unit length in target space.
"""

import logging
from dataclasses import dataclass

import numpy as np

from t2c import pipeline, registry
from t2c.apps.aligned import AlignedEncoder, prepare_aligned
from t2c.apps.cbm import logistic_regression
from t2c.apps.decoders import DEFAULT_TOP_K, TargetVectors, VocabularyDecoder
from t2c.apps.outputs import output_folder, write_json
from t2c.apps.samples import SplitFeatures, class_indices, load_split_features, resolve_split, split_names
from t2c.apps.vocabulary import Vocabulary, load_vocabulary
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target
from t2c.targets.concepts import normalize_rows

log = logging.getLogger("t2c.decode")

DEFAULT_DATASET = "fashion-mnist"
VECTOR_KINDS = ("point", "direction", "weights")


@dataclass
class EncoderVector:
    """A vector of encoder space to decode: `vector` (p,) float32, what it is (`kind`) and a `label` for results."""

    label: str
    kind: str
    vector: np.ndarray
    word: str | None = None  # a word expected to decode well (the class name), whose rank is reported

    def __post_init__(self):
        if self.kind not in VECTOR_KINDS:
            raise ConfigError(f"vector kind {self.kind!r} is invalid; use one of {', '.join(VECTOR_KINDS)}")
        self.vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if not np.isfinite(self.vector).all():
            raise ConfigError(f"vector {self.label!r} contains NaN or infinite values")


def to_target_space(head: Head, items: list[EncoderVector], covariance: np.ndarray | None = None) -> TargetVectors:
    """Carry encoder-space vectors into target space by kind (see the module docstring).

    Args:
        covariance: (p, p) covariance of encoder features, needed for "weights" vectors.
    """
    p = head.card.encoder.dim
    rows, kinds = [], []
    for item in items:
        if item.vector.shape != (p,):
            raise ConfigError(f"vector {item.label!r} has {item.vector.size} values, but head {head.encoder_id} expects {p}")
        if item.kind == "point":
            rows.append(head.transform(item.vector[None, :])[0])
            kinds.append("point")
            continue

        direction = item.vector
        if item.kind == "weights":
            if covariance is None:
                raise ConfigError(f"weights vector {item.label!r} needs the covariance of encoder features; decode it with a data set")
            direction = (covariance @ item.vector.astype(np.float64)).astype(np.float32)
        mapped = head.coef @ direction
        if not np.linalg.norm(mapped) > 0:
            raise ConfigError(f"{item.kind} vector {item.label!r} maps to zero in target space; it cannot be decoded")
        rows.append(normalize_rows(mapped.astype(np.float32)))
        kinds.append("direction")
    return TargetVectors(np.stack(rows), kinds, target_mean=head.target_mean)


def feature_covariance(samples: SplitFeatures) -> np.ndarray:
    """Return the (p, p) float64 covariance of a split's encoder features."""
    if len(samples) < 2:
        raise ConfigError(f"{samples.name} has {len(samples)} samples read; the feature covariance needs at least 2")
    return np.cov(samples.features.astype(np.float64), rowvar=False)


def class_means(samples: SplitFeatures, classes: list[str]) -> list[EncoderVector]:
    """Return the mean encoder feature of each class (points)."""
    if not classes:
        return []
    items = []
    for name, index in zip(classes, class_indices(samples.dataset, classes), strict=True):
        members = samples.features[samples.labels == index]
        if len(members) == 0:
            raise ConfigError(f"no sample of class {name!r} among the {len(samples)} read from {samples.name}; read more samples")
        items.append(EncoderVector(f"class mean: {name}", "point", members.mean(axis=0), word=name))
    return items


def class_direction(samples: SplitFeatures, spec: str) -> EncoderVector:
    """Return the direction from one group of classes to another, given as "FROM:TO" (comma lists)."""
    source, colon, destination = spec.partition(":")
    if not colon or not split_names(source) or not split_names(destination):
        raise ConfigError(f"direction {spec!r} is invalid; write FROM:TO with comma-separated classes, such as 'sneaker:ankle boot'")

    means = []
    for group in (split_names(source), split_names(destination)):
        members = np.isin(samples.labels, class_indices(samples.dataset, group))
        if not members.any():
            raise ConfigError(f"no sample of classes {group} among the {len(samples)} read from {samples.name}")
        means.append(samples.features[members].mean(axis=0))
    return EncoderVector(f"direction: {source.strip()} -> {destination.strip()}", "direction", means[1] - means[0])


def probe_weights(samples: SplitFeatures, classes: list[str], C: float = 1.0, max_iter: int = 1000) -> list[EncoderVector]:
    """Fit a linear probe (L2 logistic regression on standardised features) and return the rows of `classes`.

    The probe scores `w . ((x - m) / s)`, so its row in raw encoder space is `w / s`.
    """
    mean, scale = samples.features.mean(axis=0), samples.features.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    probe = logistic_regression(C, 0.0, "lbfgs", max_iter).fit((samples.features - mean) / scale, samples.labels)

    items = []
    for name, index in zip(classes, class_indices(samples.dataset, classes), strict=True):
        position = np.flatnonzero(probe.classes_ == index)
        if len(position) == 0:
            raise ConfigError(f"the probe saw no sample of class {name!r}; read more samples")
        if len(probe.classes_) > 2:
            row = probe.coef_[position[0]]
        elif position[0] == 1:
            row = probe.coef_[0]  # a binary probe has one row, scoring the second class
        else:
            row = -probe.coef_[0]
        items.append(EncoderVector(f"probe weights: {name}", "weights", row / scale, word=name))
    return items


def make_decoder(name: str, target: Target, options: dict | None = None):
    """Build the registered decoder `name` for `target` with `options`."""
    factory = registry.get_decoder(name)
    return factory(target=target, **(options or {}))


def decode_vectors(
    aligned: AlignedEncoder,
    items: list[EncoderVector],
    *,
    vocabulary: str | list[str] | Vocabulary | None = None,
    templates: list[str] | None = None,
    top_k: int = DEFAULT_TOP_K,
    decoder: str | None = None,
    decoder_options: dict | None = None,
    covariance: np.ndarray | None = None,
) -> list[dict]:
    """Decode encoder-space vectors into nearest words and, with `decoder`, generated text.

    `covariance` (p, p) of encoder features is needed when an item is a "weights" vector.
    """
    if not items:
        raise ConfigError("nothing to decode; name classes, a direction, probe classes or pass vectors")
    batch = to_target_space(aligned.head, items, covariance)
    words = VocabularyDecoder(aligned.target, vocabulary, templates, top_k=top_k, center=aligned.center)
    decoded = words.decode(batch)

    generated = None
    if decoder is not None and decoder != "vocabulary":
        generated = make_decoder(decoder, aligned.target, decoder_options).decode(batch)

    results = []
    for position, item in enumerate(items):
        entry = {"label": item.label, "kind": item.kind, "words": decoded[position]["words"]}
        if item.word is not None:
            ranks = words.rank_of(TargetVectors(batch.vectors[position : position + 1], [batch.kinds[position]], batch.target_mean), item.word)
            entry["class_name_rank"] = None if ranks is None else ranks[0]
        if generated is not None:
            entry["generated"] = generated[position]["text"]
        results.append(entry)
    return results


def run_decode(
    dataset: str | Dataset | None = None,
    *,
    classes: list[str] | None = None,
    directions: list[str] | None = None,
    probe_classes: list[str] | None = None,
    vectors: list[EncoderVector] | None = None,
    limit: int | None = None,
    vocabulary: str | list[str] | Vocabulary | None = None,
    templates: list[str] | None = None,
    top_k: int = DEFAULT_TOP_K,
    decoder: str | None = None,
    decoder_options: dict | None = None,
    encoder: str | Encoder | None = None,
    target: str | Target | None = None,
    head: str | Head | None = None,
    aligner: str = "ridge",
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    use_zoo: bool = True,
    center: bool = True,
    runtime: Runtime | None = None,
    output: str | None = None,
) -> dict:
    """Decode class means, class directions, probe weights or given vectors of encoder space into words.

    Args:
        dataset: "DATASET" or "DATASET/SPLIT" whose images give class means, directions and the
            probe (default fashion-mnist, its evaluation split).
        classes: classes whose mean feature to decode. With no classes, directions, probe classes
            or vectors, every class of the data set is decoded.
        directions: "FROM:TO" class groups, decoded as mean(TO) - mean(FROM).
        probe_classes: classes whose linear-probe weight row to decode.
        vectors: `EncoderVector`s given directly.
        limit: read only the first `limit` samples of the split.
        vocabulary: candidate words (default: WordNet nouns and adjectives, about 22k).
        decoder: a generative decoder registered through `register_decoders`, such as "clipcap",
            built with `decoder_options`.
    """
    runtime = runtime or Runtime()
    dataset, split = resolve_split(dataset or DEFAULT_DATASET)

    aligned = prepare_aligned(
        encoder, target, dataset, head=head, aligner=aligner, fit_dataset=fit_dataset,
        train_samples=train_samples, use_zoo=use_zoo, center=center, runtime=runtime,
    )

    items = list(vectors or [])
    covariance = None
    needs_samples = classes or directions or probe_classes or not items or any(item.kind == "weights" for item in items)
    if needs_samples:
        samples = load_split_features(aligned.encoder, dataset, split, limit, runtime)
        covariance = feature_covariance(samples)
        if not (classes or directions or probe_classes or items):
            classes = list(dataset.classnames or [])
        if (classes or directions or probe_classes) and samples.labels is None:
            raise ConfigError(f"split {samples.name} has no labels; class means, directions and probes need labels")
        items += class_means(samples, classes or [])
        items += [class_direction(samples, spec) for spec in directions or []]
        if probe_classes:
            items += probe_weights(samples, probe_classes)

    vocabulary = load_vocabulary(vocabulary)
    decoded = decode_vectors(
        aligned, items, vocabulary=vocabulary, templates=templates, top_k=top_k,
        decoder=decoder, decoder_options=decoder_options, covariance=covariance,
    )
    results = {
        "task": "decode",
        "dataset": dataset.id,
        "split": split,
        "vocabulary": {"name": vocabulary.name, "size": len(vocabulary), "templates": templates},
        "decoder": decoder or "vocabulary",
        **aligned.describe(),
        "decoded": decoded,
    }
    if output is not None:
        folder = output_folder(output)
        results["files"] = {"json": str(write_json(folder / "decode.json", results))}
    return results


def read_vectors(path: str, kind: str = "point") -> list[EncoderVector]:
    """Read vectors of encoder space from a .npy file (read without pickle) or a JSON list (of lists) of numbers."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"vector file {file} not found; give a .npy array or a .json list of numbers")
    if file.suffix == ".npy":
        try:
            array = np.load(file, allow_pickle=False)
        except ValueError as error:
            raise ConfigError(f"{file} is not a plain .npy array ({error}); save it with numpy.save from a float array") from None
    elif file.suffix == ".json":
        import json

        array = np.asarray(json.loads(file.read_text(encoding="utf-8")), dtype=np.float32)
    else:
        raise ConfigError(f"vector file {file} must end in .npy or .json")

    array = np.atleast_2d(np.asarray(array, dtype=np.float32))
    if array.ndim != 2:
        raise ConfigError(f"{file} contains an array of shape {array.shape}; expected (p,) or (n, p)")
    return [EncoderVector(f"{file.name}[{row}]", kind, vector) for row, vector in enumerate(array)]
