"""Model-to-model alignment ("stitching"): align encoder A into encoder B's space and measure what survives.

For each ordered pair (A, B) a head is fitted from A's features to B's on unlabelled images of
the fit split. On the evaluation split it reports held-out R², and, when B has its own
classifier (see `t2c.apps.classifier`), B's classifier applied to A's aligned features:
- top-1 agreement: how often it predicts what B predicts from B's own features;
- accuracy of both, when the data set's class names are all among the classifier's classes.
Fashion-MNIST's classes are not ImageNet classes, so there only agreement is measured.
"""

import itertools
import logging

import numpy as np

from t2c import pipeline
from t2c.apps.classifier import LinearClassifier, encoder_classifier
from t2c.apps.outputs import output_folder, write_csv, write_json
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.pipeline import Runtime

log = logging.getLogger("t2c.stitch")

DEFAULT_ENCODERS = ("offline:resnet50-opennsfw", "offline:effnet-lite0")
DEFAULT_DATASET = "fashion-mnist"
TOP_PREDICTIONS = 5  # B's most frequent predictions listed per pair


def label_space(dataset: Dataset, classifier: LinearClassifier) -> list[int] | None:
    """Return the classifier index of each of the data set's classes, or None unless all are among its classes."""
    if not dataset.classnames:
        return None
    return classifier.class_index(list(dataset.classnames))


def behaviour_metrics(
    classifier: LinearClassifier,
    aligned: np.ndarray,
    own: np.ndarray,
    labels: np.ndarray | None,
) -> dict:
    """Compare destination B's classifier on A's aligned features with B on its own features.

    Args:
        aligned: (n, dim) A's features mapped into B's space.
        own: (n, dim) B's own features of the same images.
        labels: (n,) class indices in the classifier's label space, or None. A prediction counts as
            correct when its class name equals the label's (names may repeat among classes).

    Returns:
        agreement_top1, agreement_top5 (B's own top-1 among the aligned top-5), the agreement of
        always predicting B's most frequent class, B's most frequent predictions and, with
        labels, accuracy of both.
    """
    aligned_logits = classifier.logits(aligned)
    own_predictions = classifier.predict(own)
    aligned_top5 = np.argsort(-aligned_logits, axis=1)[:, :5]

    counts = np.bincount(own_predictions, minlength=len(classifier.classnames))
    frequent = np.argsort(-counts)[:TOP_PREDICTIONS]
    metrics = {
        "agreement_top1": float((aligned_top5[:, 0] == own_predictions).mean()),
        "agreement_top5": float((aligned_top5 == own_predictions[:, None]).any(axis=1).mean()),
        "agreement_majority_baseline": float(counts.max() / len(own_predictions)),
        "destination_top_predictions": [
            {"class": classifier.classnames[index], "fraction": float(counts[index] / len(own_predictions))} for index in frequent
        ],
        "accuracy_aligned": None,
        "accuracy_destination": None,
    }
    if labels is not None:
        same_name = classifier.canonical()
        metrics["accuracy_aligned"] = float((same_name[aligned_top5[:, 0]] == same_name[labels]).mean())
        metrics["accuracy_destination"] = float((same_name[own_predictions] == same_name[labels]).mean())
    return metrics


def stitch_pair(
    source: str | Encoder,
    destination: str | Encoder,
    dataset: str | Dataset = DEFAULT_DATASET,
    aligner: str = "ridge",
    *,
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    eval_samples: int | None = None,
    aligner_params: dict | None = None,
    runtime: Runtime | None = None,
) -> dict:
    """Align `source` into `destination`'s feature space and measure R² and, if it has one, its classifier's agreement.

    The head is fitted on the fit split of `fit_dataset` (default: `dataset`) and evaluated on
    the evaluation split of `dataset`.
    """
    runtime = runtime or Runtime()
    source = pipeline.resolve_encoder(source, runtime)
    destination = pipeline.resolve_destination(destination, runtime)
    dataset = pipeline.resolve_dataset(dataset)
    fit_dataset = pipeline.resolve_dataset(fit_dataset) if fit_dataset is not None else dataset
    if source.id == destination.id:
        raise ConfigError(f"source and destination are both {source.id}; stitching needs two different encoders")

    head = pipeline.fit_head(source, destination, fit_dataset, aligner, limit=train_samples, aligner_params=aligner_params, runtime=runtime)

    split = dataset.eval_split
    count = pipeline.split_size(dataset, split, eval_samples)
    x_entry = pipeline.features(source, dataset, split, count, runtime)
    y_entry = pipeline.features(destination.image_encoder, dataset, split, count, runtime)
    result = {
        "source": source.id,
        "destination": destination.id,
        "aligner": head.card.aligner.kind,
        "aligner_hyperparameters": head.card.aligner.hyperparameters,
        "fit_data": head.card.fit_data.model_dump(),
        "eval_split": f"{dataset.id}/{split}",
        "heldout": not (fit_dataset.id == dataset.id and head.card.fit_data.split == split),
        **pipeline.heldout_r2(head, x_entry, y_entry, count),
    }

    classifier = encoder_classifier(destination.image_encoder)
    if classifier is None:
        result.update({"n_eval": count, "destination_has_classifier": False, "label_space": None})
        return result

    keys, aligned, own = [], [], []
    for batch_keys, x, y in pipeline.paired_batches(x_entry, y_entry, count):
        keys.extend(batch_keys)
        aligned.append(head.transform(x))
        own.append(y)

    labels = _labels_in_classifier_space(dataset, split, keys, classifier)
    result.update(behaviour_metrics(classifier, np.concatenate(aligned), np.concatenate(own), labels))
    result.update({
        "n_eval": len(keys),
        "destination_has_classifier": True,
        "label_space": "shared" if labels is not None else "different",
    })
    return result


