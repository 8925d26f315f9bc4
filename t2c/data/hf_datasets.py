"""Data sets `hf:<name>`: Hugging Face data sets, read with the optional `datasets` library.

`hf:uoft-cs/cifar10` loads every split of the Hub data set with `datasets.load_dataset`, from
the caches or downloaded unless offline. `hf:/path/to/folder` loads a local folder: one written
by `save_to_disk`, or data files that `load_dataset` reads (Parquet files, an image folder).
Options, as `?key=value` in the id or as keywords:
- config: the data set's configuration name (`datasets.load_dataset(name, config)`).
- revision: a branch, tag or commit of the data set repo.
- image_column / label_column: the columns to read. By default they are the first column with
  the `Image` feature and the first with the `ClassLabel` feature; without one, samples have no labels.
Class names come from the label column's `ClassLabel.names`. A split whose labels contain -1 or
null (the datasets mark for "no label") is unlabelled. Install the library with
`pip install datasets` (or the extra `t2c[hf-datasets]`, which pins the tested versions).

t2c decodes the images itself (`open_image`) from the bytes or file that the image column
stores, so an undecodable image raises `ImageDecodeError` and feature extraction skips it, as
it skips a damaged file of a `folder:` data set.

Offline (HF_HUB_OFFLINE=1 or HF_DATASETS_OFFLINE=1), a Hub data set is read from its snapshot in
the Hub cache when there is one, so `hf download --repo-type dataset NAME` fetches it ahead of
time. Otherwise `load_dataset` reads the Arrow files it prepared in an earlier online run; the
datasets library (5.2) reads only those when offline.
"""

import logging
import re
from pathlib import Path

import numpy as np
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.data.hf_cache import (
    datasets_cache_dir,
    datasets_offline_variable,
    error_summary,
    fetch_command,
    hub_snapshot,
    offline_dataset_error,
)
from t2c.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, open_image
from t2c.encoders.torch_base import import_library
from t2c.encoders.weight_files import is_connection_error
from t2c.errors import ConfigError, DataError, NotFoundError
from t2c.id_options import merge_options, reject_unknown, split_options

log = logging.getLogger("t2c.data.hf")

FAMILY = "hf"
OPTIONS = ("config", "revision", "image_column", "label_column")
ID_OPTIONS = ("config", "revision", "image_column")  # options that change the images, so they are part of the id
INSTALL = "pip install datasets"
NO_LABEL = -1  # what datasets stores in a ClassLabel column for an unlabelled sample
EVAL_SPLITS = ("test", "validation", "val")  # preferred evaluation splits, in order


class HFSplit(Split):
    """One split of a Hugging Face data set; `load` decodes the stored image bytes with `open_image`.

    `table` is a datasets.Dataset whose only column is the image column, cast to
    `Image(decode=False)`, so rows are {"bytes": ..., "path": ...} dicts or None.
    """

    def __init__(self, table, name: str, image_column: str, labels: np.ndarray | None) -> None:
        self.table = table
        self.image_column = image_column
        self.keys = [f"{name}/{index:06d}" for index in range(len(table))]
        self.labels = labels

    def load(self, index: int) -> Image.Image:
        """Decode sample `index` as an "RGB" or "L" image; raise `ImageDecodeError` naming its key."""
        return decode_stored_image(self.table[index][self.image_column], self.keys[index], self.image_column)


def decode_stored_image(value: dict | None, key: str, column: str) -> Image.Image:
    """Decode one value of an `Image(decode=False)` column: the image's bytes, else its file path."""
    if value is None:
        raise ImageDecodeError(key, "non-image", f"column {column!r} contains no image (null) for this sample; fill or remove the row")

    data = value.get("bytes")
    if data is not None:
        return open_image(data, name=key, max_pixels=DEFAULT_MAX_PIXELS)

    path = value.get("path")
    if path:
        return open_image(path, name=f"{key} ({path})", max_pixels=DEFAULT_MAX_PIXELS)
    raise ImageDecodeError(key, "non-image", f"column {column!r} stores neither bytes nor a path for this sample; fill or remove the row")


