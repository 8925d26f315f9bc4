"""The `Target` interface: a vision-language model with an image side and a text side."""

from abc import ABC, abstractmethod

import numpy as np

from t2c.encoders.base import Encoder


class Target(ABC):
    """A model that maps images and texts into one shared space (target space).

    `image_encoder` is an `Encoder` whose features are the target's image embeddings; its `id`
    keys the target's image features in the feature store.
    """

    id: str
    dim: int
    image_encoder: Encoder
    templates: list[str]

    @abstractmethod
    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Encode texts.

        Returns:
            (n, dim) float32 text embeddings in target space, not normalised.
        """

    def set_device(self, device: str) -> None:
        """Move both sides to `device`."""
        self.image_encoder.set_device(device)

    def set_num_threads(self, num_threads: int) -> None:
        """Limit the threads both sides use on CPU."""
        self.image_encoder.set_num_threads(num_threads)

    def describe(self) -> dict:
        """Return the fields that identify this target in heads."""
        return {"id": self.id, "dim": self.dim, "image_encoder": self.image_encoder.id}
