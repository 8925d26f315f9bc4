"""Concept bottleneck models without concept labels: fit, evaluate beside a linear probe, and save.

The sparse head is scikit-learn's LogisticRegression with the saga solver and an L1 (lasso) or
elastic-net penalty, trained on standardised concept scores of labelled images. Two references are
trained on the same images. A linear probe on the raw encoder features (L2 logistic regression on
standardised features) is the usual upper reference. A dense L2 head on the same concept scores
shows what sparsity costs.
"""

import logging

import numpy as np

from t2c import pipeline
from t2c.apps.aligned import prepare_aligned
from t2c.apps.bottleneck import ConceptBottleneck, concept_scores, new_card
from t2c.apps.outputs import output_folder, write_json
from t2c.apps.samples import SplitFeatures, load_split_features
from t2c.apps.vocabulary import DEFAULT_TEMPLATES, Vocabulary, load_vocabulary, vocabulary_embeddings
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target

log = logging.getLogger("t2c.cbm")

DEFAULT_DATASET = "fashion-mnist"
DEFAULT_C = 0.05
DEFAULT_MAX_ITER = 300
DEFAULT_MAX_CONCEPTS = 1000  # saga over all 21,856 WordNet concepts had not finished after 6 CPU minutes on 1024 images
PROBE_C = 1.0
TOP_CONCEPTS = 5


def _sklearn():
    try:
        import sklearn
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:
        raise ConfigError(f"cbm needs scikit-learn ({error}); install it with `pip install scikit-learn`") from None
    return sklearn, LogisticRegression


def logistic_regression(C: float, l1_ratio: float, solver: str, max_iter: int):
    """Build a LogisticRegression with an elastic-net mix `l1_ratio` (1: L1, 0: L2) on any scikit-learn >= 1.4.

    scikit-learn 1.8 deprecated `penalty` in favour of `l1_ratio` alone; older versions need `penalty`.
    """
    sklearn, LogisticRegression = _sklearn()
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, max_iter=max_iter)

    if l1_ratio == 0:
        return LogisticRegression(penalty="l2", C=C, solver=solver, max_iter=max_iter)
    if l1_ratio == 1:
        return LogisticRegression(penalty="l1", C=C, solver=solver, max_iter=max_iter)
    return LogisticRegression(penalty="elasticnet", C=C, l1_ratio=l1_ratio, solver=solver, max_iter=max_iter)


def _fit_quietly(model, x: np.ndarray, y: np.ndarray):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    if any(issubclass(warning.category, ConvergenceWarning) for warning in caught):
        log.warning("%s did not converge in max_iter=%d; raise max_iter for exact weights", type(model).__name__, model.max_iter)
    return model


