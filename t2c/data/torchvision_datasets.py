"""Data sets `torchvision:<Name>`: torchvision's data set classes, read from files under a root folder.

Ids and options:
- `torchvision:CIFAR10` reads the default root, `$T2C_CACHE/datasets/torchvision`
  (~/.cache/t2c/datasets/torchvision).
- `torchvision:CIFAR10?root=/data` reads /data, where torchvision expects /data/cifar-10-batches-py.
- `torchvision:CIFAR10?root=/data&download=true` downloads the files into root first, if missing.
The same options may be given as keywords: `load_dataset("torchvision:CIFAR10", root="/data")`.
Nothing is downloaded unless `download=true` is given, and never in offline mode
(HF_HUB_OFFLINE=1). ImageNet cannot be downloaded: torchvision reads the archives
(ILSVRC2012_devkit_t12.tar.gz and the train or val tar) placed in root, or the folders it extracted.

Class names come from the data set object (`classes`), with underscores shown as spaces. The
data set's id names no root, because the same files give the same features wherever they are.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.encoders.weight_files import is_connection_error, offline_mode, offline_variable
from t2c.errors import ConfigError, DataError, NotFoundError, OfflineError
from t2c.id_options import merge_options, parse_bool, reject_unknown, split_options
from t2c.paths import cache_root
from t2c.registry import not_found_error

log = logging.getLogger("t2c.data.torchvision")

FAMILY = "torchvision"
OPTIONS = ("root", "download")


def _digit_names(dataset) -> list[str]:
    return [str(digit) for digit in range(10)]


def _mnist_names(dataset) -> list[str]:
    return [name.split(" - ")[0] for name in dataset.classes]  # "0 - zero" -> "0"


@dataclass(frozen=True)
class TorchvisionSpec:
    """The recipe t2c follows to build one torchvision data set class.

    `splits` maps a split name to the constructor's keyword arguments. `labels` names the
    attribute that contains every label, read without decoding images. `unlabelled` lists splits
    whose labels mean nothing (STL-10's "unlabeled" split stores -1).
    """

    splits: dict[str, dict]
    eval_split: str = "test"
    template_set: str | None = None
    labels: str = "targets"
    classnames: Callable | None = None
    downloadable: bool = True
    unlabelled: tuple[str, ...] = field(default_factory=tuple)


TRAIN_TEST = {"train": {"train": True}, "test": {"train": False}}

SPECS = {  # torchvision class name -> how to build it
    "CIFAR10": TorchvisionSpec(TRAIN_TEST, template_set="cifar10"),
    "CIFAR100": TorchvisionSpec(TRAIN_TEST, template_set="cifar100"),
    "STL10": TorchvisionSpec(
        {"train": {"split": "train"}, "test": {"split": "test"}, "unlabeled": {"split": "unlabeled"}},
        template_set="stl10",
        labels="labels",
        unlabelled=("unlabeled",),
    ),
    "MNIST": TorchvisionSpec(TRAIN_TEST, template_set="mnist", classnames=_mnist_names),
    "FashionMNIST": TorchvisionSpec(TRAIN_TEST),
    "KMNIST": TorchvisionSpec(TRAIN_TEST),
    "SVHN": TorchvisionSpec(
        {"train": {"split": "train"}, "test": {"split": "test"}, "extra": {"split": "extra"}},
        template_set="svhn",
        labels="labels",
        classnames=_digit_names,
    ),
    "ImageNet": TorchvisionSpec(
        {"train": {"split": "train"}, "val": {"split": "val"}},
        eval_split="val",
        template_set="openai-imagenet",
        downloadable=False,
    ),
}


def default_root() -> Path:
    """Return the default root: the cache root's datasets/torchvision folder."""
    return cache_root() / "datasets" / "torchvision"


class TorchvisionSplit(Split):
    """One split of a torchvision data set; `load` returns its PIL image as "RGB" or "L"."""

    def __init__(self, dataset, name: str, labels: np.ndarray | None) -> None:
        self.dataset = dataset
        self.keys = [f"{name}/{index:06d}" for index in range(len(dataset))]
        self.labels = labels

    def load(self, index: int) -> Image.Image:
        """Decode sample `index`."""
        image = self.dataset[index][0]
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        return image


class TorchvisionDataset(Dataset):
    """A torchvision data set class under `root`, built split by split when first used.

    Args:
        name: the torchvision class name, a key of SPECS ("CIFAR10").
        root: the folder torchvision reads; "~" is expanded.
        download: let torchvision download missing files into root.
    """

    def __init__(self, name: str, root: str | Path | None = None, download: bool = False) -> None:
        if name not in SPECS:
            raise not_found_error("torchvision data set", name, SPECS, "t2c supports these torchvision classes.")

        self.name = name
        self.spec = SPECS[name]
        self.id = f"{FAMILY}:{name}"
        self.root = Path(root).expanduser() if root else default_root()
        self.download = download
        self.splits = tuple(self.spec.splits)
        self.fit_split = "train"
        self.eval_split = self.spec.eval_split
        self._splits: dict[str, TorchvisionSplit] = {}

        if download and not self.spec.downloadable:
            raise ConfigError(f"torchvision cannot download {name}; place its archives in {self.root} and leave out download=true")

    @property
    def classnames(self) -> list[str]:
        """Class names from the data set object, read from the evaluation split."""
        dataset = self.split(self.eval_split).dataset
        if self.spec.classnames is not None:
            return self.spec.classnames(dataset)
        return [clean_classname(name) for name in dataset.classes]

    @property
    def templates(self) -> list[str] | None:
        """The data set's prompt templates, or None to use the target's."""
        from t2c.targets.templates import TEMPLATE_SETS

        if self.spec.template_set is None:
            return None
        try:
            return TEMPLATE_SETS[self.spec.template_set]()
        except NotFoundError as error:  # the ImageNet sets need open_clip
            log.info("no templates for %s: %s", self.id, error)
            return None

    def split(self, name: str) -> TorchvisionSplit:
        """Return split `name`, reading its files on first use."""
        if name not in self.spec.splits:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: {', '.join(self.splits)}")

        if name not in self._splits:
            dataset = self._build(name)
            labels = None
            if name not in self.spec.unlabelled:
                labels = np.asarray(getattr(dataset, self.spec.labels), dtype=np.int64)
            self._splits[name] = TorchvisionSplit(dataset, name, labels)
            log.info("%s split %s: %d images from %s", self.id, name, len(dataset), self.root)
        return self._splits[name]

    def _build(self, split: str):
        import torchvision.datasets

        dataset_class = getattr(torchvision.datasets, self.name)
        arguments = dict(self.spec.splits[split])
        if self.spec.downloadable:
            arguments["download"] = self.download

        if self.download and offline_mode():
            variable = offline_variable()
            raise OfflineError(f"download=true for {self.id} but offline mode is on ({variable}=1); unset {variable} or copy the files into {self.root}")

        try:
            return dataset_class(root=str(self.root), **arguments)
        except RuntimeError as error:  # torchvision's "Dataset not found or corrupted" and missing archives
            raise DataError(self._missing_message(error)) from error
        except Exception as error:  # urllib raises several types when a download fails
            if not is_connection_error(error):
                raise
            raise OfflineError(f"downloading {self.id} into {self.root} failed ({type(error).__name__}: {error}); copy the files there instead") from error

    def _missing_message(self, error: Exception) -> str:
        fix = "add download=true to fetch them" if self.spec.downloadable else "place the archives there as torchvision documents"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return (
            f"{self.id}: torchvision found no usable files under root {self.root} ({first_line}); "
            f"set root to the folder that has them (torchvision:{self.name}?root=/data), or {fix}"
        )

    def __repr__(self) -> str:
        return f"TorchvisionDataset({self.name!r}, root={self.root.as_posix()!r})"


def clean_classname(name) -> str:
    """Return a readable class name: the first synonym of an ImageNet tuple, underscores as spaces."""
    if isinstance(name, (tuple, list)):
        name = name[0]
    return str(name).replace("_", " ")


def load_torchvision_dataset(argument: str, **options) -> TorchvisionDataset:
    """Build the data set `torchvision:NAME`, with options root and download (see the module docstring)."""
    name, query = split_options(argument, "torchvision data set id")
    options = merge_options(query, options, f"{FAMILY}:{name}")
    reject_unknown(options, OPTIONS, f"{FAMILY}:{name}")

    download = parse_bool(options.get("download", False), "download")
    return TorchvisionDataset(name, root=options.get("root"), download=download)
