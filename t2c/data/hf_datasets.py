"""Data sets `hf:<name>`: Hugging Face datasets, read with the optional `datasets` library.

`hf:uoft-cs/cifar10` loads every split of the Hub data set (from the `datasets` cache, or
downloaded unless offline). Options, as `?key=value` in the id or as keywords:
- config: the data set's configuration name (`datasets.load_dataset(name, config)`).
- revision: a branch, tag or commit of the data set repo.
- image_column / label_column: the columns to read. By default they are the first column with
  the `Image` feature and the first with the `ClassLabel` feature; without one, samples have no labels.
Class names come from the label column's `ClassLabel.names`. Install the library with
`pip install datasets`.

NOTE: this module was written against the `datasets` API without the library installed, so it
has not run; the tests cover only the error raised when `datasets` is missing.
"""

import logging
import re

import numpy as np
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.encoders.torch_base import import_library
from t2c.encoders.weight_files import is_connection_error, offline_mode
from t2c.errors import ConfigError, DataError, NotFoundError, OfflineError
from t2c.id_options import merge_options, reject_unknown, split_options

log = logging.getLogger("t2c.data.hf")

FAMILY = "hf"
OPTIONS = ("config", "revision", "image_column", "label_column")
INSTALL = "pip install datasets"


class HFSplit(Split):
    """One split of a Hugging Face data set; images decode on `load`."""

    def __init__(self, table, name: str, image_column: str, labels: np.ndarray | None) -> None:
        self.table = table
        self.image_column = image_column
        self.keys = [f"{name}/{index:06d}" for index in range(len(table))]
        self.labels = labels

    def load(self, index: int) -> Image.Image:
        """Decode sample `index` as an "RGB" or "L" image."""
        image = self.table[index][self.image_column]
        if not isinstance(image, Image.Image):
            raise DataError(f"column {self.image_column!r} of sample {self.keys[index]} is a {type(image).__name__}, not an image")
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        return image


class HFDataset(Dataset):
    """A Hugging Face data set with an image column and, optionally, a class-label column."""

    def __init__(self, name: str, config: str | None = None, revision: str | None = None,
                 image_column: str | None = None, label_column: str | None = None) -> None:
        datasets = import_library("datasets", "hf data set", install=INSTALL)

        self.name = name
        self.id = f"{FAMILY}:{name}" + (f"?config={config}" if config else "")
        tables = load_tables(datasets, name, config, revision, self.id)
        if not tables:
            raise DataError(f"{self.id} has no splits")

        features = next(iter(tables.values())).features
        self.image_column = image_column or find_column(features, datasets.Image, "Image", self.id)
        self.label_column = label_column or find_column(features, datasets.ClassLabel, None, self.id)
        check_column(features, self.image_column, self.id)

        self.classnames = None
        if self.label_column is not None:
            check_column(features, self.label_column, self.id)
            names = getattr(features[self.label_column], "names", None)
            self.classnames = [str(name).replace("_", " ") for name in names] if names else None

        self.splits = tuple(tables)
        self.fit_split = "train" if "train" in tables else self.splits[0]
        self.eval_split = next((name for name in ("test", "validation", "val") if name in tables), self.fit_split)
        self.templates = guess_templates(name)
        self._tables = tables

    def split(self, name: str) -> HFSplit:
        """Return split `name`; raise `NotFoundError` naming the available splits otherwise."""
        if name not in self._tables:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: {', '.join(self.splits)}")

        table = self._tables[name]
        labels = None
        if self.label_column is not None:
            labels = np.asarray(table[self.label_column], dtype=np.int64)
        return HFSplit(table, name, self.image_column, labels)


def load_tables(datasets, name: str, config: str | None, revision: str | None, dataset_id: str) -> dict:
    """Return {split name: datasets.Dataset} from `datasets.load_dataset`, translating its failures."""
    try:
        return dict(datasets.load_dataset(name, config, revision=revision))
    except Exception as error:  # datasets raises many types for missing data and network failures
        if offline_mode() or is_connection_error(error):
            raise OfflineError(
                f"{dataset_id} is not in the datasets cache ({datasets.config.HF_DATASETS_CACHE}) and cannot be downloaded "
                f"({type(error).__name__}: {error}); run `python -c \"import datasets; datasets.load_dataset('{name}')\"` "
                "on a machine with network and copy that cache folder here"
            ) from error
        raise DataError(f"{dataset_id} could not be loaded ({type(error).__name__}: {error}); check the name and the config option") from error


def find_column(features, feature_type, required: str | None, dataset_id: str) -> str | None:
    """Return the first column whose feature is a `feature_type`; raise when `required` names a missing kind."""
    for column, feature in features.items():
        if isinstance(feature, feature_type):
            return column

    if required:
        raise ConfigError(
            f"{dataset_id} has no column of type {required} (columns: {', '.join(features)}); "
            "name the image column with the option image_column"
        )
    return None


def check_column(features, column: str, dataset_id: str) -> None:
    """Raise ConfigError unless `column` exists."""
    if column not in features:
        raise ConfigError(f"{dataset_id} has no column {column!r}; its columns are {', '.join(features)}")


def guess_templates(name: str) -> list[str] | None:
    """Return the per-data-set template set whose name matches the repo name ("uoft-cs/cifar10" -> cifar10)."""
    from t2c.targets.templates import DATASET_TEMPLATES

    key = re.sub(r"[^a-z0-9]", "", name.rpartition("/")[2].lower())
    templates = DATASET_TEMPLATES.get(key)
    return list(templates) if templates else None


def load_hf_dataset(argument: str, **options) -> HFDataset:
    """Build the data set `hf:NAME`, with options config, revision, image_column and label_column."""
    name, query = split_options(argument, "hf data set id")
    options = merge_options(query, options, f"{FAMILY}:{name}")
    reject_unknown(options, OPTIONS, f"{FAMILY}:{name}")
    return HFDataset(name, **options)
