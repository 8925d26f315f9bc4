"""Predict labels for image files with an encoder, a head and the target's text side."""

import logging
from pathlib import Path

import numpy as np

from t2c import pipeline
from t2c.apps.zeroshot import zeroshot_classifier
from t2c.data.images import open_image
from t2c.encoders.pixels import to_pixels
from t2c.heads import Head
from t2c.pipeline import Runtime

log = logging.getLogger("t2c.predict")


def domain_note(head: Head, image_paths: list[Path]) -> str | None:
    """Return a one-line note when the head was fitted on other data than these images."""
    fit = head.card.fit_data
    if fit.dataset.startswith("folder:"):
        root = Path(fit.dataset.removeprefix("folder:")).resolve()
        if all(root in path.resolve().parents for path in image_paths):
            return None
    return (
        f"note: this head was fitted on {fit.dataset}/{fit.split}, not on these images; aligners often do not "
        "transfer across domains, so fit one on similar images with `t2c align --dataset folder:PATH`"
    )


def predict_images(
    image_paths: list[str | Path],
    classnames: list[str],
    *,
    head: str | Head,
    encoder: str | None = None,
    target: str | None = None,
    templates: list[str] | str | None = None,
    top_k: int = 5,
    center: bool = True,
    runtime: Runtime | None = None,
) -> dict:
    """Return per-image top-k labels with cosine scores.

    The encoder and target default to the ids recorded in the head's card.
    """
    runtime = runtime or Runtime()
    if not isinstance(head, Head):
        from t2c.hub import resolve_head

        head = resolve_head(head)
    encoder = pipeline.resolve_encoder(encoder or head.card.encoder.id, runtime)
    target = pipeline.resolve_target(target or head.card.target.id, runtime)
    classifier = zeroshot_classifier(encoder, head, target, classnames, templates, center=center)

    paths = [Path(path) for path in image_paths]
    predictions = []
    for start in range(0, len(paths), runtime.batch_size):
        batch = paths[start : start + runtime.batch_size]
        images = [open_image(path) for path in batch]
        scores = classifier.scores(encoder.encode(to_pixels(images, encoder.preprocess)))

        for path, row in zip(batch, scores, strict=True):
            order = np.argsort(-row)[: min(top_k, len(classnames))]
            labels = [{"label": classnames[i], "score": float(row[i])} for i in order]
            predictions.append({"image": str(path), "top": labels})

    return {
        "encoder": encoder.id,
        "target": target.id,
        "head_fit_data": head.card.fit_data.model_dump(),
        "note": domain_note(head, paths),
        "predictions": predictions,
    }
