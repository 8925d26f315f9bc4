"""folder:PATH data set: layouts, keys, labels, splits and precise errors."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.data.folder import FolderDataset
from t2c.data.images import ImageDecodeError
from t2c.errors import DataError, NotFoundError
from t2c.plugins import load_plugins


def write_image(path: Path, color=(200, 30, 30), size=(12, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


@pytest.fixture
def classes_folder(tmp_path):
    root = tmp_path / "pets"
    write_image(root / "golden_retriever" / "b.png")
    write_image(root / "golden_retriever" / "a.JPG")
    write_image(root / "cat" / "1.bmp")
    write_image(root / "cat" / "nested" / "2.webp")
    write_image(root / "cat" / ".hidden.png")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / ".git").mkdir()
    write_image(root / ".git" / "x.png")
    return root


def test_classes_layout(classes_folder):
    dataset = FolderDataset(classes_folder)
    split = dataset.split("all")

    assert isinstance(dataset, Dataset)
    assert isinstance(split, Split)
    assert dataset.classnames == ["cat", "golden retriever"]
    assert split.keys == ["cat/1.bmp", "cat/nested/2.webp", "golden_retriever/a.JPG", "golden_retriever/b.png"]
    np.testing.assert_array_equal(split.labels, [0, 0, 1, 1])
    assert split.labels.dtype == np.int64


def test_single_split_is_all(classes_folder):
    dataset = FolderDataset(classes_folder)

    assert dataset.splits == ("all",)
    assert dataset.fit_split == "all"
    assert dataset.eval_split == "all"


def test_id_is_absolute_posix_path(classes_folder, monkeypatch):
    monkeypatch.chdir(classes_folder.parent)

    dataset = FolderDataset("pets")

    assert dataset.id == f"folder:{classes_folder.resolve().as_posix()}"


def test_load_decodes_image(classes_folder):
    split = FolderDataset(classes_folder).split("all")

    image = split.load(split.keys.index("golden_retriever/b.png"))

    assert image.mode == "RGB"
    assert image.size == (12, 8)
    assert image.getpixel((0, 0)) == (200, 30, 30)


def test_flat_folder_is_unlabelled(tmp_path):
    for name in ("b.TIFF", "a.gif", "c.jpeg"):
        write_image(tmp_path / name)

    dataset = FolderDataset(tmp_path)
    split = dataset.split("all")

    assert split.keys == ["a.gif", "b.TIFF", "c.jpeg"]
    assert split.labels is None
    assert dataset.classnames is None


@pytest.mark.parametrize("extension", ["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff", "PNG", "Jpeg"])
def test_every_image_extension_listed(tmp_path, extension):
    write_image(tmp_path / f"image.{extension}")

    assert FolderDataset(tmp_path).split("all").keys == [f"image.{extension}"]


def test_train_test_subfolders_are_splits(tmp_path):
    write_image(tmp_path / "train" / "dog" / "1.png")
    write_image(tmp_path / "train" / "cat" / "2.png")
    write_image(tmp_path / "test" / "dog" / "3.png")

    dataset = FolderDataset(tmp_path)
    test = dataset.split("test")

    assert dataset.splits == ("train", "test")
    assert (dataset.fit_split, dataset.eval_split) == ("train", "test")
    assert dataset.classnames == ["cat", "dog"]
    assert test.keys == ["test/dog/3.png"]
    np.testing.assert_array_equal(test.labels, [1])
    np.testing.assert_array_equal(dataset.split("train").labels, [0, 1])


def test_train_val_subfolders(tmp_path):
    write_image(tmp_path / "val" / "a.png")
    write_image(tmp_path / "train" / "b.png")

    dataset = FolderDataset(tmp_path)

    assert dataset.splits == ("train", "val")
    assert (dataset.fit_split, dataset.eval_split) == ("train", "val")
    assert dataset.split("val").labels is None


def test_unknown_split_names_available(classes_folder):
    with pytest.raises(NotFoundError, match=r"no split 'train'; available splits: all"):
        FolderDataset(classes_folder).split("train")


def test_empty_macosx_folder_ignored(classes_folder):
    (classes_folder / "__MACOSX").mkdir()
    (classes_folder / "__MACOSX" / "._b.png").write_bytes(b"\x00\x05")

    assert FolderDataset(classes_folder).classnames == ["cat", "golden retriever"]


def test_registered_as_folder_family(classes_folder):
    plugins = load_plugins(distributions=(), builtin_modules=("t2c.builtins.datasets",))

    dataset = plugins.registry.load_dataset(f"folder:{classes_folder}")

    assert plugins.infos["t2c.builtins.datasets"].errors == []
    assert isinstance(dataset, FolderDataset)
    assert dataset.classnames == ["cat", "golden retriever"]
    assert "subfolder" in plugins.registry.get("datasets", "folder").description


# Errors name the path and the fix.


def test_missing_path_raises_not_found(tmp_path):
    with pytest.raises(NotFoundError, match=r"image folder .*nowhere not found"):
        FolderDataset(tmp_path / "nowhere")


def test_file_path_raises(tmp_path):
    path = write_image(tmp_path / "one.png")

    with pytest.raises(DataError, match="is a file"):
        FolderDataset(path)


def test_empty_folder_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")

    with pytest.raises(DataError, match=r"contains no images \(extensions"):
        FolderDataset(tmp_path)


def test_folder_of_empty_class_folders_raises(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()

    with pytest.raises(DataError, match="contains no images"):
        FolderDataset(tmp_path)


def test_one_empty_class_folder_raises(classes_folder):
    (classes_folder / "zebra").mkdir()

    with pytest.raises(DataError, match=r"class folder .*zebra contains no images"):
        FolderDataset(classes_folder)


def test_mixed_layout_raises(classes_folder):
    write_image(classes_folder / "loose.png")

    with pytest.raises(DataError, match=r"mixes 1 images at its top level \(such as loose\.png\)"):
        FolderDataset(classes_folder)


def test_images_beside_split_folders_raise(tmp_path):
    write_image(tmp_path / "train" / "a.png")
    write_image(tmp_path / "stray.png")

    with pytest.raises(DataError, match=r"split folders \(train\) and also 1 images"):
        FolderDataset(tmp_path)


def test_flat_and_class_splits_raise(tmp_path):
    write_image(tmp_path / "train" / "cat" / "a.png")
    write_image(tmp_path / "test" / "b.png")

    with pytest.raises(DataError, match="give every split the same layout"):
        FolderDataset(tmp_path)


def test_corrupt_file_names_it_on_load(classes_folder):
    broken = classes_folder / "cat" / "1.bmp"
    broken.write_bytes(broken.read_bytes()[:60])
    split = FolderDataset(classes_folder).split("all")

    with pytest.raises(ImageDecodeError) as raised:
        split.load(split.keys.index("cat/1.bmp"))

    assert str(broken) in str(raised.value)
    assert raised.value.reason in ("truncated", "corrupt")