def _standardize(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = scores.mean(axis=0)
    scale = scores.std(axis=0)
    return mean, np.where(scale > 1e-12, scale, 1.0)


def _class_weights(model, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (k, c) weights and (k,) intercepts; a binary model's single row w becomes [-w/2, w/2]."""
    if n_classes == 2:
        row, bias = model.coef_[0], model.intercept_[0]
        return np.stack([-row / 2, row / 2]), np.array([-bias / 2, bias / 2])
    return model.coef_, model.intercept_


def fit_bottleneck(
    head: Head,
    concepts: list[str],
    concept_vectors: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    classnames: list[str],
    *,
    templates: list[str],
    C: float = DEFAULT_C,
    l1_ratio: float = 1.0,
    center: bool = True,
    max_iter: int = DEFAULT_MAX_ITER,
    fit_data: dict | None = None,
) -> ConceptBottleneck:
    """Fit the sparse head of a concept bottleneck on labelled encoder features.

    Args:
        concept_vectors: (c, q) unit vectors in target space for the c `concepts`.
        features: (n, p) encoder-space features; labels: (n,) indices into `classnames`.
        C: inverse penalty strength (smaller: fewer concepts per class).
        l1_ratio: 1 for L1, between 0 and 1 for the elastic net.
    """
    if not 0 < l1_ratio <= 1:
        raise ConfigError(f"l1_ratio={l1_ratio} must be in (0, 1]: 1 is L1, below 1 mixes in L2 (elastic net)")
    if C <= 0:
        raise ConfigError(f"C={C} must be positive (inverse penalty strength)")
    present = np.unique(labels)
    if len(present) != len(classnames):
        missing = [classnames[index] for index in range(len(classnames)) if index not in present]
        raise ConfigError(f"the training images contain no example of classes {missing}; use more training samples")

    card = new_card(
        head, concepts, templates, classnames, center=center, C=C, l1_ratio=l1_ratio,
        fit_data=fit_data or {"dataset": "unknown", "split": "unknown", "n_samples": len(labels)},
    )
    scores = concept_scores(head, concept_vectors, features, center)
    mean, scale = _standardize(scores)
    log.info("fitting sparse head: %d images, %d concepts, %d classes, C=%g, l1_ratio=%g", len(labels), len(concepts), len(classnames), C, l1_ratio)
    model = _fit_quietly(logistic_regression(C, l1_ratio, "saga", max_iter), (scores - mean) / scale, labels)

    coef, intercept = _class_weights(model, len(classnames))
    return ConceptBottleneck(head, concept_vectors, coef, intercept, mean, scale, card)


def most_varied_concepts(scores: np.ndarray, count: int) -> np.ndarray:
    """Return the indices (sorted) of the `count` columns of (n, c) concept scores with the largest standard deviation.

    Labels are not used: a concept whose score hardly changes between images cannot separate them.
    """
    if count >= scores.shape[1]:
        return np.arange(scores.shape[1])
    return np.sort(np.argsort(-scores.std(axis=0))[:count])


def linear_probe_accuracy(train: SplitFeatures, test: SplitFeatures, C: float = PROBE_C, max_iter: int = 1000) -> float:
    """Return the test accuracy of an L2 logistic regression on standardised raw encoder features."""
    mean, scale = _standardize(train.features)
    model = _fit_quietly(logistic_regression(C, 0.0, "lbfgs", max_iter), (train.features - mean) / scale, train.labels)
    return float((model.predict((test.features - mean) / scale) == test.labels).mean())


def dense_concept_accuracy(bottleneck: ConceptBottleneck, train: SplitFeatures, test: SplitFeatures, max_iter: int = 1000) -> float:
    """Return the test accuracy of an L2 logistic regression on the same standardised concept scores."""
    def standardized(samples):
        return (bottleneck.concept_scores(samples.features) - bottleneck.score_mean) / bottleneck.score_scale

    model = _fit_quietly(logistic_regression(PROBE_C, 0.0, "lbfgs", max_iter), standardized(train), train.labels)
    return float((model.predict(standardized(test)) == test.labels).mean())


def run_cbm(
    dataset: str | Dataset = DEFAULT_DATASET,
    *,
    concepts: str | list[str] | Vocabulary | None = None,
    templates: list[str] | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    eval_samples: int | None = None,
    C: float = DEFAULT_C,
    l1_ratio: float = 1.0,
    max_iter: int = DEFAULT_MAX_ITER,
    max_concepts: int | None = DEFAULT_MAX_CONCEPTS,
    encoder: str | Encoder | None = None,
    target: str | Target | None = None,
    head: str | Head | None = None,
    aligner: str = "ridge",
    fit_dataset: str | Dataset | None = None,
    use_zoo: bool = True,
    center: bool = True,
    runtime: Runtime | None = None,
    output: str | None = None,
) -> dict:
    """Fit a concept bottleneck on the first `train_samples` labelled images of the fit split and evaluate it.

    Without `head`, the head is fitted on the same images (or on `fit_dataset`'s fit split), labels
    unused. Concepts default to the built-in WordNet vocabulary and `templates` to "a photo of {}.".
    With more than `max_concepts` concepts, the sparse head is trained on only the `max_concepts`
    whose scores vary most over the training images (None keeps all).

    Returns a JSON-ready dict: accuracy of the bottleneck, of a linear probe on raw features and of a
    dense head on the concept scores, sparsity, and the top concepts per class. With `output`
    (a folder) it also writes cbm.json and the bottleneck to `output/bottleneck`.
    """
    runtime = runtime or Runtime()
    dataset = pipeline.resolve_dataset(dataset)
    if not dataset.classnames:
        raise ConfigError(f"data set {dataset.id} has no class names; cbm needs a labelled data set")

    aligned = prepare_aligned(
        encoder, target, dataset, head=head, aligner=aligner, fit_dataset=fit_dataset,
        train_samples=train_samples, use_zoo=use_zoo, center=center, runtime=runtime,
    )
    train = _labelled(load_split_features(aligned.encoder, dataset, dataset.fit_split, train_samples, runtime))
    test = _labelled(load_split_features(aligned.encoder, dataset, dataset.eval_split, eval_samples, runtime))

    vocabulary = load_vocabulary(concepts)
    templates = list(templates or DEFAULT_TEMPLATES)
    vectors = vocabulary_embeddings(aligned.target, vocabulary, templates)
    words = list(vocabulary.words)
    if max_concepts is not None and max_concepts < len(words):
        kept = most_varied_concepts(concept_scores(aligned.head, vectors, train.features, center), max_concepts)
        log.info("kept the %d of %d concepts whose scores vary most over the training images", len(kept), len(words))
        vectors, words = vectors[kept], [words[index] for index in kept]

    bottleneck = fit_bottleneck(
        aligned.head, words, vectors,
        train.features, train.labels, list(dataset.classnames),
        templates=templates, C=C, l1_ratio=l1_ratio, center=center, max_iter=max_iter,
        fit_data={"dataset": dataset.id, "split": train.split, "n_samples": len(train)},
    )

    accuracy = float((bottleneck.predict(test.features) == test.labels).mean())
    metrics = {
        "accuracy": accuracy,
        "linear_probe_accuracy": linear_probe_accuracy(train, test),
        "dense_concept_accuracy": dense_concept_accuracy(bottleneck, train, test),
        "chance": 1.0 / len(dataset.classnames),
    }
    bottleneck.card.metrics.update({f"{dataset.id}/{test.split}/{name}": value for name, value in metrics.items()})

    results = {
        "task": "cbm",
        "dataset": dataset.id,
        "train": {"split": train.split, "n": len(train)},
        "test": {"split": test.split, "n": len(test)},
        "concepts": {"name": vocabulary.name, "size": len(vocabulary), "used": len(words), "templates": templates},
        "regularization": {"C": C, "l1_ratio": l1_ratio, "solver": "saga"},
        **aligned.describe(),
        "metrics": metrics,
        "sparsity": bottleneck.sparsity(),
        "top_concepts": bottleneck.top_concepts(TOP_CONCEPTS),
    }
    if output is not None:
        folder = output_folder(output)
        results["files"] = {"json": str(folder / "cbm.json"), "bottleneck": str(bottleneck.save_pretrained(folder / "bottleneck"))}
        write_json(folder / "cbm.json", results)
    return results


def _labelled(samples: SplitFeatures) -> SplitFeatures:
    if samples.labels is None:
        raise ConfigError(f"split {samples.name} has no labels; cbm trains and evaluates on labelled images")
    return samples
