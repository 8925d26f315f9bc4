"""Concepts: unit vectors in target space built from text with a prompt ensemble."""

import logging

import numpy as np

from t2c.targets.base import Target

log = logging.getLogger("t2c.concepts")


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def build_concepts(target: Target, classnames: list[str], templates: list[str], batch_size: int = 256) -> np.ndarray:
    """Build one concept per class name by averaging its normalised prompt embeddings.

    Each class name is formatted into every template, encoded by the target's text side,
    normalised, averaged over templates and normalised again (open_clip's zero-shot recipe).

    Returns:
        (n_classes, dim) float32 unit vectors in target space.
    """
    prompts = [template.format(name) for name in classnames for template in templates]
    log.info("encoding %d prompts (%d names x %d templates)", len(prompts), len(classnames), len(templates))

    chunks = []
    for start in range(0, len(prompts), batch_size):
        chunk = np.asarray(target.encode_text(prompts[start : start + batch_size]), dtype=np.float32)
        chunks.append(normalize_rows(chunk))
    embeddings = np.concatenate(chunks).reshape(len(classnames), len(templates), -1)

    return normalize_rows(embeddings.mean(axis=1)).astype(np.float32)
