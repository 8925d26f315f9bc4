"""`FeatureEntry`: one entry of the feature store, its shards and their checksums.

Shard i covers samples [i * shard_size, (i + 1) * shard_size) of the split. Samples whose images
cannot be decoded get no row, and the shard's manifest record lists them. A shard file is
written to a temporary file, fsynced and renamed. It counts as complete only once the manifest
lists it, so several processes can extract into one entry, and a killed run leaves no
half-written shard behind that readers would trust.
"""

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from t2c.errors import ConfigError, FeatureStoreError
from t2c.features.atomic import commit, remove_stray_temp_files, sha256_bytes, write_atomic, write_temp
from t2c.features.key import FeatureKey
from t2c.features.manifest import MANIFEST_NAME, Manifest, ShardRecord, SkippedSample, keys_digest, read_manifest
from t2c.features.shard import check_features, decode_shard, encode_shard, shard_file_name
from t2c.features.skipped import check_skipped, row_keys

log = logging.getLogger("t2c.features.entry")

DEFAULT_READ_BATCH_SIZE = 1024
LOCK_NAME = "manifest.lock"
LAST_USED_NAME = "last_used"
LOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class ShardProblem:
    """A damaged shard or entry found by `verify`: the file at fault and what is wrong with it."""

    path: Path
    problem: str


@contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold the lock that guards manifest updates of the entry in folder `path`.

    Raises FeatureStoreError when another process keeps it locked for more than LOCK_TIMEOUT_S.
    """
    lock = FileLock(path / LOCK_NAME, timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise FeatureStoreError(
            f"timed out after {LOCK_TIMEOUT_S} s waiting for the lock {lock.lock_file}; another "
            "t2c process holds it, so wait for that process or stop it"
        ) from None
    try:
        yield
    finally:
        lock.release()


def damaged_message(path: Path, problem: str, entry_path: Path) -> str:
    """Return the error text for a damaged shard, with the fix."""
    return (
        f"feature-store shard {path} is damaged: {problem}. Run `t2c cache verify` to list "
        f"damaged entries, then delete this entry ({entry_path}, or `t2c cache prune`) and extract again"
    )


class FeatureEntry:
    """One entry of the feature store: the features of one encoder on one split of one data set.

    `manifest` is a snapshot; methods that depend on other processes' progress re-read it.
    """

    def __init__(self, path: Path, manifest: Manifest):
        self.path = Path(path)
        self.manifest = manifest

    @classmethod
    def open(cls, path: Path) -> "FeatureEntry":
        """Open the entry in folder `path`, raising FeatureStoreError when its manifest is unusable."""
        return cls(path, read_manifest(Path(path) / MANIFEST_NAME))

    def __repr__(self) -> str:
        return f"FeatureEntry({str(self.path)!r})"

    @property
    def key(self) -> FeatureKey:
        return self.manifest.key

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def split_size(self) -> int:
        return self.manifest.split_size

    @property
    def shard_size(self) -> int:
        return self.manifest.shard_size

    @property
    def num_shards(self) -> int:
        return self.manifest.num_shards

    def refresh(self) -> Manifest:
        """Re-read the manifest from disk, picking up shards written by other processes."""
        self.manifest = read_manifest(self.path / MANIFEST_NAME)
        return self.manifest

    def touch(self) -> None:
        """Record now as the entry's last use; a read-only store keeps its old time."""
        try:
            (self.path / LAST_USED_NAME).touch()
        except OSError as error:
            log.debug("could not record the last use of %s: %s", self.path, error)

    def last_used(self) -> float:
        """Return the time of the last read or extraction, in seconds since the epoch."""
        for name in (LAST_USED_NAME, MANIFEST_NAME):
            try:
                return (self.path / name).stat().st_mtime
            except FileNotFoundError:
                continue
        return 0.0

    def size_on_disk(self) -> int:
        """Return the bytes of every file in the entry's folder."""
        return sum(path.stat().st_size for path in self.path.iterdir() if path.is_file())

    def resolve_limit(self, limit: int | None) -> int:
        """Return how many samples `limit` selects: None means the whole split; larger values clip."""
        if limit is None:
            return self.split_size
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"limit must be a non-negative integer or None (whole split), got {limit!r}")
        return min(limit, self.split_size)

    def shards_for(self, limit: int | None = None) -> list[int]:
        """Return the indices of the shards that cover the first `limit` samples (whole shards)."""
        stop = self.resolve_limit(limit)
        return list(range(-(-stop // self.shard_size)))

    def complete_shards(self) -> dict[int, ShardRecord]:
        """Return the complete shards by index, as the manifest on disk lists them now."""
        return self.refresh().records()

    def missing_shards(self, limit: int | None = None) -> list[int]:
        """Return the shards needed for the first `limit` samples that are not complete yet."""
        complete = self.complete_shards()
        return [index for index in self.shards_for(limit) if index not in complete]

    def num_samples(self) -> int:
        """Return the feature rows readable from the start: the complete shards before the first gap.

        Skipped samples have no rows, so they do not count.
        """
        complete = self.manifest.records()
        samples = 0
        for index in range(self.num_shards):
            if index not in complete:
                break
            samples += complete[index].rows
        return samples

    def skipped_samples(self, limit: int | None = None) -> list[SkippedSample]:
        """Return the samples among the first `limit` (None: all) that complete shards skipped, in split order."""
        stop = self.resolve_limit(limit)
        return [
            sample
            for record in self.manifest.shards
            for sample in record.skipped
            if sample.index < stop
        ]

    def row_positions(self, limit: int | None = None) -> np.ndarray:
        """Return the split positions of the rows that reading the first `limit` samples yields.

        Returns:
            (n,) int64, increasing; index a split's labels with it to pair them with the rows.
        """
        stop = self.resolve_limit(limit)
        self.require_complete(stop)
        keep = np.ones(stop, dtype=bool)
        keep[[sample.index for sample in self.skipped_samples(stop)]] = False
        return np.flatnonzero(keep).astype(np.int64)

    def count_rows(self, limit: int | None = None) -> int:
        """Return how many feature rows the first `limit` samples have: those samples minus the skipped ones."""
        stop = self.resolve_limit(limit)
        self.require_complete(stop)
        records = self.manifest.records()
        return sum(records[index].rows_before(stop) for index in self.shards_for(stop))

    def check_keys(self, keys: Sequence[str]) -> None:
        """Check that the complete shards hold the samples `keys` names (all keys of the split).

        Raises FeatureStoreError when the data set's samples changed since the shards were written.
        """
        if len(keys) != self.split_size:
            raise FeatureStoreError(
                f"feature-store entry {self.path} was extracted from {self.split_size} samples but "
                f"{self.key.dataset} split {self.key.split} now has {len(keys)}; the data set changed, "
                "so delete the entry (`t2c cache prune`) and extract again"
            )

        changed = []
        for record in self.manifest.shards:
            shard_keys = list(keys[record.start : record.start + record.count])
            skipped_match = all(shard_keys[sample.index - record.start] == sample.key for sample in record.skipped)
            if not skipped_match or keys_digest(row_keys(shard_keys, record)) != record.keys_sha256:
                changed.append(record.index)

        if changed:
            raise FeatureStoreError(
                f"feature-store entry {self.path} contains other samples than {self.key.dataset} split "
                f"{self.key.split} in shards {changed[:8]}; the data set changed, so delete the entry "
                "(`t2c cache prune`) and extract again"
            )

    def check_index(self, index: int) -> range:
        """Return the sample range of shard `index`, raising ConfigError when it is out of range."""
        if not 0 <= index < self.num_shards:
            raise ConfigError(f"shard index {index} is out of range; this entry has shards 0..{self.num_shards - 1}")
        return self.manifest.shard_range(index)

    def write_shard(
        self, index: int, keys: list[str], features: np.ndarray, skipped: Sequence[SkippedSample] = ()
    ) -> ShardRecord:
        """Write shard `index` and record it in the manifest.

        Args:
            keys: the sample keys of the decoded samples, in split order.
            features: (len(keys), dim) float32 in encoder space; NaN or infinity raises ShapeError.
            skipped: the shard's samples that could not be decoded; with `keys` they must make up
                the shard's whole sample range.

        Returns:
            The manifest record. When another process recorded the shard first, its record is kept
            and returned, and this process's file is discarded.
        """
        samples = self.check_index(index)
        skipped = check_skipped(index, samples, list(keys), skipped)
        features = check_features(list(keys), features, self.dim)

        data = encode_shard(list(keys), features)
        path = self.path / shard_file_name(index)
        record = ShardRecord(
            index=index,
            file=path.name,
            start=samples.start,
            count=len(samples),
            size=len(data),
            sha256=sha256_bytes(data),
            keys_sha256=keys_digest(list(keys)),
            skipped=skipped,
        )

        # The expensive write and fsync happen outside the lock. The rename and the manifest
        # update happen together under it, so a listed shard always matches its file.
        temporary = write_temp(path, data)
        try:
            with self.locked():
                manifest = self.refresh()
                existing = manifest.records().get(index)
                if existing is not None:
                    self.report_duplicate(existing, record)
                    return existing

                commit(temporary, path)
                self.manifest = manifest.with_shard(record)
                write_atomic(self.path / MANIFEST_NAME, self.manifest.to_bytes())
        finally:
            temporary.unlink(missing_ok=True)

        log.debug("wrote shard %d (%d samples, %d skipped) of %s", index, record.count, len(skipped), self.path.name)
        return record

    def report_duplicate(self, existing: ShardRecord, record: ShardRecord) -> None:
        """Log a shard that another process completed first, warning when its bytes differ."""
        if existing.sha256 == record.sha256:
            log.debug("shard %d of %s was already written by another process", record.index, self.path.name)
            return
        log.warning(
            "shard %d of %s was already written with different bytes (sha256 %s, now %s); the encoder "
            "is not deterministic, so the first result is kept",
            record.index,
            self.path.name,
            existing.sha256[:12],
            record.sha256[:12],
        )

    def locked(self) -> AbstractContextManager[None]:
        """Hold the entry lock for a `with` block."""
        return entry_lock(self.path)

    def read_shard(self, index: int) -> tuple[list[str], np.ndarray]:
        """Read and checksum shard `index`; return (keys, (rows, dim) float32 features) of its decoded samples.

        Raises FeatureStoreError naming the file when it is missing, incomplete, or its sha256
        differs from the manifest's.
        """
        self.check_index(index)
        record = self.manifest.records().get(index) or self.refresh().records().get(index)
        if record is None:
            raise FeatureStoreError(
                f"shard {index} of feature-store entry {self.path} is not extracted yet; "
                "extract it first (extract_features with a limit that covers it)"
            )

        path = self.path / record.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FeatureStoreError(damaged_message(path, "the file is missing", self.path)) from None

        problem = check_bytes(data, record)
        if problem:
            raise FeatureStoreError(damaged_message(path, problem, self.path))

        keys, features = decode_shard(data, str(path))
        if features.shape != (record.rows, self.dim):
            problem = f"features have shape {features.shape}, expected {(record.rows, self.dim)}"
            raise FeatureStoreError(damaged_message(path, problem, self.path))
        return keys, features

    def require_complete(self, stop: int) -> None:
        """Raise FeatureStoreError unless the shards covering samples [0, stop) are complete."""
        complete = self.manifest.records()
        missing = [index for index in range(-(-stop // self.shard_size)) if index not in complete]
        if missing:
            complete = self.refresh().records()
            missing = [index for index in missing if index not in complete]
        if missing:
            raise FeatureStoreError(
                f"feature-store entry {self.path} is missing shards {missing[:8]} ({len(missing)} in all) needed "
                f"for the first {stop} samples; extract them first (extract_features with limit={stop}) "
                "or read with a smaller limit"
            )

    def iter_batches(
        self, limit: int | None = None, batch_size: int = DEFAULT_READ_BATCH_SIZE
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """Stream the first `limit` samples (None: the whole split) in batches, one shard in memory at a time.

        Skipped samples (images that could not be decoded) are left out, so two entries of the
        same split skip the same keys and stay paired.

        Yields:
            (keys, features): batch_size keys (fewer in the last batch) and (len(keys), dim) float32.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        stop = self.resolve_limit(limit)
        self.require_complete(stop)
        self.touch()

        records = self.manifest.records()
        pending_keys: list[str] = []
        pending: list[np.ndarray] = []
        for index in range(-(-stop // self.shard_size)):
            keys, features = self.read_shard(index)
            end = records[index].rows_before(stop)
            offset = 0
            while offset < end:
                take = min(batch_size - len(pending_keys), end - offset)
                pending_keys.extend(keys[offset : offset + take])
                pending.append(features[offset : offset + take])
                offset += take
                if len(pending_keys) == batch_size:
                    yield pending_keys, np.concatenate(pending)
                    pending_keys, pending = [], []

        if pending_keys:
            yield pending_keys, np.concatenate(pending)

    def load(self, limit: int | None = None) -> tuple[list[str], np.ndarray]:
        """Read the first `limit` samples (None: the whole split) at once; meant for small sets.

        Returns:
            (keys, features): n sample keys and (n, dim) float32 features in encoder space, where
            n is `limit` minus the skipped samples among them.
        """
        stop = self.resolve_limit(limit)
        rows = self.count_rows(stop)
        features = None
        keys: list[str] = []
        for batch_keys, batch in self.iter_batches(stop, batch_size=self.shard_size):
            if features is None:
                # Allocated once the first shard has passed its checks, so a damaged `dim` cannot size it.
                features = np.empty((rows, self.dim), dtype=np.float32)
            features[len(keys) : len(keys) + len(batch_keys)] = batch
            keys.extend(batch_keys)

        if features is None:
            features = np.empty((0, self.dim), dtype=np.float32)
        return keys, features

    def verify(self) -> list[ShardProblem]:
        """Check every complete shard's size and sha256; return the damaged ones (empty when all pass)."""
        problems = []
        for record in self.refresh().shards:
            path = self.path / record.file
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                problems.append(ShardProblem(path, "the file is missing"))
                continue
            problem = check_bytes(data, record)
            if problem:
                problems.append(ShardProblem(path, problem))
        return problems

    def remove_stray_temp_files(self) -> list[Path]:
        """Delete temporary files left by writers that are gone."""
        return remove_stray_temp_files(self.path)


def check_bytes(data: bytes, record: ShardRecord) -> str | None:
    """Return what is wrong with a shard file's bytes compared to its record, or None when they match."""
    if len(data) != record.size:
        return f"the file has {len(data)} bytes but the manifest records {record.size}"
    digest = sha256_bytes(data)
    if digest != record.sha256:
        return f"sha256 {digest} differs from the manifest's {record.sha256}"
    return None
