"""The optional classifier of an encoder: a linear layer on its features, with class names.

An encoder that ships with its own classifier (EfficientNet-Lite0's ImageNet `_fc`, say) may
define a method

    classifier() -> (weight (k, dim), bias (k,), classnames) | None

`stitch` uses it to measure how much of an encoder's behaviour survives when another encoder's
features are aligned into its space. Encoders without the method, or returning None, have no
classifier, and stitching reports R² only.
"""

from dataclasses import dataclass

import numpy as np

from t2c.encoders.base import Encoder
from t2c.errors import ShapeError


@dataclass(frozen=True)
class LinearClassifier:
    """Logits `features @ weight.T + bias` over `classnames`.

    Attributes:
        weight: (k, dim) float32, rows in encoder space.
        bias: (k,) float32.
        classnames: k names, in logit order.
    """

    weight: np.ndarray
    bias: np.ndarray
    classnames: list[str]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Return (n, k) logits of (n, dim) features."""
        return np.asarray(features, dtype=np.float32) @ self.weight.T + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return (n,) int64 indices of the highest logit."""
        return self.logits(features).argmax(axis=1)

    def class_index(self, names: list[str]) -> list[int] | None:
        """Return the first logit index of each name (case-insensitive), or None unless every name is a class here."""
        lookup: dict[str, int] = {}
        for index, name in enumerate(self.classnames):
            lookup.setdefault(name.lower(), index)
        indices = [lookup.get(name.lower()) for name in names]
        if any(index is None for index in indices):
            return None
        return indices

    def canonical(self) -> np.ndarray:
        """Return (k,) int64: for each logit, the first index with the same name (case-insensitive).

        Class names can repeat: open_clip's cleaned ImageNet names list "missile" twice, for
        classes 657 and 744. Predictions compared through this map count either as "missile".
        """
        first = self.class_index(self.classnames)
        return np.asarray(first, dtype=np.int64)


def encoder_classifier(encoder: Encoder) -> LinearClassifier | None:
    """Return the encoder's own classifier, or None when it has none.

    Raises:
        ShapeError: the encoder's `classifier()` returned arrays that do not fit its feature dim.
    """
    method = getattr(encoder, "classifier", None)
    if method is None:
        return None
    result = method()
    if result is None:
        return None

    weight, bias, classnames = result
    weight = np.asarray(weight, dtype=np.float32)
    bias = np.asarray(bias, dtype=np.float32)
    k = len(classnames)
    if weight.shape != (k, encoder.dim) or bias.shape != (k,):
        raise ShapeError(
            f"classifier of {encoder.id} has weight {weight.shape} and bias {bias.shape} for {k} class names; "
            f"expected ({k}, {encoder.dim}) and ({k},); fix the encoder's classifier() method"
        )
    return LinearClassifier(weight=weight, bias=bias, classnames=list(classnames))
