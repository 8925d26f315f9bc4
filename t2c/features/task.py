"""`ShardTask`: the work of computing shards, split into steps an executor can overlap."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from t2c.data.base import Split
from t2c.encoders.base import Encoder
from t2c.encoders.pixels import to_pixels
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ShapeError

log = logging.getLogger("t2c.features.task")


@dataclass
class ShardTask:
    """Everything needed to compute the features of any shard of one split.

    Batches start at the shard's first sample and hold `batch_size` samples (the last one fewer),
    so a shard's batches, and with a deterministic encoder its bytes, are the same in every run.
    `prepare` may run in worker threads, so `split.load` must be safe to call from several
    threads; `encode` runs the model and belongs to one thread.
    """

    encoder: Encoder
    split: Split
    preprocess: PreprocessConfig
    batch_size: int = 32
    progress: Callable[[int], None] | None = None
    images_done: int = 0

    def batches(self, samples: range) -> list[range]:
        """Split a shard's sample range into batch ranges that start at the shard's start."""
        return [
            range(start, min(start + self.batch_size, samples.stop))
            for start in range(samples.start, samples.stop, self.batch_size)
        ]

    def prepare(self, batch: range) -> tuple[list[str], np.ndarray]:
        """Decode and preprocess one batch.

        Returns:
            (keys, pixels): the batch's sample keys and its model input, float32 laid out as
            `preprocess.layout` sets.
        """
        keys = [self.split.keys[index] for index in batch]
        images = [self.split.load(index) for index in batch]
        return keys, to_pixels(images, self.preprocess)

    def encode(self, keys: list[str], pixels: np.ndarray) -> np.ndarray:
        """Run the encoder on one prepared batch and report its size to `progress`.

        Returns:
            (len(keys), dim) features in encoder space.
        """
        features = np.asarray(self.encoder.encode(pixels))
        expected = (len(keys), self.encoder.dim)
        if features.shape != expected:
            raise ShapeError(
                f"encoder {self.encoder.id} returned features of shape {features.shape} for "
                f"{len(keys)} images, expected {expected}; check the encoder's `dim` and its `encode`"
            )

        self.images_done += len(keys)
        if self.progress is not None:
            self.progress(len(keys))
        return features

    def compute(self, samples: range) -> tuple[list[str], np.ndarray]:
        """Compute one shard batch by batch without overlap; return (keys, (n, dim) features)."""
        keys: list[str] = []
        parts = []
        for batch in self.batches(samples):
            batch_keys, pixels = self.prepare(batch)
            parts.append(self.encode(batch_keys, pixels))
            keys.extend(batch_keys)
        return keys, np.concatenate(parts)
