"""Classification scores: top-k accuracy and mean per-class recall, as CLIP_benchmark reports them."""

import numpy as np

from t2c.errors import ShapeError


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Return the fraction of rows whose label is among the k highest logits.

    Args:
        logits: (n, n_classes) scores.
        labels: (n,) int class indices.
    """
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ShapeError(f"logits of shape {logits.shape} do not match {len(labels)} labels; expected (n, n_classes)")

    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, kth=k - 1, axis=1)[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def mean_per_class_recall(predictions: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Return the recall averaged over classes present in `labels` (balanced accuracy)."""
    recalls = []
    for label in range(n_classes):
        members = labels == label
        if members.any():
            recalls.append(float((predictions[members] == label).mean()))
    return float(np.mean(recalls))


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return acc1, acc5 and mean_per_class_recall for (n, n_classes) logits."""
    predictions = logits.argmax(axis=1)
    return {
        "acc1": topk_accuracy(logits, labels, 1),
        "acc5": topk_accuracy(logits, labels, 5),
        "mean_per_class_recall": mean_per_class_recall(predictions, labels, logits.shape[1]),
    }
