"""`ExampleShapes`: synthetic images of coloured circles, squares and triangles.

Every image is drawn on demand from a seed made of the split and the index, so the data set
needs no files and is identical on every machine.
"""

import numpy as np
from PIL import Image, ImageDraw

from t2c.data.base import Dataset, Split
from t2c.errors import ConfigError, NotFoundError

CLASSNAMES = ["circle", "square", "triangle"]
SPLIT_SIZES = {"train": 300, "test": 90}
SPLIT_SEEDS = {"train": 0, "test": 1}


def draw_shape(label: int, random: np.random.RandomState, image_size: int) -> Image.Image:
    """Draw one shape of class `label` in a random colour, size and place on a random background."""
    background = tuple(int(value) for value in random.randint(160, 256, size=3))
    colour = tuple(int(value) for value in random.randint(0, 140, size=3))
    radius = random.uniform(0.18, 0.32) * image_size
    center_x, center_y = random.uniform(radius, image_size - radius, size=2)

    image = Image.new("RGB", (image_size, image_size), background)
    draw = ImageDraw.Draw(image)
    box = (center_x - radius, center_y - radius, center_x + radius, center_y + radius)
    if CLASSNAMES[label] == "circle":
        draw.ellipse(box, fill=colour)
    elif CLASSNAMES[label] == "square":
        draw.rectangle(box, fill=colour)
    else:
        top = (center_x, center_y - radius)
        left = (center_x - radius, center_y + radius)
        right = (center_x + radius, center_y + radius)
        draw.polygon([top, left, right], fill=colour)
    return image


class ShapesSplit(Split):
    """One split of `ExampleShapes`: keys "train/00012", labels cycling circle, square, triangle."""

    def __init__(self, name: str, image_size: int) -> None:
        size = SPLIT_SIZES[name]
        self.name = name
        self.image_size = image_size
        self.keys = [f"{name}/{index:05d}" for index in range(size)]
        self.labels = np.arange(size, dtype=np.int64) % len(CLASSNAMES)

    def load(self, index: int) -> Image.Image:
        """Draw sample `index` as an RGB image of `image_size` x `image_size` pixels."""
        if not 0 <= index < len(self.keys):
            raise NotFoundError(f"sample index {index} is out of range for example-shapes/{self.name}, which has {len(self.keys)} samples")

        random = np.random.RandomState([SPLIT_SEEDS[self.name], index])
        return draw_shape(int(self.labels[index]), random, self.image_size)


class ExampleShapes(Dataset):
    """The data set "example-shapes": 3 classes, train 300 and test 90 images."""

    id = "example-shapes"
    classnames = CLASSNAMES
    templates = ["a drawing of a {}.", "a {} shape."]
    splits = ("train", "test")

    def __init__(self, image_size: int = 64) -> None:
        if not isinstance(image_size, int) or image_size < 16:
            raise ConfigError(f"example-shapes image_size {image_size!r} is invalid; expected an integer of at least 16 pixels")
        self.image_size = image_size

    def split(self, name: str) -> ShapesSplit:
        """Return split "train" or "test"."""
        if name not in SPLIT_SIZES:
            raise NotFoundError(f"example-shapes has no split {name!r}; available: {', '.join(SPLIT_SIZES)}")
        return ShapesSplit(name, self.image_size)