class HFDataset(Dataset):
    """A Hugging Face data set with an image column and, optionally, a class-label column.

    Args:
        name: a Hub repo ("uoft-cs/cifar10") or a local folder.
        config, revision, image_column, label_column: see the module docstring.

    Raises:
        NotFoundError: the datasets library is not installed.
        OfflineError: a Hub data set is not cached and cannot be downloaded.
        DataError: the data set cannot be loaded or has no splits.
        ConfigError: a named column is missing or of the wrong type.
    """

    def __init__(self, name: str, config: str | None = None, revision: str | None = None,
                 image_column: str | None = None, label_column: str | None = None) -> None:
        datasets = import_library("datasets", "hf data set", install=INSTALL)

        folder = Path(name).expanduser()
        self.name = folder.resolve().as_posix() if folder.is_dir() else name
        options = {"config": config, "revision": revision, "image_column": image_column}
        query = "&".join(f"{key}={options[key]}" for key in ID_OPTIONS if options[key])
        self.id = f"{FAMILY}:{self.name}" + (f"?{query}" if query else "")

        if folder.is_dir():
            tables = load_folder(datasets, folder, config, revision, self.id)
        else:
            tables = load_hub(datasets, name, config, revision, self.id)
        if not tables:
            raise DataError(f"{self.id} has no splits")

        features = next(iter(tables.values())).features
        self.image_column = image_column or find_column(features, datasets.Image, "Image", self.id)
        self.label_column = label_column or find_column(features, datasets.ClassLabel, None, self.id)
        check_column(features, self.image_column, datasets.Image, self.id)

        self.classnames = None
        if self.label_column is not None:
            check_column(features, self.label_column, None, self.id)
            names = getattr(features[self.label_column], "names", None)
            self.classnames = [str(name).replace("_", " ") for name in names] if names else None

        self.splits = tuple(tables)
        self.fit_split = "train" if "train" in tables else self.splits[0]
        self.eval_split = next((split for split in EVAL_SPLITS if split in tables), self.fit_split)
        self.templates = guess_templates(self.name)
        self._tables = tables

    def split(self, name: str) -> HFSplit:
        """Return split `name`; raise `NotFoundError` naming the available splits otherwise."""
        if name not in self._tables:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: {', '.join(self.splits)}")

        datasets = import_library("datasets", "hf data set", install=INSTALL)
        table = self._tables[name]
        check_column(table.features, self.image_column, datasets.Image, f"{self.id} split {name}")
        labels = None
        if self.label_column is not None:
            check_column(table.features, self.label_column, None, f"{self.id} split {name}")
            labels = split_labels(table, self.label_column, f"{self.id} split {name}")

        images = table.select_columns([self.image_column]).cast_column(self.image_column, datasets.Image(decode=False))
        return HFSplit(images, name, self.image_column, labels)


def load_folder(datasets, folder: Path, config: str | None, revision: str | None, dataset_id: str) -> dict:
    """Return {split name: datasets.Dataset} from a `save_to_disk` folder or a folder of data files."""
    if revision:
        raise ConfigError(f"{dataset_id} is a local folder, so the option revision={revision} does not apply; remove it")

    saved = (folder / datasets.config.DATASETDICT_JSON_FILENAME).is_file() or (folder / datasets.config.DATASET_STATE_JSON_FILENAME).is_file()
    try:
        if saved:
            if config:
                raise ConfigError(f"{dataset_id} was written by save_to_disk, which stores no configs; remove the option config={config}")
            return as_tables(datasets.load_from_disk(str(folder)))
        return as_tables(datasets.load_dataset(str(folder), config, cache_dir=str(datasets_cache_dir())))
    except ConfigError:
        raise
    except Exception as error:  # datasets raises many types for unreadable folders and unknown configs
        raise DataError(f"{dataset_id} could not be loaded from {folder} ({type(error).__name__}: {error_summary(error)}); check the folder and the config option") from error


