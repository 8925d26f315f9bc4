"""A split held in memory as a uint8 image array."""

import numpy as np
from PIL import Image

from t2c.data.base import Split
from t2c.errors import NotFoundError


class ArraySplit(Split):
    """Images held in memory.

    Args:
        images: (n, h, w) uint8 grayscale or (n, h, w, 3) uint8 RGB, or a list of n such
            (h, w) / (h, w, 3) arrays when sizes differ.
        labels: (n,) int64 class indices, or None.
        keys: n unique sample keys, such as "train/00042".
    """

    def __init__(self, images: np.ndarray | list[np.ndarray], labels: np.ndarray | None, keys: list[str]):
        self.images = images
        self.labels = labels
        self.keys = keys

    def load(self, index: int) -> Image.Image:
        """Return sample `index` as a PIL image, mode "L" for grayscale and "RGB" for colour."""
        if not 0 <= index < len(self.keys):
            raise NotFoundError(f"sample index {index} is out of range for a split of {len(self.keys)} images")
        return Image.fromarray(self.images[index])
