"""The `folder:PATH` data set: images in a folder, labelled by subfolder or unlabelled.

Three layouts, detected from the folder's contents:
- classes: one subfolder per class (`PATH/cat/1.jpg`, `PATH/dog/2.png`); images inside a class
  folder are found at any depth. Class names are the sorted subfolder names with "_" shown as " ".
- flat: images directly in PATH and no subfolders with images; labels and class names are None.
- splits: only subfolders named "train", "val" and "test", each laid out as classes or flat.
Without split subfolders the data set has one split, "all", which is also its fit and eval split.
Sample keys are POSIX paths relative to PATH, such as "train/cat/1.jpg". Hidden files and folders
(names starting with ".") are skipped, and so are files without an image extension.
"""

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.data.images import DEFAULT_MAX_PIXELS, open_image
from t2c.errors import DataError, NotFoundError

log = logging.getLogger("t2c.data.folder")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SPLIT_NAMES = ("train", "val", "test")  # subfolder names that make a folder a set of splits
ALL_SPLIT = "all"


class FolderSplit(Split):
    """One split of a folder data set; `load` decodes with `open_image`, so errors name the file."""

    def __init__(self, root: Path, keys: list[str], labels: np.ndarray | None, max_pixels: int | None):
        self.root = root
        self.keys = keys
        self.labels = labels
        self.max_pixels = max_pixels

    def load(self, index: int) -> Image.Image:
        """Decode sample `index` as an "RGB" or "L" image; raise `ImageDecodeError` naming the file."""
        return open_image(self.root / self.keys[index], max_pixels=self.max_pixels)

    def path(self, index: int) -> Path:
        """Return the file of sample `index`."""
        return self.root / self.keys[index]


class FolderDataset(Dataset):
    """Images under `path`, laid out as classes, flat, or split folders (see the module docstring).

    Args:
        path: the folder; "~" is expanded. The id is "folder:" plus its absolute POSIX path.
        max_pixels: passed to `open_image` (decompression-bomb limit per image).

    Raises:
        NotFoundError: `path` does not exist.
        DataError: `path` is not a folder, contains no images, or mixes layouts.
    """

    def __init__(self, path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS):
        root = Path(path).expanduser()
        if not root.exists():
            raise NotFoundError(f"image folder {root} not found; check the path given as folder:PATH")
        if not root.is_dir():
            raise DataError(f"{root} is a file, but folder:PATH needs a folder of images (or of class subfolders)")

        self.root = root.resolve()
        self.id = f"folder:{self.root.as_posix()}"
        self.max_pixels = max_pixels

        split_folders = _split_folders(self.root)
        if split_folders:
            scans = {name: _scan(self.root / name, self.root) for name in split_folders}
        else:
            scans = {ALL_SPLIT: _scan(self.root, self.root)}

        self._class_folders = _merge_class_folders(scans, self.root)
        if self._class_folders is not None:
            self.classnames = [name.replace("_", " ") for name in self._class_folders]
        class_index = {folder_name: index for index, folder_name in enumerate(self._class_folders or [])}
        self._splits = {name: self._make_split(files, class_index) for name, files in scans.items()}
        self.splits = tuple(self._splits)
        self.fit_split, self.eval_split = _default_splits(self.splits)

        counts = ", ".join(f"{name} {len(split)}" for name, split in self._splits.items())
        n_classes = "no" if self.classnames is None else len(self.classnames)
        log.info("folder data set %s: %s classes, images per split: %s", self.root, n_classes, counts)

    def split(self, name: str) -> FolderSplit:
        """Return split `name`; raise `NotFoundError` naming the available splits otherwise."""
        if name not in self._splits:
            raise NotFoundError(f"data set {self.id} has no split {name!r}; available splits: {', '.join(self.splits)}")
        return self._splits[name]

    def _make_split(self, files: dict[str | None, list[str]], class_index: dict[str, int]) -> FolderSplit:
        keys: list[str] = []
        labels: list[int] = []

        for folder_name, class_keys in files.items():
            keys.extend(class_keys)
            if folder_name is not None:
                labels.extend([class_index[folder_name]] * len(class_keys))

        label_array = np.asarray(labels, dtype=np.int64) if self._class_folders is not None else None
        return FolderSplit(self.root, keys, label_array, self.max_pixels)

    def __repr__(self) -> str:
        return f"FolderDataset({self.root.as_posix()!r}, splits={self.splits})"


