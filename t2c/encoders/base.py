"""The `Encoder` interface: a frozen image model producing one feature vector per image."""

from abc import ABC, abstractmethod

import numpy as np

from t2c.encoders.preprocess import PreprocessConfig


class Encoder(ABC):
    """A frozen image model mapping preprocessed pixels to features in encoder space.

    Subclasses set `id` ("family:name"), `dim`, `preprocess`, `backend` and `weights_sha256`
    (sha256 of the weights file, or of the state dict's bytes), and implement `encode`.
    """

    id: str
    dim: int
    preprocess: PreprocessConfig
    backend: str = "torch"
    weights_sha256: str = ""

    @abstractmethod
    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """Encode a batch.

        Args:
            pixels: (n, 3, h, w) or (n, h, w, 3) float32, laid out as `preprocess.layout` specifies.

        Returns:
            (n, dim) float32 features in encoder space.
        """

    def set_device(self, device: str) -> None:
        """Move the model to `device` ("cpu", "cuda", "cuda:1"); CPU-only encoders ignore it."""

    def set_num_threads(self, num_threads: int) -> None:
        """Limit the threads the model's runtime uses on CPU."""

    def describe(self) -> dict:
        """Return the fields that identify this encoder in heads and feature-store keys."""
        return {
            "id": self.id,
            "dim": self.dim,
            "backend": self.backend,
            "weights_sha256": self.weights_sha256,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim}, backend={self.backend!r})"
