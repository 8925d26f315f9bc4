"""Features of one split with the labels and positions of their samples, and class filters.

Applications read features from the feature store, which may leave out images that could not be
decoded. Labels are therefore looked up by sample key, never by position in the feature array.
"""

import logging
from dataclasses import dataclass, replace

import numpy as np

from t2c import pipeline, registry
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError, DataError, NotFoundError
from t2c.pipeline import Runtime

log = logging.getLogger("t2c.apps.samples")


@dataclass
class SplitFeatures:
    """Encoder-space features of samples of one split.

    Attributes:
        dataset: the data set the samples come from.
        split: the split name.
        keys: n sample keys, in feature order.
        indices: (n,) int64 positions of the samples in the split (for `Split.load`).
        features: (n, p) float32 in encoder space.
        labels: (n,) int64 class indices, or None for an unlabelled split.
    """

    dataset: Dataset
    split: str
    keys: list[str]
    indices: np.ndarray
    features: np.ndarray
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def name(self) -> str:
        """The "dataset/split" this came from, for messages and results."""
        return f"{self.dataset.id}/{self.split}"

    def subset(self, mask: np.ndarray) -> "SplitFeatures":
        """Return the samples where the (n,) boolean `mask` is true."""
        labels = None if self.labels is None else self.labels[mask]
        keys = [key for key, keep in zip(self.keys, mask, strict=True) if keep]
        return replace(self, keys=keys, indices=self.indices[mask], features=self.features[mask], labels=labels)


def resolve_split(spec: str | Dataset, split: str | None = None) -> tuple[Dataset, str]:
    """Resolve "DATASET" or "DATASET/SPLIT" (or a loaded data set) into a data set and a split name.

    An explicit `split` wins. Otherwise the text after the last "/" names the split when it is one
    of the splits of the data set named before it ("fashion-mnist/train"). In every other case the
    whole spec is the data set id ("folder:/data/photos"), and its evaluation split is used.
    """
    if isinstance(spec, Dataset):
        return spec, _check_split(spec, split or spec.eval_split)
    if split is not None:
        dataset = pipeline.resolve_dataset(spec)
        return dataset, _check_split(dataset, split)

    head, slash, tail = spec.rpartition("/")
    if slash and head and tail:
        try:
            dataset = pipeline.resolve_dataset(head)
        except (NotFoundError, DataError, ConfigError):
            dataset = None
        if dataset is not None and tail in dataset.splits:
            return dataset, tail

    dataset = pipeline.resolve_dataset(spec)
    return dataset, dataset.eval_split


def _check_split(dataset: Dataset, split: str) -> str:
    if split not in dataset.splits:
        raise NotFoundError(f"data set {dataset.id} has no split {split!r}; available splits: {', '.join(dataset.splits)}")
    return split


def load_split_features(
    encoder: Encoder, dataset: Dataset, split: str, limit: int | None, runtime: Runtime
) -> SplitFeatures:
    """Extract (or read from the feature store) the features of the first `limit` samples of a split."""
    count = pipeline.split_size(dataset, split, limit)
    entry = pipeline.features(encoder, dataset, split, count, runtime)
    keys, features = entry.load(limit=count)

    samples = dataset.split(split)
    positions = {key: index for index, key in enumerate(samples.keys[:count])}
    indices = np.array([positions[key] for key in keys], dtype=np.int64)

    labels = None
    if samples.labels is not None:
        labels = np.asarray(samples.labels, dtype=np.int64)[indices]
    return SplitFeatures(dataset, split, list(keys), indices, features, labels)


def class_indices(dataset: Dataset, names: list[str] | None) -> list[int] | None:
    """Return the label indices of class `names` (case-insensitive, or integer strings), or None for no filter."""
    if not names:
        return None
    classnames = dataset.classnames
    if not classnames:
        raise ConfigError(f"data set {dataset.id} has no class names, so it cannot be filtered by class; drop the class filter")

    lookup = {name.lower(): index for index, name in enumerate(classnames)}
    indices = []
    for name in names:
        key = name.strip().lower()
        if key in lookup:
            indices.append(lookup[key])
        elif key.isdigit() and int(key) < len(classnames):
            indices.append(int(key))
        else:
            raise registry.not_found_error(f"class of {dataset.id}", name.strip(), classnames)
    return indices


def filter_classes(samples: SplitFeatures, names: list[str] | None) -> SplitFeatures:
    """Keep the samples whose class is one of `names`; None or [] keeps every sample."""
    wanted = class_indices(samples.dataset, names)
    if wanted is None:
        return samples
    if samples.labels is None:
        raise ConfigError(f"split {samples.name} has no labels, so it cannot be filtered by class; drop the class filter")

    kept = samples.subset(np.isin(samples.labels, wanted))
    if len(kept) == 0:
        raise ConfigError(
            f"no sample of {samples.name} among the {len(samples)} read belongs to classes {names}; "
            "raise the sample limit or check the class names"
        )
    log.info("kept %d of %d samples of %s in classes %s", len(kept), len(samples), samples.name, ", ".join(names))
    return kept


def split_names(text: str | None) -> list[str]:
    """Split a comma-separated option value ("sandal, sneaker") into stripped, non-empty names."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]
