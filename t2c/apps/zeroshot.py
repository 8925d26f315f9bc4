"""Zero-shot classification with an aligned encoder: class concepts from text, cosine scores."""

import logging
from dataclasses import dataclass

import numpy as np

from t2c import pipeline
from t2c.apps.scoring import classification_metrics
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target
from t2c.targets.concepts import build_concepts, normalize_rows
from t2c.targets.templates import load_templates

log = logging.getLogger("t2c.zeroshot")

DEMO_ENCODER = "offline:resnet50-opennsfw"
DEMO_TARGET = "offline:effnet-lite0-minilm"
DEMO_DATASET = "fashion-mnist"
PAPER_TARGET = "openclip:ViT-B-16/openai"


@dataclass
class ZeroShotClassifier:
    """Scores encoder features against class concepts through a head.

    `concepts` is (n_classes, q) unit vectors in target space. With `center`, the head's stored
    target mean is subtracted from aligned features before cosine scoring.
    """

    head: Head
    concepts: np.ndarray
    classnames: list[str]
    center: bool = True

    def scores_from_target_space(self, aligned: np.ndarray) -> np.ndarray:
        """Return (n, n_classes) cosine scores of (n, q) target-space features."""
        if self.center:
            aligned = aligned - self.head.target_mean
        return normalize_rows(aligned) @ self.concepts.T

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Return (n, n_classes) cosine scores of (n, p) encoder-space features."""
        return self.scores_from_target_space(self.head.transform(features))


def zeroshot_classifier(
    encoder: Encoder,
    head: Head,
    target: Target,
    classnames: list[str],
    templates: list[str] | str | None = None,
    center: bool = True,
) -> ZeroShotClassifier:
    """Build a zero-shot classifier for `classnames` from the target's text side."""
    head.check_compatible(encoder=encoder, target=target)
    if not classnames:
        raise ConfigError("no class names given; pass --classnames FILE or --labels 'cat,dog'")

    templates = load_templates(templates, target.templates)
    concepts = build_concepts(target, classnames, templates)
    return ZeroShotClassifier(head=head, concepts=concepts, classnames=list(classnames), center=center)


def default_ids(encoder, target, dataset):
    """Fill in missing ids: no encoder and no target runs the offline demo, else the paper's CLIP target.

    Loaded instances pass through unchanged.
    """
    if encoder is None and target is None:
        return DEMO_ENCODER, DEMO_TARGET, dataset or DEMO_DATASET
    if encoder is None:
        raise ConfigError(f"--target {target} was given without --encoder; name the encoder to align")
    return encoder, target or PAPER_TARGET, dataset or DEMO_DATASET


def load_or_fit_head(head, encoder, target, fit_dataset, aligner, train_samples, aligner_params, runtime) -> Head:
    """Return the head from `head` (a path or Head) or fit one on `fit_dataset`."""
    if isinstance(head, Head):
        return head
    if head is not None:
        return Head.from_pretrained(head)

    fitted = pipeline.fit_head(
        encoder,
        target,
        fit_dataset,
        aligner,
        limit=train_samples,
        aligner_params=aligner_params,
        runtime=runtime,
    )
    return fitted


def evaluate(classifier: ZeroShotClassifier, encoder, target, dataset: Dataset, split: str, limit, runtime) -> dict:
    """Classify a split with aligned features and with the target's own image features.

    Returns metrics of both, held-out R² of the head on this split, and chance.
    """
    count = pipeline.split_size(dataset, split, limit)
    labels = dataset.split(split).labels
    if labels is None:
        raise ConfigError(f"split {dataset.id}/{split} has no labels, so zero-shot accuracy cannot be measured")
    labels = np.asarray(labels[:count])

    x_entry = pipeline.features(encoder, dataset, split, count, runtime)
    y_entry = pipeline.features(target.image_encoder, dataset, split, count, runtime)

    aligned_scores, target_scores = [], []
    for _, x, y in pipeline.paired_batches(x_entry, y_entry, count):
        aligned_scores.append(classifier.scores(x))
        target_scores.append(classifier.scores_from_target_space(y))

    return {
        "metrics": classification_metrics(np.concatenate(aligned_scores), labels),
        "target_metrics": classification_metrics(np.concatenate(target_scores), labels),
        **pipeline.heldout_r2(classifier.head, x_entry, y_entry, count),
        "n_eval": count,
        "chance": 1.0 / len(classifier.classnames),
    }


def run_zeroshot(
    encoder: str | Encoder | None = None,
    target: str | Target | None = None,
    dataset: str | Dataset | None = None,
    aligner: str = "ridge",
    *,
    head: str | Head | None = None,
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    eval_samples: int | None = None,
    classnames: list[str] | None = None,
    templates: list[str] | str | None = None,
    center: bool = True,
    aligner_params: dict | None = None,
    runtime: Runtime | None = None,
    save_head: str | None = None,
) -> dict:
    """Fit (or load) a head, then classify the evaluation split zero-shot.

    Returns a CLIP_benchmark-shaped dict: dataset, model, pretrained, task, language, metrics,
    plus t2c's keys (encoder, target, aligner, r2_paper, r2_sklearn, target_metrics, chance).
    """
    runtime = runtime or Runtime()
    encoder, target, dataset = default_ids(encoder, target, dataset)

    encoder = pipeline.resolve_encoder(encoder, runtime)
    target = pipeline.resolve_target(target, runtime)
    dataset = pipeline.resolve_dataset(dataset)
    fit_dataset = pipeline.resolve_dataset(fit_dataset) if fit_dataset is not None else dataset

    head = load_or_fit_head(head, encoder, target, fit_dataset, aligner, train_samples, aligner_params, runtime)
    names = classnames or dataset.classnames
    if not names:
        raise ConfigError(f"data set {dataset.id} has no class names; pass --classnames FILE")

    classifier = zeroshot_classifier(encoder, head, target, names, templates or dataset.templates, center=center)
    results = evaluate(classifier, encoder, target, dataset, dataset.eval_split, eval_samples, runtime)

    if save_head is not None:
        # Metrics are keyed by where they were measured, e.g. "fashion-mnist/test/acc1".
        prefix = f"{dataset.id}/{dataset.eval_split}/"
        measured = {"r2_paper": results["r2_paper"], "r2_sklearn": results["r2_sklearn"], **results["metrics"]}
        head.card.metrics.update({prefix + name: value for name, value in measured.items()})
        head.save_pretrained(save_head)
        log.info("saved head to %s", save_head)

    return {
        "dataset": dataset.id,
        "model": encoder.id,
        "pretrained": head.card.aligner.kind + " head",
        "task": "zeroshot_classification",
        "language": "en",
        "metrics": results["metrics"],
        "encoder": encoder.id,
        "target": target.id,
        "aligner": head.card.aligner.kind,
        "aligner_hyperparameters": head.card.aligner.hyperparameters,
        "fit_data": head.card.fit_data.model_dump(),
        "eval_split": dataset.eval_split,
        "n_eval": results["n_eval"],
        "r2_paper": results["r2_paper"],
        "r2_sklearn": results["r2_sklearn"],
        "target_metrics": results["target_metrics"],
        "chance": results["chance"],
        "centered": center,
        "n_templates": len(load_templates(templates or dataset.templates, target.templates)),
    }
