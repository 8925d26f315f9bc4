"""The `Dataset` interface: named splits of images with stable sample keys."""

from abc import ABC, abstractmethod

import numpy as np
from PIL import Image


class Split(ABC):
    """One split of a data set, indexed 0..n-1.

    `keys` are stable, unique sample keys (for example "train/00042" or a relative file path);
    they name samples in the feature store and decide cross-validation folds.
    `labels` is an (n,) int64 array of class indices, or None when the split is unlabelled.
    """

    keys: list[str]
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.keys)

    @abstractmethod
    def load(self, index: int) -> Image.Image:
        """Decode sample `index` as a PIL image (mode "RGB" or "L")."""


class Dataset(ABC):
    """A named collection of splits with optional class names and prompt templates.

    `preprocess_overrides` updates the encoder's `PreprocessConfig` for this data
    (for example `{"invert": True}`), so the data's needs stay declared data.
    """

    id: str
    classnames: list[str] | None = None
    templates: list[str] | None = None
    preprocess_overrides: dict = {}
    splits: tuple[str, ...] = ("train", "test")
    fit_split: str = "train"
    eval_split: str = "test"

    @abstractmethod
    def split(self, name: str) -> Split:
        """Return split `name`; raise `NotFoundError` naming the available splits otherwise."""
