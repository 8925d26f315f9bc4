"""scikit-learn's handwritten digits: 1,797 8x8 grayscale images, 10 classes."""

import numpy as np

from t2c.data.base import Dataset
from t2c.errors import NotFoundError

from t2c_plugin_offline.datasets.arrays import ArraySplit

TEST_EVERY = 3  # every 3rd sample (index % 3 == 2) is a test sample: 1,198 train, 599 test

CLASSNAMES = [str(digit) for digit in range(10)]
TEMPLATES = [
    'a photo of the number: "{}".',
    "a photo of the digit {}.",
    "a blurry photo of the number {}.",
    "a handwritten {}.",
]


class SklearnDigits(Dataset):
    """`sklearn.datasets.load_digits`: white strokes on black, values 0-16 scaled to 0-255.

    Splits "train" and "test" are fixed by sample index (every 3rd sample is a test sample), so
    they are the same on every machine. Keys carry the sample's index in the full set: "test/00002".
    """

    id = "sklearn-digits"
    classnames = CLASSNAMES
    templates = TEMPLATES
    preprocess_overrides = {"grayscale_to_rgb": True}
    splits = ("train", "test")
    fit_split = "train"
    eval_split = "test"

    def __init__(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        self._images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
        self._labels = digits.target.astype(np.int64)

    def split(self, name: str) -> ArraySplit:
        """Return split "train" or "test"."""
        if name not in self.splits:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: {', '.join(self.splits)}")

        indices = np.arange(len(self._labels))
        is_test = indices % TEST_EVERY == TEST_EVERY - 1
        chosen = indices[is_test] if name == "test" else indices[~is_test]

        keys = [f"{name}/{index:05d}" for index in chosen]
        return ArraySplit(self._images[chosen], self._labels[chosen], keys)
