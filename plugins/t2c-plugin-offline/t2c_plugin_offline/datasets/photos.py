"""Sample photos shipped inside scikit-image (`skimage.data`), one class per photo."""

import numpy as np

from t2c.data.base import Dataset
from t2c.errors import NotFoundError

from t2c_plugin_offline.datasets.arrays import ArraySplit

PHOTOS = {  # skimage.data function -> class name (the photo's subject)
    "astronaut": "astronaut",
    "camera": "cameraman",
    "chelsea": "cat",
    "coffee": "coffee cup",
    "rocket": "rocket",
    "horse": "horse",
    "coins": "coins",
    "moon": "moon",
    "clock": "clock",
    "brick": "brick wall",
    "grass": "grass",
    "gravel": "gravel",
    "hubble_deep_field": "galaxies",
    "retina": "retina",
    "immunohistochemistry": "stained tissue",
    "page": "page of text",
    "stereo_motorcycle": "motorcycle",
}

SPLIT = "all"
SPLIT_ALIASES = {"all": SPLIT, "fit": SPLIT, "eval": SPLIT}  # name given to split() -> split


def load_photo(name: str) -> np.ndarray:
    """Return photo `name` as (h, w) or (h, w, 3) uint8 from files inside scikit-image."""
    import skimage.data

    image = getattr(skimage.data, name)()
    if name == "stereo_motorcycle":
        image = image[0]  # (left, right, disparity): the left view

    if image.dtype == bool:
        return np.where(image, 255, 0).astype(np.uint8)  # horse: black silhouette on white
    return image.astype(np.uint8)


class SkimagePhotos(Dataset):
    """17 photos from scikit-image, each its own class: a quick check of natural-image behaviour.

    One split, "all" (also reachable as "fit" and "eval"); keys are "all/<photo name>".
    Photo sizes differ; grayscale photos load in mode "L".
    """

    id = "skimage-photos"
    classnames = list(PHOTOS.values())
    templates = None
    preprocess_overrides = {"grayscale_to_rgb": True}
    splits = (SPLIT,)
    fit_split = SPLIT
    eval_split = SPLIT

    def __init__(self):
        self._split: ArraySplit | None = None

    def split(self, name: str) -> ArraySplit:
        """Return the one split; "all", "fit" and "eval" all name it."""
        if name not in SPLIT_ALIASES:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: all (or fit, eval)")

        if self._split is None:
            images = [load_photo(name) for name in PHOTOS]  # a list, because sizes differ
            labels = np.arange(len(PHOTOS), dtype=np.int64)
            keys = [f"{SPLIT}/{name}" for name in PHOTOS]
            self._split = ArraySplit(images, labels, keys)
        return self._split
