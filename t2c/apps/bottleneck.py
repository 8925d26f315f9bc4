"""A concept bottleneck model: image -> concept scores (cosine with text concepts) -> sparse linear classifier.

No concept labels are needed: the concept scores of an image are cosine similarities between its
aligned features (through a head) and concept vectors built from text. A sparse linear layer on
the standardised scores predicts the class, so each class is explained by a few concepts.

On disk a bottleneck is a folder, written through temporary files and renames:
- `model.safetensors`: float32 `concept_vectors` (c, q), `coef` (k, c), `intercept` (k,),
  `score_mean` (c,), `score_scale` (c,);
- `config.json`: the card (`BottleneckCard`), including the sha256 of `model.safetensors`;
- `head/`: the head that maps encoder features into target space (a head folder).
The linear weights are stored, never a scikit-learn object, and nothing is pickled.
"""

import hashlib
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import safetensors
import safetensors.numpy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from t2c.card import describe_validation_error
from t2c.errors import ConfigError, HeadError, NotFoundError, ShapeError
from t2c.heads import Head, _t2c_version, _write_atomic
from t2c.targets.concepts import normalize_rows

log = logging.getLogger("t2c.apps.bottleneck")

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
HEAD_FOLDER = "head"
TENSOR_NAMES = ("concept_vectors", "coef", "intercept", "score_mean", "score_scale")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ModelIdCard(_Strict):
    """An encoder or target: its id and dimension."""

    id: str = Field(min_length=1)
    dim: int = Field(gt=0)


class RegularizationCard(_Strict):
    """The penalty of the sparse head: l1_ratio 1 is the lasso (L1), between 0 and 1 the elastic net."""

    C: float = Field(gt=0, description="inverse penalty strength, as scikit-learn's LogisticRegression")
    l1_ratio: float = Field(ge=0, le=1)


class FitDataCard(_Strict):
    """The labelled images the sparse head was trained on."""

    dataset: str = Field(min_length=1)
    split: str = Field(min_length=1)
    n_samples: int = Field(ge=0)


class BottleneckCard(_Strict):
    """Everything about a bottleneck except its arrays; saved as `config.json`."""

    format_version: int = Field(ge=1, le=FORMAT_VERSION)
    kind: Literal["concept-bottleneck"] = "concept-bottleneck"
    encoder: ModelIdCard
    target: ModelIdCard
    head_weights_sha256: str | None = Field(None, description="sha256 of the head's model.safetensors")
    concepts: list[str] = Field(min_length=1)
    templates: list[str] = Field(min_length=1)
    classnames: list[str] = Field(min_length=2)
    center: bool
    regularization: RegularizationCard
    fit_data: FitDataCard
    metrics: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    t2c_version: str
    created_at: str
    weights_sha256: str | None = None


def concept_scores(head: Head, concept_vectors: np.ndarray, features: np.ndarray, center: bool = True) -> np.ndarray:
    """Return (n, c) cosine similarities of (n, p) encoder features, aligned by `head`, with (c, q) unit concept vectors."""
    aligned = head.transform(features)
    if center:
        aligned = head.center(aligned)
    return normalize_rows(aligned) @ concept_vectors.T


