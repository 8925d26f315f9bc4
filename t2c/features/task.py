"""`ShardTask`: the work of computing shards, split into steps an executor can overlap.

An image that cannot be decoded (`ImageDecodeError`) is skipped: it gets no feature row and is
recorded with its reason, so its shard still covers a fixed range of samples. With
`strict=True` the first such image stops the extraction instead. Other errors (a missing file,
a read error, a failing encoder) always stop it, because they may not repeat in the next run.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from t2c.data.base import Split
from t2c.data.images import ImageDecodeError
from t2c.encoders.base import Encoder
from t2c.encoders.pixels import to_pixels
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ShapeError
from t2c.features.manifest import SkippedSample

log = logging.getLogger("t2c.features.task")

STRICT_HINT = "--strict (strict=True) stops at the first image that cannot be decoded; run without it to skip such images"


@dataclass
class PreparedBatch:
    """One decoded and preprocessed batch.

    `keys` name the decoded samples, in split order, and `pixels` is their model input (None when
    every sample of the batch was skipped). `skipped` lists the samples that could not be decoded.
    """

    keys: list[str]
    pixels: np.ndarray | None
    skipped: list[SkippedSample] = field(default_factory=list)


@dataclass
class ShardOutput:
    """The computed content of one shard: decoded keys, their (len(keys), dim) features, skipped samples."""

    keys: list[str]
    features: np.ndarray
    skipped: list[SkippedSample]


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
    strict: bool = False
    images_done: int = 0

    def batches(self, samples: range) -> list[range]:
        """Split a shard's sample range into batch ranges that start at the shard's start."""
        return [
            range(start, min(start + self.batch_size, samples.stop))
            for start in range(samples.start, samples.stop, self.batch_size)
        ]

    def prepare(self, batch: range) -> PreparedBatch:
        """Decode and preprocess one batch, skipping images that cannot be decoded.

        Raises:
            ImageDecodeError: an image cannot be decoded and `strict` is set.
        """
        keys = []
        images = []
        skipped = []
        for index in batch:
            key = self.split.keys[index]
            try:
                image = self.split.load(index)
            except ImageDecodeError as error:
                if self.strict:
                    raise ImageDecodeError(error.path, error.reason, f"{error.detail}; {STRICT_HINT}") from None
                log.debug("skipping sample %s: %s", key, error)
                skipped.append(SkippedSample(index=index, key=key, reason=error.reason, detail=error.detail))
                continue
            keys.append(key)
            images.append(image)

        pixels = to_pixels(images, self.preprocess) if images else None
        return PreparedBatch(keys, pixels, skipped)

    def encode(self, prepared: PreparedBatch) -> np.ndarray:
        """Run the encoder on one prepared batch and report its size to `progress`.

        Returns:
            (len(prepared.keys), dim) features in encoder space; no rows when every image was skipped.
        """
        batch_size = len(prepared.keys) + len(prepared.skipped)
        if prepared.pixels is None:
            features = np.empty((0, self.encoder.dim), dtype=np.float32)
        else:
            features = np.asarray(self.encoder.encode(prepared.pixels))

        expected = (len(prepared.keys), self.encoder.dim)
        if features.shape != expected:
            raise ShapeError(
                f"encoder {self.encoder.id} returned features of shape {features.shape} for "
                f"{len(prepared.keys)} images, expected {expected}; check the encoder's `dim` and its `encode`"
            )

        # Skipped images count as done, so a progress bar still reaches its total.
        self.images_done += len(prepared.keys)
        if self.progress is not None:
            self.progress(batch_size)
        return features

    def compute(self, samples: range) -> ShardOutput:
        """Compute one shard batch by batch without overlap."""
        keys: list[str] = []
        parts = [np.empty((0, self.encoder.dim), dtype=np.float32)]
        skipped: list[SkippedSample] = []
        for batch in self.batches(samples):
            prepared = self.prepare(batch)
            parts.append(self.encode(prepared))
            keys.extend(prepared.keys)
            skipped.extend(prepared.skipped)
        return ShardOutput(keys, np.concatenate(parts), skipped)
