"""Aligner statistics of two feature entries, summed shard by shard and saved next to the entries.

`PairedStats` sums the `SufficientStats` of the first `limit` samples of an encoder entry (X) and
a target entry (Y). `tap(executor, ...)` wraps an executor so that every shard it writes is added
as it completes, paired with the same shard of the other entry, while the features are still in
memory. `complete()` adds the shards the tap did not see, reading them from the store. It saves the
sums as safetensors in the encoder entry's folder, so a later fit of the same pair and limit
loads them and only solves.
"""

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from t2c.aligners.stats import SufficientStats
from t2c.errors import FeatureStoreError
from t2c.features.atomic import write_atomic
from t2c.features.entry import FeatureEntry
from t2c.features.executors import Executor
from t2c.features.manifest import SkippedSample
from t2c.features.task import ShardTask

log = logging.getLogger("t2c.features.paired_stats")

STATS_PREFIX = "stats-"


def row_positions(samples: range, skipped: Sequence[SkippedSample]) -> np.ndarray:
    """Return the split positions of a shard's rows: its sample range minus the skipped samples, (rows,) int64."""
    gone = {sample.index for sample in skipped}
    return np.asarray([index for index in samples if index not in gone], dtype=np.int64)


class PairedStats:
    """Sufficient statistics of the first `limit` paired samples of `x_entry` and `y_entry`, added per shard.

    Args:
        x_entry: the encoder's entry; X rows are (p,) float32 in encoder space.
        y_entry: the target's entry of the same split; Y rows are (q,) float32 in target space.
        limit: samples from the start of the split the statistics cover.
        n_folds: cross-validation folds of the statistics.
    """

    def __init__(self, x_entry: FeatureEntry, y_entry: FeatureEntry, limit: int, n_folds: int = 5):
        if x_entry.shard_size != y_entry.shard_size:
            raise FeatureStoreError(
                f"entries {x_entry.path} and {y_entry.path} have shard sizes {x_entry.shard_size} and "
                f"{y_entry.shard_size}; paired statistics need the same size, so extract both with one shard size"
            )
        self.x_entry = x_entry
        self.y_entry = y_entry
        self.limit = limit
        self.n_folds = n_folds
        self.stats = SufficientStats(x_entry.dim, y_entry.dim, n_folds=n_folds)
        self.shards: set[int] = set()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The saved statistics: in the encoder entry's folder, named by target entry, limit and folds."""
        name = f"{self.y_entry.key.model_dump_json()}|{self.limit}|{self.n_folds}"
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return self.x_entry.path / f"{STATS_PREFIX}{digest}.safetensors"

    def needed_shards(self) -> list[int]:
        """Return the shards that hold the first `limit` samples."""
        return list(range(-(-self.limit // self.x_entry.shard_size)))

    def add_shard(self, index: int, keys: list[str], x: np.ndarray, y: np.ndarray, skipped: Sequence[SkippedSample]) -> None:
        """Add shard `index`: keys of its rows, X (rows, p) and Y (rows, q) float32, and its skipped samples."""
        if index in self.shards or index not in self.needed_shards():
            return

        positions = row_positions(self.x_entry.manifest.shard_range(index), skipped)
        keep = positions < self.limit
        with self._lock:
            if index in self.shards:
                return
            self.stats.update(x[keep], y[keep], keys=[key for key, kept in zip(keys, keep, strict=True) if kept])
            self.shards.add(index)

    def add_from_store(self, index: int) -> None:
        """Read shard `index` of both entries and add it; raise FeatureStoreError when their keys differ."""
        x_keys, x = self.x_entry.read_shard(index)
        y_keys, y = self.y_entry.read_shard(index)
        if x_keys != y_keys:
            raise FeatureStoreError(
                f"shard {index} of {self.x_entry.path} and of {self.y_entry.path} list different samples; "
                "run `t2c cache verify` and delete the damaged entry"
            )
        self.add_shard(index, x_keys, x, y, self.x_entry.manifest.records()[index].skipped)

    def load(self) -> bool:
        """Load statistics saved by an earlier run of this pair and limit; return whether there were any."""
        if not self.path.is_file():
            return False
        from safetensors.numpy import load_file

        try:
            self.stats = SufficientStats.from_arrays(load_file(str(self.path)))
        except Exception as error:  # noqa: BLE001 - a damaged file is recomputed, not trusted
            log.warning("ignoring unreadable statistics %s (%s); summing them again", self.path, error)
            return False
        self.shards = set(self.needed_shards())
        log.info("loaded aligner statistics of %d samples from %s", self.stats.n_samples, self.path)
        return True

    def complete(self, executor: Executor | None = None) -> SufficientStats:
        """Add every needed shard not added yet (with `executor.shard_stats` when it has one), save and return the sums."""
        self.x_entry.refresh()
        self.y_entry.refresh()
        remaining = [index for index in self.needed_shards() if index not in self.shards]
        if remaining:
            log.info("summing aligner statistics of %d shards from the feature store", len(remaining))
            shard_stats = getattr(executor, "shard_stats", None)
            if callable(shard_stats):
                self.stats = self.stats.merge(shard_stats(self, remaining))
                self.shards.update(remaining)
            else:
                for index in remaining:
                    self.add_from_store(index)

        self.save()
        return self.stats

    def save(self) -> None:
        """Write the sums atomically as safetensors next to the encoder entry's shards."""
        from safetensors.numpy import save

        write_atomic(self.path, save(self.stats.to_arrays()))
        log.debug("saved aligner statistics to %s", self.path)


class TappedEntry:
    """A target entry whose `write_shard` also adds the written shard, paired with the encoder entry's, to `PairedStats`.

    Everything else passes through to the entry.
    """

    def __init__(self, entry: FeatureEntry, paired: PairedStats):
        self._entry = entry
        self._paired = paired

    def __getattr__(self, name):
        return getattr(self._entry, name)

    def write_shard(self, index: int, keys: list[str], features: np.ndarray, skipped: Sequence[SkippedSample] = ()):
        record = self._entry.write_shard(index, keys, features, skipped)
        x_entry = self._paired.x_entry
        if index in x_entry.manifest.records() or index in x_entry.complete_shards():
            x_keys, x = x_entry.read_shard(index)
            if x_keys == list(keys):
                self._paired.add_shard(index, x_keys, x, np.asarray(features, dtype=np.float32), record.skipped)
        return record


class StatsTap(Executor):
    """Wraps the executor of the target extraction: each target shard it writes is added to paired statistics at once.

    `paired` is set when the executor runs (None when every target shard was cached).
    """

    def __init__(self, inner: Executor, x_entry: FeatureEntry, limit: int, n_folds: int = 5):
        self.inner = inner
        self.x_entry = x_entry
        self.limit = limit
        self.n_folds = n_folds
        self.paired: PairedStats | None = None
        self.name = getattr(inner, "name", type(inner).__name__)

    def run_shards(self, entry: FeatureEntry, shard_indices: list[int], task: ShardTask) -> None:
        self.paired = PairedStats(self.x_entry, entry, self.limit, self.n_folds)
        if self.paired.load():
            self.inner.run_shards(entry, shard_indices, task)
            return
        self.inner.run_shards(TappedEntry(entry, self.paired), shard_indices, task)
