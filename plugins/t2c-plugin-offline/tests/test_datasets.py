"""The packaged data sets: sizes, labels, class names, keys, image modes and errors."""

import gzip

import numpy as np
import pytest

from t2c.errors import DataError, NotFoundError

from t2c_plugin_offline.datasets import fashion_mnist
from t2c_plugin_offline.datasets.digits import SklearnDigits
from t2c_plugin_offline.datasets.fashion_mnist import FashionMNIST
from t2c_plugin_offline.datasets.idx import read_idx
from t2c_plugin_offline.datasets.photos import SkimagePhotos


@pytest.fixture(scope="module")
def fashion():
    if not fashion_mnist.split_files(fashion_mnist.data_dir(), "test")[0].is_file():
        pytest.skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
    return FashionMNIST()


def write_idx(path, array: np.ndarray, type_code: int = 0x08, truncate: int = 0) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    with gzip.open(path, "wb") as file:
        file.write(data[: len(data) - truncate])


@pytest.mark.parametrize("split, size", [("train", 60_000), ("test", 10_000)])
def test_fashion_mnist_sizes_and_labels(fashion, split, size):
    data = fashion.split(split)

    assert len(data) == size
    assert data.labels.shape == (size,)
    assert data.labels.dtype == np.int64
    assert np.bincount(data.labels).tolist() == [size // 10] * 10
    assert data.keys[42] == f"{split}/00042"


def test_fashion_mnist_images(fashion):
    image = fashion.split("test").load(0)

    assert image.mode == "L"
    assert image.size == (28, 28)
    # White on black: the border is dark.
    pixels = np.asarray(image)
    assert pixels[0].mean() < 30
    assert pixels.max() > 200


def test_fashion_mnist_metadata(fashion):
    assert fashion.id == "fashion-mnist"
    assert fashion.classnames[0] == "t-shirt"
    assert fashion.classnames[9] == "ankle boot"
    assert len(fashion.classnames) == 10
    assert all(template.count("{}") == 1 for template in fashion.templates)
    assert fashion.preprocess_overrides == {"grayscale_to_rgb": True, "invert": True}
    assert (fashion.fit_split, fashion.eval_split) == ("train", "test")


def test_fashion_mnist_first_label_is_ankle_boot(fashion):
    # The first training image of Fashion-MNIST is an ankle boot (label 9).
    assert fashion.split("train").labels[0] == 9


def test_fashion_mnist_missing_names_apt_get(tmp_path, monkeypatch):
    monkeypatch.setenv("T2C_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist") as error:
        FashionMNIST()
    assert "apt-get update" in str(error.value)
    assert "T2C_FASHION_MNIST_DIR" in str(error.value)


def test_fashion_mnist_from_env_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    monkeypatch.setenv("T2C_FASHION_MNIST_DIR", str(tmp_path))

    data = FashionMNIST()

    assert len(data.split("train")) == 6
    assert data.split("test").labels.tolist() == [0, 1, 2, 3]


def test_fashion_mnist_count_mismatch(tmp_path, monkeypatch):
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", np.zeros((3, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(2, dtype=np.uint8))
    monkeypatch.setenv("T2C_FASHION_MNIST_DIR", str(tmp_path))

    with pytest.raises(DataError, match="disagree"):
        FashionMNIST().split("train")


def test_fashion_mnist_unknown_split(fashion):
    with pytest.raises(NotFoundError, match="train, test"):
        fashion.split("validation")


def test_idx_round_trip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


def test_idx_big_endian_int32(tmp_path):
    array = np.array([1, -2, 70_000], dtype=">i4")
    write_idx(tmp_path / "a.gz", array, type_code=0x0C)
    assert read_idx(tmp_path / "a.gz").tolist() == [1, -2, 70_000]


def test_idx_truncated(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((2, 28, 28), dtype=np.uint8), truncate=10)
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "a.gz")


def test_idx_bad_header(tmp_path):
    with gzip.open(tmp_path / "a.gz", "wb") as file:
        file.write(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "a.gz")


def test_idx_not_gzip(tmp_path):
    (tmp_path / "a.gz").write_bytes(b"plain bytes")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "a.gz")


def test_digits_split_sizes():
    digits = SklearnDigits()
    train, test = digits.split("train"), digits.split("test")

    assert (len(train), len(test)) == (1198, 599)
    assert set(train.keys).isdisjoint(test.keys)
    assert test.keys[0] == "test/00002"
    assert set(train.labels.tolist()) == set(range(10))
    assert set(test.labels.tolist()) == set(range(10))


def test_digits_split_is_deterministic():
    first = SklearnDigits().split("test")
    second = SklearnDigits().split("test")
    assert first.keys == second.keys
    np.testing.assert_array_equal(first.labels, second.labels)


def test_digits_images():
    digits = SklearnDigits()
    train = digits.split("train")
    image = train.load(0)

    assert image.mode == "L"
    assert image.size == (8, 8)
    # Values 0-16 are scaled to 0-255.
    assert max(np.asarray(train.load(i)).max() for i in range(50)) == 255
    assert digits.classnames == [str(digit) for digit in range(10)]


def test_photos_split_aliases():
    photos = SkimagePhotos()
    assert photos.split("fit") is photos.split("all")
    assert photos.split("eval") is photos.split("all")


def test_photos_classes():
    photos = SkimagePhotos()
    split = photos.split("all")

    assert len(split) == len(photos.classnames) == 17
    assert split.labels.tolist() == list(range(17))
    index = split.keys.index("all/chelsea")
    assert photos.classnames[split.labels[index]] == "cat"
    assert len(set(photos.classnames)) == 17


def test_photos_modes():
    split = SkimagePhotos().split("all")
    modes = {key: split.load(i).mode for i, key in enumerate(split.keys)}

    assert modes["all/chelsea"] == "RGB"
    assert modes["all/camera"] == "L"
    assert modes["all/horse"] == "L"


def test_photos_unknown_split():
    with pytest.raises(NotFoundError, match="all"):
        SkimagePhotos().split("test")


def test_load_out_of_range():
    with pytest.raises(NotFoundError, match="out of range"):
        SklearnDigits().split("test").load(599)
