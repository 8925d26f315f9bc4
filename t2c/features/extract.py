"""Feature extraction: fill the feature store with an encoder's features of one split."""

import logging
import time
from collections.abc import Callable

from t2c.data.base import Dataset
from t2c.data.images import ImageDecodeError
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.features.entry import FeatureEntry
from t2c.features.executors import Executor, LocalExecutor
from t2c.features.key import FeatureKey
from t2c.features.manifest import MANIFEST_NAME
from t2c.features.skipped import log_skipped
from t2c.features.store import DEFAULT_SHARD_SIZE, FeatureStore
from t2c.features.task import ShardTask

log = logging.getLogger("t2c.features.extract")


def extract_features(
    encoder: Encoder,
    dataset: Dataset,
    split: str,
    *,
    store: FeatureStore | None = None,
    limit: int | None = None,
    batch_size: int = 32,
    shard_size: int = DEFAULT_SHARD_SIZE,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    strict: bool = False,
) -> FeatureEntry:
    """Extract `encoder`'s features of the first `limit` samples of `dataset`'s split `split`.

    Only shards missing from the store are computed, and always whole shards, so the entry may
    hold more than `limit` samples. Batches start at each shard's start, so a resumed or repeated
    run writes byte-identical shards with a deterministic encoder.

    Images that cannot be decoded (`ImageDecodeError`: empty, truncated, corrupt, not an image,
    a decompression bomb) are skipped: the manifest records each with its reason, reading
    leaves them out, and a warning counts them by reason. Decoding is deterministic, so every
    encoder skips the same samples of a split.

    Args:
        store: the feature store; default `FeatureStore()` under the cache root.
        limit: samples needed from the start of the split; None means the whole split.
        batch_size: images per forward pass.
        shard_size: samples per shard of a new entry; an existing entry keeps its recorded size.
        executor: what computes the shards; default `LocalExecutor()`.
        progress: called with the number of images of each batch just encoded. When it also has
            a `set_total(n)` method, that is called first with the number of images to compute.
        strict: raise at the first image that cannot be decoded instead of skipping it. This
            includes images that an earlier run skipped in shards now cached.

    Raises:
        ImageDecodeError: with `strict`, naming the first image that cannot be decoded.

    Returns:
        The entry, whose shards cover the first `limit` samples; read it with
        `entry.iter_batches(limit)` or `entry.load(limit)`.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if executor is None:
        executor = LocalExecutor()
    if not isinstance(executor, Executor):
        raise ConfigError(f"executor must be an Executor such as LocalExecutor(), got {type(executor).__name__}")

    samples = dataset.split(split)
    preprocess = encoder.preprocess.merged(dataset.preprocess_overrides)
    key = FeatureKey.for_encoder(encoder, dataset.id, split, preprocess)
    store = store if store is not None else FeatureStore()
    entry = store.open_or_create(
        key, dim=encoder.dim, split_size=len(samples), shard_size=shard_size, preprocess=preprocess
    )
    entry.check_keys(samples.keys)

    needed = entry.shards_for(limit)
    missing = entry.missing_shards(limit)
    images = sum(len(entry.manifest.shard_range(index)) for index in missing)
    log.info(
        "%s on %s split %s: %d of %d shards cached (hits), %d to compute (misses, %d images)",
        encoder.id,
        dataset.id,
        split,
        len(needed) - len(missing),
        len(needed),
        len(missing),
        images,
    )

    if missing:
        set_total = getattr(progress, "set_total", None)
        if callable(set_total):
            set_total(images)

        task = ShardTask(encoder, samples, preprocess, batch_size=batch_size, progress=progress, strict=strict)
        started = time.perf_counter()
        executor.run_shards(entry, missing, task)
        elapsed = time.perf_counter() - started
        log.info(
            "extracted %d images in %.1f s (%.1f images/s) into %s",
            task.images_done,
            elapsed,
            task.images_done / max(elapsed, 1e-9),
            entry.path,
        )

    entry.refresh()
    stop = entry.resolve_limit(limit)
    entry.require_complete(stop)
    report_skipped(entry, stop, strict, f"{encoder.id} on {dataset.id} split {split}")
    return entry


def report_skipped(entry: FeatureEntry, stop: int, strict: bool, description: str) -> None:
    """Warn about the skipped samples among the first `stop`; with `strict`, raise for the first one.

    Shards cached by an earlier run without `strict` may list skipped samples, which is why
    `strict` is checked here as well as during decoding.
    """
    skipped = entry.skipped_samples(stop)
    if skipped and strict:
        first = skipped[0]
        raise ImageDecodeError(
            first.key,
            first.reason,
            f"{first.detail}; an earlier run without --strict recorded it as skipped in {entry.path / MANIFEST_NAME}, "
            "so after fixing the file delete that entry (`t2c cache prune`) to decode it again",
        )
    log_skipped(skipped, stop, description, entry.path / MANIFEST_NAME)
