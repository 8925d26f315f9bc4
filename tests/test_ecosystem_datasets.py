"""torchvision:<Name> and hf:<name> data sets: options syntax, local files in torchvision's layouts, errors."""

import importlib.util
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from t2c.data.base import Dataset
from t2c.data.torchvision_datasets import TorchvisionDataset, default_root
from t2c.errors import ConfigError, DataError, NotFoundError, OfflineError
from t2c.id_options import split_options
from t2c.registry import load_dataset
from t2c.targets.templates import TEMPLATE_SETS

MNIST_FILES = {  # torchvision's raw file names -> (idx magic number, train?)
    "train-images-idx3-ubyte": (2051, True),
    "train-labels-idx1-ubyte": (2049, True),
    "t10k-images-idx3-ubyte": (2051, False),
    "t10k-labels-idx1-ubyte": (2049, False),
}


def write_mnist(root, train_labels, test_labels):
    """Write MNIST's four idx files (uncompressed) under root/MNIST/raw; image i is filled with value 10 * i mod 256."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, (magic, train) in MNIST_FILES.items():
        labels = np.asarray(train_labels if train else test_labels, dtype=np.uint8)
        if magic == 2049:
            payload = struct.pack(">II", magic, len(labels)) + labels.tobytes()
        else:
            images = np.stack([np.full((28, 28), (10 * index) % 256, dtype=np.uint8) for index in range(len(labels))])
            payload = struct.pack(">IIII", magic, len(labels), 28, 28) + images.tobytes()
        (raw / name).write_bytes(payload)


def write_imagenet(root, wnids):
    """Write ImageNet's meta.bin (torchvision's parsed devkit) and a val folder with one JPEG per class."""
    wnid_to_classes = {wnid: (f"class {index}", f"synonym {index}") for index, wnid in enumerate(wnids)}
    torch.save((wnid_to_classes, list(wnids)), root / "meta.bin")
    for index, wnid in enumerate(wnids):
        folder = root / "val" / wnid
        folder.mkdir(parents=True)
        Image.new("RGB", (40, 30), (index * 60, 20, 20)).save(folder / f"ILSVRC2012_val_{index:08d}.JPEG")


def test_query_options_parsed():
    name, options = split_options("CIFAR10?root=/data/x&download=true", "id")

    assert name == "CIFAR10"
    assert options == {"root": "/data/x", "download": "true"}


def test_mnist_from_idx_files(tmp_path):
    write_mnist(tmp_path, train_labels=[3, 1, 4], test_labels=[1, 5])

    dataset = load_dataset(f"torchvision:MNIST?root={tmp_path}")
    test = dataset.split("test")

    assert isinstance(dataset, Dataset)
    assert dataset.id == "torchvision:MNIST"
    assert dataset.splits == ("train", "test")
    assert dataset.classnames == [str(digit) for digit in range(10)]
    assert test.keys == ["test/000000", "test/000001"]
    np.testing.assert_array_equal(test.labels, [1, 5])
    assert test.labels.dtype == np.int64
    assert test.load(1).mode == "L"
    assert np.asarray(test.load(1)).max() == 10


def test_mnist_templates_from_set(tmp_path):
    write_mnist(tmp_path, train_labels=[0], test_labels=[0])

    dataset = load_dataset("torchvision:MNIST", root=str(tmp_path))

    assert dataset.templates == TEMPLATE_SETS["mnist"]()


def test_imagenet_from_meta_and_folders(tmp_path):
    write_imagenet(tmp_path, ["n01440764", "n01443537"])

    dataset = load_dataset(f"torchvision:ImageNet?root={tmp_path}")
    val = dataset.split("val")

    assert dataset.eval_split == "val"
    assert dataset.classnames == ["class 0", "class 1"]  # the first synonym of each class
    assert len(val) == 2
    np.testing.assert_array_equal(val.labels, [0, 1])
    assert val.load(1).size == (40, 30)


def test_imagenet_download_rejected(tmp_path):
    with pytest.raises(ConfigError, match="cannot download ImageNet"):
        load_dataset(f"torchvision:ImageNet?root={tmp_path}&download=true")


def test_cifar10_templates_and_splits(tmp_path):
    dataset = load_dataset(f"torchvision:CIFAR10?root={tmp_path}")

    assert dataset.splits == ("train", "test")
    assert dataset.templates == TEMPLATE_SETS["cifar10"]()
    assert len(dataset.templates) == 18


def test_missing_files_raise_data_error(tmp_path):
    dataset = load_dataset(f"torchvision:CIFAR10?root={tmp_path}")

    with pytest.raises(DataError) as raised:
        dataset.split("test")

    message = str(raised.value)
    assert str(tmp_path) in message
    assert "download=true" in message
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded


def test_download_refused_offline(tmp_path):
    dataset = load_dataset("torchvision:CIFAR10", root=str(tmp_path), download="true")

    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        dataset.split("train")


def test_default_root_under_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("T2C_CACHE", str(tmp_path))

    dataset = load_dataset("torchvision:STL10")

    assert dataset.root == tmp_path / "datasets" / "torchvision"
    assert dataset.root == default_root()


def test_stl10_unlabeled_split_has_no_labels():
    dataset = TorchvisionDataset("STL10")

    assert dataset.splits == ("train", "test", "unlabeled")
    assert dataset.spec.unlabelled == ("unlabeled",)


def test_unknown_name_suggests_names():
    with pytest.raises(NotFoundError, match="did you mean 'CIFAR10'"):
        load_dataset("torchvision:CIFAR1O")


def test_unknown_option_rejected():
    with pytest.raises(ConfigError, match="unknown option"):
        load_dataset("torchvision:CIFAR10?rooot=/data")


def test_option_given_twice_rejected():
    with pytest.raises(ConfigError, match="both in the id and as keywords"):
        load_dataset("torchvision:CIFAR10?root=/a", root="/b")


def test_invalid_download_value_rejected():
    with pytest.raises(ConfigError, match="not a boolean"):
        load_dataset("torchvision:CIFAR10?download=maybe")


def test_unknown_split_rejected(tmp_path):
    dataset = load_dataset(f"torchvision:CIFAR10?root={tmp_path}")

    with pytest.raises(NotFoundError, match="available splits: train, test"):
        dataset.split("val")


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None, reason="the datasets library is installed")
def test_hf_dataset_without_library_names_install():
    with pytest.raises(NotFoundError, match="pip install datasets"):
        load_dataset("hf:uoft-cs/cifar10")
