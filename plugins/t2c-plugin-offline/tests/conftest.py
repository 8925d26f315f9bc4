"""Shared fixtures: real photos from scikit-image and a few Fashion-MNIST images."""

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    """scikit-image's photo of Chelsea the cat, 451 x 300 RGB."""
    import skimage.data

    return Image.fromarray(skimage.data.chelsea())


@pytest.fixture(scope="session")
def photos(chelsea) -> list[Image.Image]:
    """Four real photos of different subjects: cat, astronaut, coffee cup, rocket."""
    import skimage.data

    others = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.rocket()]
    return [chelsea] + [Image.fromarray(array) for array in others]


@pytest.fixture(scope="session")
def fashion_images() -> list[Image.Image]:
    """The first three Fashion-MNIST test images (mode "L", 28 x 28)."""
    from t2c_plugin_offline.datasets.fashion_mnist import data_dir, split_files
    from t2c_plugin_offline.datasets.idx import read_idx

    images_path, _ = split_files(data_dir(), "test")
    if not images_path.is_file():
        pytest.skip(f"Fashion-MNIST not installed at {data_dir()} (Debian package dataset-fashion-mnist)")
    return [Image.fromarray(image) for image in read_idx(images_path)[:3]]

