"""Executors: what computes and writes the missing shards of a feature-store entry.

The interface is one method, `run_shards(entry, shard_indices, task)`. For every index the
executor computes the shard with `task` (`task.compute(range)`, or batch by batch with
`task.prepare` and `task.encode`) and records it with
`entry.write_shard(index, keys, features, skipped)`, where `skipped` lists the samples whose
images could not be decoded. Shards may run in any order and in any process that
can reach `entry.path`. `LocalExecutor` runs in this process; a distributed executor spreads the
indices over workers that each do the same.
"""

import logging
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from t2c.errors import ConfigError
from t2c.features.entry import FeatureEntry
from t2c.features.manifest import SkippedSample
from t2c.features.task import ShardTask

log = logging.getLogger("t2c.features.executors")

MAX_DEFAULT_WORKERS = 8


def positive_int(name: str, value: int | str | None, default: int) -> int:
    """Parse an executor option (an int, or a string from `--executor-option KEY=VALUE`) that must be >= 1."""
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1:
        raise ConfigError(f"executor option {name} must be a positive integer, got {value!r}")
    return number


class Executor(ABC):
    """Computes and writes shards of a feature-store entry."""

    name: str

    @abstractmethod
    def run_shards(self, entry: FeatureEntry, shard_indices: list[int], task: ShardTask) -> None:
        """Compute shards `shard_indices` of `entry` with `task` and write each with `entry.write_shard`."""


@dataclass(frozen=True)
class PlannedBatch:
    """One batch of one shard, in the order the executor encodes them."""

    shard: int
    batch: range
    last_of_shard: bool


class LocalExecutor(Executor):
    """Extracts in this process, decoding upcoming batches in threads while the model runs.

    Args:
        num_workers: threads that decode and preprocess images; default min(8, CPU count).
        prefetch_batches: batches decoded ahead of the model; default num_workers + 1.
    """

    name = "local"

    def __init__(self, num_workers: int | str | None = None, prefetch_batches: int | str | None = None, **unknown):
        if unknown:
            raise ConfigError(
                f"unknown option(s) {sorted(unknown)} for the local executor; it takes num_workers and prefetch_batches"
            )
        default_workers = min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)
        self.num_workers = positive_int("num_workers", num_workers, default_workers)
        self.prefetch_batches = positive_int("prefetch_batches", prefetch_batches, self.num_workers + 1)

    def __repr__(self) -> str:
        return f"LocalExecutor(num_workers={self.num_workers}, prefetch_batches={self.prefetch_batches})"

    def plan(self, entry: FeatureEntry, shard_indices: list[int], task: ShardTask) -> Iterator[PlannedBatch]:
        """Yield the batches of every shard still missing when its first batch is scheduled.

        Re-reading the manifest per shard lets a process skip shards that another process
        extracting the same entry has completed meanwhile.
        """
        for index in shard_indices:
            if index in entry.complete_shards():
                log.debug("shard %d of %s completed by another process; skipped", index, entry.path.name)
                continue

            batches = task.batches(entry.manifest.shard_range(index))
            for position, batch in enumerate(batches):
                yield PlannedBatch(index, batch, last_of_shard=position == len(batches) - 1)

    def run_shards(self, entry: FeatureEntry, shard_indices: list[int], task: ShardTask) -> None:
        """Encode the shards in order while worker threads prepare the next batches.

        A writer thread stores each finished shard while the model encodes the next one. At most
        one shard waits to be written, so memory stays bounded.
        """
        planned = self.plan(entry, shard_indices, task)
        decoders = ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="t2c-decode")
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="t2c-write")
        in_flight: deque[tuple[PlannedBatch, Future]] = deque()
        pending_write: Future | None = None

        def schedule_next() -> None:
            item = next(planned, None)
            if item is not None:
                in_flight.append((item, decoders.submit(task.prepare, item.batch)))

        try:
            for _ in range(self.prefetch_batches):
                schedule_next()

            shard_keys: list[str] = []
            shard_parts: list[np.ndarray] = []
            shard_skipped: list[SkippedSample] = []
            while in_flight:
                item, future = in_flight.popleft()
                schedule_next()

                prepared = future.result()
                shard_parts.append(task.encode(prepared))
                shard_keys.extend(prepared.keys)
                shard_skipped.extend(prepared.skipped)

                if item.last_of_shard:
                    if pending_write is not None:
                        pending_write.result()
                    features = np.concatenate(shard_parts)
                    pending_write = writer.submit(entry.write_shard, item.shard, shard_keys, features, shard_skipped)
                    shard_keys, shard_parts, shard_skipped = [], [], []

            if pending_write is not None:
                pending_write.result()
        finally:
            decoders.shutdown(wait=True, cancel_futures=True)
            writer.shutdown(wait=True)
