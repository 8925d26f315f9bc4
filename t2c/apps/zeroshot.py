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


def zoo_head(encoder: Encoder, target: Target, aligner: str, fit_dataset: Dataset, train_samples: int | None) -> Head | None:
    """Return the zoo's head for this encoder, target and aligner when it was fitted the same way.

    A zoo head counts only when it was fitted on the same data set and sample count, so using it
    gives what fitting here would give. A head whose weights cannot be had is skipped with a log line.
    """
    from t2c.errors import T2CError
    from t2c.zoo import find_head, load_zoo_head

    card = find_head(encoder.id, target.id, aligner)
    if card is None:
        return None

    fit = card.fit_data
    if fit.dataset != fit_dataset.id or (train_samples is not None and fit.n_samples != train_samples):
        log.info("zoo head %s was fitted on %s (%d images), not this fit set; fitting instead", card.id, fit.dataset, fit.n_samples)
        return None

    try:
        head = load_zoo_head(card)
    except T2CError as error:
        log.warning("zoo head %s is not usable (%s); fitting instead", card.id, error)
        return None
    log.info("using zoo head zoo:%s (pass --no-zoo to fit one here)", card.id)
    return head


def load_or_fit_head(head, encoder, target, fit_dataset, aligner, train_samples, aligner_params, runtime, use_zoo=True) -> Head:
    """Return the head named by `head` (a Head, folder, hub:org/name@rev or zoo:ID), a zoo head, or a fitted one."""
    if isinstance(head, Head):
        return head
    if head is not None:
        from t2c.hub import resolve_head

        return resolve_head(head)

    if use_zoo and not aligner_params:
        found = zoo_head(encoder, target, aligner, fit_dataset, train_samples)
        if found is not None:
            return found

    return pipeline.fit_head(
        encoder,
        target,
        fit_dataset,
        aligner,
        limit=train_samples,
        aligner_params=aligner_params,
        runtime=runtime,
    )


def head_source(head: Head, spec: str | None) -> str:
    """Describe where a head came from, for the "pretrained" field of results."""
    if spec is not None:
        return spec
    fit = head.card.fit_data
    return f"{head.card.aligner.kind} head fitted on {fit.dataset}/{fit.split} ({fit.n_samples} images)"


def evaluate(classifier: ZeroShotClassifier, encoder, target, dataset: Dataset, split: str, limit, runtime) -> dict:
    """Classify a split with aligned features and with the target's own image features.

    Returns metrics of both, held-out R² of the head on this split, and chance.
    """
    count = pipeline.split_size(dataset, split, limit)
    labels = dataset.split(split).labels
    if labels is None:
        raise ConfigError(f"split {dataset.id}/{split} has no labels, so zero-shot accuracy cannot be measured")
    x_entry = pipeline.features(encoder, dataset, split, count, runtime)
    y_entry = pipeline.features(target.image_encoder, dataset, split, count, runtime)

    # Images that could not be decoded have no feature rows, so labels follow the rows' positions.
    labels = np.asarray(labels)[x_entry.row_positions(count)]

    aligned_scores, target_scores = [], []
    for _, x, y in pipeline.paired_batches(x_entry, y_entry, count):
        aligned_scores.append(classifier.scores(x))
        target_scores.append(classifier.scores_from_target_space(y))

    return {
        "metrics": classification_metrics(np.concatenate(aligned_scores), labels),
        "target_metrics": classification_metrics(np.concatenate(target_scores), labels),
        **pipeline.heldout_r2(classifier.head, x_entry, y_entry, count),
        "n_eval": len(labels),
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
    use_zoo: bool = True,
) -> dict:
    """Fit (or load) a head, then classify the evaluation split zero-shot.

    `head` is a Head, a folder, "hub:org/name@rev" or "zoo:ID". Without it, the zoo is consulted
    (unless `use_zoo` is False) before fitting on `fit_dataset`.

    Returns a CLIP_benchmark-shaped dict: dataset, model, pretrained, task, language, metrics,
    plus t2c's keys (encoder, target, aligner, r2_paper, r2_sklearn, target_metrics, chance).
    """
    runtime = runtime or Runtime()
    encoder, target, dataset = default_ids(encoder, target, dataset)

    encoder = pipeline.resolve_encoder(encoder, runtime)
    target = pipeline.resolve_target(target, runtime)
    dataset = pipeline.resolve_dataset(dataset)
    fit_dataset = pipeline.resolve_dataset(fit_dataset) if fit_dataset is not None else dataset

    head_spec = head if isinstance(head, str) else None
    head = load_or_fit_head(head, encoder, target, fit_dataset, aligner, train_samples, aligner_params, runtime, use_zoo)
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
        "pretrained": head_source(head, head_spec),
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