def _split_folders(root: Path) -> list[str]:
    """Return the split subfolders of `root` in SPLIT_NAMES order, or [] unless all subfolders are splits."""
    subfolders = [entry.name for entry in _visible_entries(root) if entry.is_dir() and not _is_noise_folder(entry.name)]
    if not subfolders or not set(subfolders) <= set(SPLIT_NAMES):
        return []

    loose_images = [entry.name for entry in _visible_entries(root) if _is_image(entry)]
    if loose_images:
        raise DataError(
            f"{root} has split folders ({', '.join(sorted(subfolders))}) and also {len(loose_images)} images "
            f"beside them, such as {loose_images[0]}; move those images into a split folder"
        )
    return [name for name in SPLIT_NAMES if name in subfolders]


def _scan(folder: Path, root: Path) -> dict[str | None, list[str]]:
    """List the images of one split folder.

    Returns:
        {class folder name: sorted keys} in sorted class order, or {None: sorted keys} when the
        folder is flat. Keys are POSIX paths relative to `root`.
    """
    entries = _visible_entries(folder)
    class_folders = sorted(entry.name for entry in entries if entry.is_dir())
    top_images = sorted(entry.name for entry in entries if _is_image(entry))
    ignored = sum(1 for entry in entries if entry.is_file() and not _is_image(entry))
    if ignored:
        log.info("skipping %d files without an image extension in %s", ignored, folder)

    classes = {name: _images_below(folder / name, root) for name in class_folders}
    classes = {name: keys for name, keys in classes.items() if keys or not _is_noise_folder(name)}

    if top_images and any(classes.values()):
        raise DataError(
            f"{folder} mixes {len(top_images)} images at its top level (such as {top_images[0]}) with class "
            "subfolders; move the loose images into a class folder, or point folder:PATH at a flat folder"
        )

    if top_images:
        return {None: [_key(folder / name, root) for name in top_images]}

    if not any(classes.values()):
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise DataError(f"{folder} contains no images (extensions {extensions}); add images or check the path")

    empty = [name for name, keys in classes.items() if not keys]
    if empty:
        raise DataError(
            f"class folder {folder / empty[0]} contains no images ({len(empty)} empty class folders in all); "
            "add images to it or remove it"
        )
    return classes


def _images_below(folder: Path, root: Path) -> list[str]:
    """Return the sorted keys of every image at any depth under `folder`, skipping hidden names."""
    keys = []
    for current, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in files:
            path = Path(current) / name
            if not name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS:
                keys.append(_key(path, root))
    return sorted(keys)


def _merge_class_folders(scans: dict[str, dict[str | None, list[str]]], root: Path) -> list[str] | None:
    """Return the sorted union of the splits' class folder names, or None when every split is flat."""
    flat = [name for name, files in scans.items() if None in files]
    if len(flat) == len(scans):
        return None
    if flat:
        raise DataError(
            f"{root}: split {flat[0]} is a flat folder of images but other splits have class subfolders; "
            "give every split the same layout"
        )

    return sorted({name for files in scans.values() for name in files})


def _default_splits(splits: tuple[str, ...]) -> tuple[str, str]:
    """Return (fit split, eval split): train and test when present, else the closest available."""
    fit = "train" if "train" in splits else splits[0]
    for candidate in ("test", "val"):
        if candidate in splits:
            return fit, candidate
    return fit, fit


def _visible_entries(folder: Path) -> list[Path]:
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")]


def _is_image(entry: Path) -> bool:
    return entry.is_file() and entry.suffix.lower() in IMAGE_EXTENSIONS


def _is_noise_folder(name: str) -> bool:
    # Folders that archive tools and notebooks leave behind; ignored when they hold no images.
    return name in {"__MACOSX", "__pycache__"}


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
