"""An encoder, its head and the target, ready to score images against text concepts.

Search, drift, concept bottlenecks and decoding all start the same way: resolve the encoder and
the target, load or fit a head, and compare aligned image features with concepts by cosine.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2c import pipeline
from t2c.apps.zeroshot import default_ids, load_or_fit_head
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target
from t2c.targets.concepts import build_concepts, normalize_rows
from t2c.targets.templates import load_templates

log = logging.getLogger("t2c.apps.aligned")


@dataclass
class AlignedEncoder:
    """An encoder whose features a head maps into a target's space, scored against concepts by cosine.

    With `center`, the head's `target_mean` is subtracted from aligned features before they are
    normalised, as zero-shot classification does.
    """

    encoder: Encoder
    target: Target
    head: Head
    center: bool = True

    def unit_features(self, features: np.ndarray) -> np.ndarray:
        """Map (n, p) encoder-space features to (n, q) float32 unit vectors in target space."""
        aligned = self.head.transform(features)
        if self.center:
            aligned = self.head.center(aligned)
        return normalize_rows(aligned).astype(np.float32)

    def similarities(self, features: np.ndarray, concepts: np.ndarray) -> np.ndarray:
        """Return (n, c) cosine similarities of (n, p) encoder features and (c, q) unit concept vectors."""
        return self.unit_features(features) @ concepts.T

    def concepts(self, texts: list[str], templates: list[str]) -> np.ndarray:
        """Build (len(texts), q) unit concept vectors, each the mean of its prompts' embeddings."""
        return build_concepts(self.target, texts, templates)

    def describe(self) -> dict:
        """Return the ids, the head's fit data and the centering flag, for results."""
        return {
            "encoder": self.encoder.id,
            "target": self.target.id,
            "aligner": self.head.card.aligner.kind,
            "head_fit_data": self.head.card.fit_data.model_dump(),
            "centered": self.center,
        }


def prepare_aligned(
    encoder: str | Encoder | None,
    target: str | Target | None,
    dataset: Dataset,
    *,
    head: str | Head | None = None,
    aligner: str = "ridge",
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    aligner_params: dict | None = None,
    use_zoo: bool = True,
    center: bool = True,
    runtime: Runtime | None = None,
) -> AlignedEncoder:
    """Resolve encoder and target (the offline demo pair when both are None) and load or fit a head.

    Without `head`, a zoo head is used when one matches; otherwise a head is fitted on the fit split
    of `fit_dataset` (default: `dataset`), labels unused.
    """
    runtime = runtime or Runtime()
    if head is not None and encoder is None and target is None:
        head = _load_head(head)
        encoder, target = head.card.encoder.id, head.card.target.id
    encoder, target, _ = default_ids(encoder, target, dataset)

    encoder = pipeline.resolve_encoder(encoder, runtime)
    target = pipeline.resolve_target(target, runtime)
    fit_dataset = pipeline.resolve_dataset(fit_dataset) if fit_dataset is not None else dataset

    head = load_or_fit_head(head, encoder, target, fit_dataset, aligner, train_samples, aligner_params, runtime, use_zoo)
    head.check_compatible(encoder=encoder, target=target)
    return AlignedEncoder(encoder=encoder, target=target, head=head, center=center)


def _load_head(spec: str | Head) -> Head:
    if isinstance(spec, Head):
        return spec
    from t2c.hub import resolve_head

    return resolve_head(spec)


def resolve_templates(spec: str | list[str] | None, default: list[str] | None) -> list[str]:
    """Resolve a template spec like `load_templates`, also accepting one literal template such as "{}".

    A string containing "{}" that is not an existing file is used as the only template, so a
    query phrase can be encoded as written with `templates="{}"`.
    """
    if isinstance(spec, str) and "{}" in spec and not _is_file(spec):
        return load_templates([spec], [])
    return load_templates(spec, default or [])


def _is_file(spec: str) -> bool:
    try:
        return Path(spec).is_file()
    except OSError:  # text too long to be a path
        return False