def _labels_in_classifier_space(dataset: Dataset, split: str, keys: list[str], classifier: LinearClassifier) -> np.ndarray | None:
    mapping = label_space(dataset, classifier)
    samples = dataset.split(split)
    if mapping is None or samples.labels is None:
        return None

    positions = {key: index for index, key in enumerate(samples.keys)}
    labels = np.asarray(samples.labels)[[positions[key] for key in keys]]
    return np.asarray(mapping, dtype=np.int64)[labels]


def pair_matrix(encoders: list[str], pairs: list[dict], metric: str) -> list[list[float | None]]:
    """Arrange one metric of the pairs as a matrix: row = source, column = destination, None where missing."""
    index = {encoder: position for position, encoder in enumerate(encoders)}
    matrix: list[list[float | None]] = [[None] * len(encoders) for _ in encoders]
    for pair in pairs:
        matrix[index[pair["source"]]][index[pair["destination"]]] = pair.get(metric)
    return matrix


def run_stitch(
    encoders: list[str | Encoder] | None = None,
    dataset: str | Dataset = DEFAULT_DATASET,
    aligner: str = "ridge",
    *,
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    eval_samples: int | None = None,
    aligner_params: dict | None = None,
    runtime: Runtime | None = None,
    output: str | None = None,
) -> dict:
    """Stitch every ordered pair of `encoders` and collect R² and agreement matrices.

    With `output` (a folder), writes stitch.json, stitch.csv (one row per pair), stitch_matrices.csv
    (R² and agreement matrices, one row per metric and source) and stitch.png (heatmaps of R² and,
    where destinations have classifiers, top-1 agreement).
    """
    runtime = runtime or Runtime()
    loaded = [pipeline.resolve_encoder(encoder, runtime) for encoder in (encoders or DEFAULT_ENCODERS)]
    ids = [encoder.id for encoder in loaded]
    if len(set(ids)) < 2 or len(set(ids)) != len(ids):
        raise ConfigError(f"stitching needs at least two different encoders, got {ids}; pass --encoders a,b[,c...]")
    dataset = pipeline.resolve_dataset(dataset)

    pairs = []
    for source, destination in itertools.permutations(loaded, 2):
        log.info("stitching %s into %s", source.id, destination.id)
        pairs.append(stitch_pair(
            source, destination, dataset, aligner,
            fit_dataset=fit_dataset, train_samples=train_samples, eval_samples=eval_samples,
            aligner_params=aligner_params, runtime=runtime,
        ))

    results = {
        "task": "stitch",
        "dataset": dataset.id,
        "eval_split": dataset.eval_split,
        "aligner": aligner,
        "encoders": ids,
        "pairs": pairs,
        "matrices": {
            metric: pair_matrix(ids, pairs, metric)
            for metric in ("r2_paper", "r2_sklearn", "agreement_top1", "agreement_top5", "accuracy_aligned")
        },
        "notes": _notes(dataset, pairs),
    }
    if output is not None:
        results["files"] = write_stitch(results, output)
    return results


def _notes(dataset: Dataset, pairs: list[dict]) -> list[str]:
    notes = []
    different = sorted({pair["destination"] for pair in pairs if pair.get("label_space") == "different"})
    if different:
        notes.append(
            f"the classes of {dataset.id} are not among the classes of the classifiers of {', '.join(different)}, "
            "so accuracy is not defined there; agreement compares predictions with the destination's own"
        )
    if any(not pair["heldout"] for pair in pairs):
        notes.append("the fit split is also the evaluation split, so R² is measured on the fit images (not held out)")
    return notes


def write_stitch(results: dict, output: str) -> dict[str, str]:
    """Write stitch.json, stitch.csv, stitch_matrices.csv and stitch.png into the folder `output`; return their paths."""
    from t2c.apps.plots import matrix_heatmaps

    folder = output_folder(output)
    columns = ("source", "destination", "r2_paper", "r2_sklearn", "agreement_top1", "agreement_top5",
               "agreement_majority_baseline", "accuracy_aligned", "accuracy_destination", "n_eval")
    rows = [{column: pair.get(column) for column in columns} for pair in results["pairs"]]

    panels = {"R² (paper)": results["matrices"]["r2_paper"]}
    if any(pair.get("destination_has_classifier") for pair in results["pairs"]):
        panels["top-1 agreement with destination"] = results["matrices"]["agreement_top1"]
    title = f"{results['aligner']} on {results['dataset']}/{results['eval_split']}"

    matrix_rows = [
        {"metric": metric, "source": source, **dict(zip(results["encoders"], row, strict=True))}
        for metric in ("r2_paper", "r2_sklearn", "agreement_top1")
        for source, row in zip(results["encoders"], results["matrices"][metric], strict=True)
    ]
    files = {
        "json": str(folder / "stitch.json"),
        "csv": str(write_csv(folder / "stitch.csv", rows)),
        "matrices_csv": str(write_csv(folder / "stitch_matrices.csv", matrix_rows)),
        "png": str(matrix_heatmaps(panels, results["encoders"], folder / "stitch.png", title=title)),
    }
    write_json(folder / "stitch.json", {**results, "files": files})
    return files