def load_hub(datasets, name: str, config: str | None, revision: str | None, dataset_id: str) -> dict:
    """Return {split name: datasets.Dataset} of a Hub data set: from the Hub cache snapshot when offline, else `load_dataset`.

    Raises:
        OfflineError: offline (or the network failed) and neither cache contains the data set.
        DataError: the snapshot or the Hub data set cannot be loaded.
    """
    offline = datasets_offline_variable() is not None
    cache_dir = str(datasets_cache_dir())

    snapshot = hub_snapshot(name, revision) if offline else None
    if snapshot is not None:
        log.info("reading %s offline from the Hub cache snapshot %s", dataset_id, snapshot)
        try:
            return as_tables(datasets.load_dataset(str(snapshot), config, cache_dir=cache_dir))
        except Exception as error:  # datasets raises many types for missing files and unknown configs
            raise DataError(
                f"{dataset_id} could not be read from the Hub cache snapshot {snapshot} ({type(error).__name__}: "
                f"{error_summary(error)}); check the config option, or fetch the whole repo again with "
                f"`{fetch_command(name, revision)}`"
            ) from error

    # NOTE: datasets reads HF_HUB_OFFLINE and HF_DATASETS_OFFLINE once, when it is imported, and
    # ignores TRANSFORMERS_OFFLINE, so with a variable set later it still requests the Hub here first.
    try:
        return as_tables(datasets.load_dataset(name, config, revision=revision, cache_dir=cache_dir))
    except Exception as error:  # datasets raises many types for missing data and network failures
        if is_connection_error(error):
            raise offline_dataset_error(dataset_id, name, revision, None if offline else error) from error
        if offline:
            # Not a network failure: datasets read its cache but not what was requested, such as an unknown or ambiguous config.
            raise DataError(
                f"{dataset_id} could not be read from the datasets cache {cache_dir} ({type(error).__name__}: "
                f"{error_summary(error)}); check the config option, or fetch the data set with `{fetch_command(name, revision)}`"
            ) from error
        raise DataError(
            f"{dataset_id} could not be loaded ({type(error).__name__}: {error_summary(error)}); check the name and the config option"
        ) from error


def as_tables(loaded) -> dict:
    """Return {split name: datasets.Dataset} from a DatasetDict, or from one Dataset (named by its split, else "train")."""
    if hasattr(loaded, "keys"):
        return dict(loaded)
    return {str(loaded.split or "train"): loaded}


def split_labels(table, column: str, subject: str) -> np.ndarray | None:
    """Return (n,) int64 class indices of one split, or None when any sample has no label (-1 or null).

    Raises:
        ConfigError: the column does not hold integers.
    """
    import pyarrow.compute

    values = table.with_format("arrow")[column]
    if not (pyarrow.types.is_integer(values.type) or pyarrow.types.is_null(values.type)):
        raise ConfigError(
            f"{subject}: label column {column!r} contains {values.type}, expected class indices (ClassLabel or integers); "
            "name another column with the option label_column"
        )

    labels = pyarrow.compute.fill_null(values, NO_LABEL).to_numpy(zero_copy_only=False).astype(np.int64)
    missing = int((labels == NO_LABEL).sum())
    if missing:
        log.info("%s: %d of %d samples have no label, so the split is unlabelled", subject, missing, len(labels))
        return None
    return labels


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


def check_column(features, column: str, feature_type, subject: str) -> None:
    """Raise ConfigError unless `column` exists and, when `feature_type` is given, has that feature type."""
    if column not in features:
        raise ConfigError(f"{subject} has no column {column!r}; its columns are {', '.join(features)}")

    if feature_type is not None and not isinstance(features[column], feature_type):
        raise ConfigError(
            f"{subject}: column {column!r} has feature {features[column]!r}, expected {feature_type.__name__}; "
            "name a column of that type with the option image_column"
        )


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
