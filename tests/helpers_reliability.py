"""A numpy encoder and a data set with undecodable images, for the reliability tests.

Run as a script, it is the extraction process that tests/test_reliability_kill.py kills:

    python tests/helpers_reliability.py --root DIR [--pause-at MARKER:N] [--delay S]

It extracts a synthetic split, some of whose images cannot be decoded, with a numpy encoder
(no torch import, so a process starts in about a second). It prints MARKER lines to stderr
around the store's file writes and, with --pause-at, stops at the N-th MARKER so the test
kills it exactly there:
- shard-temp-written: a shard's temporary file is written, not yet fsynced or renamed;
- shard-renamed: the shard file has its final name, the manifest does not list it yet;
- manifest-temp-written: the new manifest's temporary file is written, not yet renamed;
- manifest-renamed: the new manifest is in place, the entry lock is still held.
"""

import argparse
import io
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.data.images import open_image
from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import NotFoundError
from t2c.features import FeatureStore, LocalExecutor, extract_features
from t2c.features.manifest import MANIFEST_NAME

SAMPLES = 720
SHARD_SIZE = 24
NUM_SHARDS = SAMPLES // SHARD_SIZE
BATCH_SIZE = 8
UNDECODABLE = {5: "truncated", 77: "zero-byte", 150: "non-image", 151: "truncated", 300: "corrupt", 701: "truncated"}
MARKERS = ("shard-temp-written", "shard-renamed", "manifest-temp-written", "manifest-renamed")


class ProjectionEncoder(Encoder):
    """A seeded random projection of 16 x 16 pixels to `dim` features, deterministic in every process.

    `delay_s` sleeps after each batch so that a kill after a random delay lands mid-extraction.
    """

    backend = "numpy"

    def __init__(self, delay_s: float = 0.0, seed: int = 0, dim: int = 12):
        self.id = f"test:projection-{seed}"
        self.dim = dim
        self.weights_sha256 = f"{seed:064x}"
        self.preprocess = PreprocessConfig(resize=16, crop=16, interpolation="bilinear")
        self.weights = np.random.default_rng(seed).standard_normal((3 * 16 * 16, dim)).astype(np.float32)
        self.delay_s = delay_s
        self.images_encoded = 0

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        features = pixels.reshape(len(pixels), -1) @ self.weights
        self.images_encoded += len(pixels)
        if self.delay_s:
            time.sleep(self.delay_s)
        return features


def image_bytes(index: int, undecodable: dict[int, str] = UNDECODABLE) -> bytes:
    """Return the PNG of sample `index`, or the damaged file `undecodable` names, the same in every process."""
    pixels = np.random.default_rng(index).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    data = buffer.getvalue()

    damage = undecodable.get(index)
    if damage == "truncated":
        return data[: len(data) // 2]
    if damage == "zero-byte":
        return b""
    if damage == "non-image":
        return b"key,label\nsample,3\n"
    if damage == "corrupt":
        return data[:16] + bytes(byte ^ 0xFF for byte in data[16:60]) + data[60:]
    return data


class BytesSplit(Split):
    """`size` images decoded from bytes with `open_image`, keys "train/00000", ...

    `undecodable` maps sample positions to the damage of their file (see `image_bytes`).
    """

    def __init__(self, size: int = SAMPLES, undecodable: dict[int, str] = UNDECODABLE):
        self.keys = [f"train/{index:05d}" for index in range(size)]
        self.labels = None
        self.undecodable = undecodable

    def load(self, index: int) -> Image.Image:
        return open_image(image_bytes(index, self.undecodable), name=self.keys[index])


class BytesDataset(Dataset):
    """A data set with one split "train" (see `BytesSplit`)."""

    id = "test:bytes"
    splits = ("train",)

    def __init__(self, size: int = SAMPLES, undecodable: dict[int, str] = UNDECODABLE):
        self.train = BytesSplit(size, undecodable)

    def split(self, name: str) -> Split:
        if name != "train":
            raise NotFoundError(f"split {name!r} not found; available: train")
        return self.train


def install_markers(pause_at: str | None) -> None:
    """Wrap os.fsync and os.replace to print markers, and stop at `pause_at` ("MARKER:N")."""
    target, _, occurrence = (pause_at or "::").partition(":")
    seen = {marker: 0 for marker in MARKERS}
    real_fsync = os.fsync
    real_replace = os.replace

    def mark(marker: str) -> None:
        seen[marker] += 1
        print(f"MARKER {marker} {seen[marker]}", file=sys.stderr, flush=True)
        if marker == target and seen[marker] == int(occurrence):
            print("PAUSED", file=sys.stderr, flush=True)
            time.sleep(120)

    def fsync(descriptor):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{descriptor}"))
        if name.startswith("shard-") and ".tmp-" in name:
            mark("shard-temp-written")
        elif name.startswith(MANIFEST_NAME + ".tmp-"):
            mark("manifest-temp-written")
        real_fsync(descriptor)

    def replace(source, destination):
        real_replace(source, destination)
        name = os.path.basename(destination)
        if name.startswith("shard-"):
            mark("shard-renamed")
        elif name == MANIFEST_NAME:
            mark("manifest-renamed")

    os.fsync = fsync
    os.replace = replace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--pause-at", default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    install_markers(args.pause_at)
    encoder = ProjectionEncoder(delay_s=args.delay)
    print("STARTED", file=sys.stderr, flush=True)
    entry = extract_features(
        encoder,
        BytesDataset(),
        "train",
        store=FeatureStore(args.root),
        batch_size=BATCH_SIZE,
        shard_size=SHARD_SIZE,
        executor=LocalExecutor(num_workers=2),
    )
    print(json.dumps({"entry": str(entry.path), "images_encoded": encoder.images_encoded}))


if __name__ == "__main__":
    main()