class ConceptBottleneck:
    """Scores images against concepts through a head, then classifies the standardised scores linearly.

    Args:
        head: maps (n, p) encoder features into target space.
        concept_vectors: (c, q) unit vectors in target space, one per concept.
        coef: (k, c) weights on standardised concept scores, one row per class.
        intercept: (k,).
        score_mean, score_scale: (c,) mean and standard deviation of the training scores.
        card: a `BottleneckCard` or a dict that validates as one.
    """

    def __init__(self, head: Head, concept_vectors, coef, intercept, score_mean, score_scale, card: BottleneckCard | dict):
        self.card = card if isinstance(card, BottleneckCard) else _validate_card(card)
        tensors = {
            "concept_vectors": concept_vectors, "coef": coef, "intercept": intercept,
            "score_mean": score_mean, "score_scale": score_scale,
        }
        tensors = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in tensors.items()}
        _check_tensors(tensors, self.card, "ConceptBottleneck(...)")
        _check_head(head, self.card)

        self.head = head
        self.concept_vectors = tensors["concept_vectors"]
        self.coef = tensors["coef"]
        self.intercept = tensors["intercept"]
        self.score_mean = tensors["score_mean"]
        self.score_scale = tensors["score_scale"]

    @property
    def concepts(self) -> list[str]:
        return self.card.concepts

    @property
    def classnames(self) -> list[str]:
        return self.card.classnames

    def concept_scores(self, features: np.ndarray) -> np.ndarray:
        """Return (n, c) cosine similarities of (n, p) encoder features with the concepts."""
        return concept_scores(self.head, self.concept_vectors, features, self.card.center)

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Return (n, k) class logits of (n, p) encoder features."""
        standardized = (self.concept_scores(features) - self.score_mean) / self.score_scale
        return standardized @ self.coef.T + self.intercept

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return (n,) indices into `classnames`."""
        return self.decision_function(features).argmax(axis=1)

    def top_concepts(self, count: int = 5) -> dict[str, list[dict]]:
        """Return, per class, the concepts with the largest positive weights (largest first)."""
        top = {}
        for classname, row in zip(self.classnames, self.coef, strict=True):
            order = [index for index in np.argsort(-row) if row[index] > 0][:count]
            top[classname] = [{"concept": self.concepts[index], "weight": float(row[index])} for index in order]
        return top

    def sparsity(self) -> dict:
        """Return how many weights are non-zero: in total, per class on average, and concepts used by any class."""
        nonzero = self.coef != 0
        return {
            "nonzero_weights": int(nonzero.sum()),
            "mean_concepts_per_class": float(nonzero.sum(axis=1).mean()),
            "concepts_used": int(nonzero.any(axis=0).sum()),
            "concepts_total": len(self.concepts),
        }

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write `head/`, then `model.safetensors`, then `config.json` (carrying its sha256) into `folder`."""
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        self.head.save_pretrained(folder / HEAD_FOLDER)

        tensors = {name: getattr(self, name) for name in TENSOR_NAMES}
        weights = safetensors.numpy.save(tensors, metadata={"format_version": str(FORMAT_VERSION)})
        _write_atomic(folder / WEIGHTS_NAME, weights)

        self.card = self.card.model_copy(update={
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
            "head_weights_sha256": self.head.card.weights_sha256,
        })
        _validate_card(self.card.model_dump())
        _write_atomic(folder / CONFIG_NAME, (self.card.model_dump_json(indent=2) + "\n").encode())
        log.info("saved concept bottleneck (%d concepts, %d classes) to %s", len(self.concepts), len(self.classnames), folder)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "ConceptBottleneck":
        """Load and validate a bottleneck folder: card schema, weights sha256, head sha256, shapes and finiteness."""
        folder = Path(folder).expanduser()
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path, folder / HEAD_FOLDER):
            if not path.exists():
                raise NotFoundError(
                    f"concept bottleneck folder {folder} has no {path.name}; a bottleneck folder contains {CONFIG_NAME}, "
                    f"{WEIGHTS_NAME} and {HEAD_FOLDER}/ as written by save_pretrained"
                )

        card = _parse_card(config_path)
        weights = weights_path.read_bytes()
        actual = hashlib.sha256(weights).hexdigest()
        if actual != card.weights_sha256:
            raise HeadError(
                f"{weights_path} has sha256 {actual}, but {CONFIG_NAME} expects {card.weights_sha256}; "
                "the file was modified or damaged; save the bottleneck again"
            )
        try:
            tensors = safetensors.numpy.load(weights)
        except safetensors.SafetensorError as error:
            raise HeadError(f"{weights_path} is not a valid safetensors file ({error}); save the bottleneck again") from None
        if sorted(tensors) != sorted(TENSOR_NAMES):
            raise ShapeError(f"{weights_path} contains tensors {sorted(tensors)}, expected {sorted(TENSOR_NAMES)}")

        head = Head.from_pretrained(folder / HEAD_FOLDER)
        if card.head_weights_sha256 != head.card.weights_sha256:
            raise HeadError(
                f"the head in {folder / HEAD_FOLDER} has weights sha256 {head.card.weights_sha256}, but {CONFIG_NAME} "
                f"expects {card.head_weights_sha256}; the folder mixes two bottlenecks; save it again"
            )
        return cls(head, card=card, **{name: tensors[name] for name in TENSOR_NAMES})


def new_card(
    head: Head,
    concepts: list[str],
    templates: list[str],
    classnames: list[str],
    *,
    center: bool,
    C: float,
    l1_ratio: float,
    fit_data: dict,
    metrics: dict | None = None,
) -> BottleneckCard:
    """Build the card of a freshly fitted bottleneck."""
    return _validate_card({
        "format_version": FORMAT_VERSION,
        "encoder": {"id": head.card.encoder.id, "dim": head.card.encoder.dim},
        "target": {"id": head.card.target.id, "dim": head.card.target.dim},
        "head_weights_sha256": head.card.weights_sha256,
        "concepts": list(concepts),
        "templates": list(templates),
        "classnames": list(classnames),
        "center": center,
        "regularization": {"C": float(C), "l1_ratio": float(l1_ratio)},
        "fit_data": fit_data,
        "metrics": metrics or {},
        "t2c_version": _t2c_version(),
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })


def _validate_card(fields: dict) -> BottleneckCard:
    try:
        return BottleneckCard.model_validate(fields)
    except ValidationError as error:
        raise ConfigError(f"invalid concept bottleneck card: {describe_validation_error(error)}") from None


def _parse_card(path: Path) -> BottleneckCard:
    try:
        raw = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HeadError(f"bottleneck config {path} is not valid JSON ({error}); save the bottleneck again") from None
    try:
        return BottleneckCard.model_validate(raw)
    except ValidationError as error:
        raise HeadError(f"invalid bottleneck config {path}: {describe_validation_error(error)}; save the bottleneck again") from None


def _check_tensors(tensors: dict[str, np.ndarray], card: BottleneckCard, source: str) -> None:
    c, k, q = len(card.concepts), len(card.classnames), card.target.dim
    expected = {"concept_vectors": (c, q), "coef": (k, c), "intercept": (k,), "score_mean": (c,), "score_scale": (c,)}
    for name, shape in expected.items():
        if tensors[name].shape != shape:
            raise ShapeError(
                f"{source}: '{name}' has shape {tensors[name].shape}, but the card ({c} concepts, {k} classes, "
                f"{q}-d target space) expects {shape}; refit the bottleneck"
            )
        if not np.isfinite(tensors[name]).all():
            raise ShapeError(f"{source}: '{name}' contains NaN or infinite values; refit the bottleneck")
    if (tensors["score_scale"] <= 0).any():
        raise ShapeError(f"{source}: 'score_scale' must be positive everywhere; refit the bottleneck")


def _check_head(head: Head, card: BottleneckCard) -> None:
    if head.card.encoder.id != card.encoder.id or head.card.target.id != card.target.id:
        raise HeadError(
            f"head {head.card.encoder.id} -> {head.card.target.id} does not match the bottleneck's "
            f"{card.encoder.id} -> {card.target.id}; load the head saved with the bottleneck"
        )
