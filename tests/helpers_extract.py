"""A tiny deterministic torch encoder and a synthetic data set for extraction tests.

Run as a script, it extracts features into a feature store and prints a JSON summary; the
kill and concurrency tests start it in subprocesses:

    python tests/helpers_extract.py --root DIR [--samples 600] [--shard-size 64] [--delay 0.05]
"""

import argparse
import hashlib
import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save

from t2c.data.base import Dataset, Split
from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import NotFoundError
from t2c.features.executors import LocalExecutor
from t2c.features.extract import extract_features
from t2c.features.store import FeatureStore


class TinyConvEncoder(Encoder):
    """A seeded two-layer conv net: (n, 3, 32, 32) pixels -> (n, 16) features.

    `delay_s` sleeps after each batch, so a test can kill a run between shards; it does not
    change the features. `images_encoded` counts the images passed to `encode`.
    """

    id = "test:tiny-conv"
    dim = 16
    backend = "torch"

    def __init__(self, seed: int = 0, delay_s: float = 0.0, width: int = 8, size: int = 32):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(
            torch.nn.Conv2d(3, width, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(width, self.dim, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        ).eval()
        self.preprocess = PreprocessConfig(resize=size, crop=size, interpolation="bilinear")
        self.weights_sha256 = hashlib.sha256(save(self.model.state_dict())).hexdigest()
        self.delay_s = delay_s
        self.images_encoded = 0

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            features = self.model(torch.from_numpy(pixels)).numpy()
        self.images_encoded += len(pixels)
        if self.delay_s:
            time.sleep(self.delay_s)
        return features


def synthetic_image(index: int) -> Image.Image:
    """Return image `index`: 40 x 48 RGB noise over a gradient, the same in every process."""
    rng = np.random.default_rng(index)
    gradient = np.linspace(0, 200, 48, dtype=np.float32)[None, :, None]
    noise = rng.integers(0, 56, (40, 48, 3)).astype(np.float32)
    return Image.fromarray((gradient + noise).astype(np.uint8))


class SyntheticSplit(Split):
    """`size` generated images with keys "<name>/00000", ...

    Each image is PNG-encoded once and decoded on every load, as a file-backed split would be.
    """

    def __init__(self, name: str, size: int):
        self.keys = [f"{name}/{index:05d}" for index in range(size)]
        self.labels = np.arange(size, dtype=np.int64) % 10
        self.encoded: dict[int, bytes] = {}

    def load(self, index: int) -> Image.Image:
        if index not in self.encoded:
            buffer = io.BytesIO()
            synthetic_image(index).save(buffer, format="PNG")
            self.encoded[index] = buffer.getvalue()
        return Image.open(io.BytesIO(self.encoded[index])).convert("RGB")


class SyntheticDataset(Dataset):
    """A data set with one split "train" of `size` generated images."""

    splits = ("train",)

    def __init__(self, size: int = 600, dataset_id: str = "synthetic:noise", overrides: dict | None = None):
        self.id = dataset_id
        self.preprocess_overrides = overrides or {}
        self.train = SyntheticSplit("train", size)

    def split(self, name: str) -> Split:
        if name != "train":
            raise NotFoundError(f"split {name!r} not found; available: train")
        return self.train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    torch.set_num_threads(1)
    encoder = TinyConvEncoder(delay_s=args.delay)
    entry = extract_features(
        encoder,
        SyntheticDataset(args.samples),
        "train",
        store=FeatureStore(args.root),
        limit=args.limit,
        batch_size=args.batch_size,
        shard_size=args.shard_size,
        executor=LocalExecutor(num_workers=2),
    )
    print(json.dumps({"entry": str(entry.path), "images_encoded": encoder.images_encoded}))


if __name__ == "__main__":
    main()
