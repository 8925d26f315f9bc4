"""The manifest of a feature-store entry: its key, its layout and every complete shard.

A shard counts as complete only once its record is in the manifest. The manifest is JSON,
replaced atomically under the entry's lock, so readers never see a half-written one.
A shard record also lists the samples of its range whose images could not be decoded; the
shard file has no rows for them.
"""

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from t2c.errors import FeatureStoreError
from t2c.features.key import FeatureKey
from t2c.features.shard import shard_file_name

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


class SkippedSample(BaseModel):
    """A sample left out of its shard because its image cannot be decoded.

    `reason` is `ImageDecodeError.reason` ("truncated", "non-image", ...) and `detail` the
    error's explanation with its fix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int  # position of the sample in the split
    key: str
    reason: str
    detail: str


class ShardRecord(BaseModel):
    """One complete shard: samples [start, start + count) of the split, in file `file`.

    The file contains one row per decoded sample (`rows`), and none for the samples in `skipped`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    file: str
    start: int
    count: int  # samples the shard covers, skipped ones included
    size: int  # bytes of the shard file
    sha256: str  # of the shard file
    keys_sha256: str  # of the JSON list of the sample keys of the file's rows, see `keys_digest`
    skipped: tuple[SkippedSample, ...] = ()  # sorted by index

    @property
    def rows(self) -> int:
        """Number of feature rows in the shard file: the decoded samples."""
        return self.count - len(self.skipped)

    def rows_before(self, stop: int) -> int:
        """Return how many of the file's rows belong to samples before split position `stop`."""
        covered = min(max(stop - self.start, 0), self.count)
        skipped = sum(1 for sample in self.skipped if sample.index < self.start + covered)
        return covered - skipped


class Manifest(BaseModel):
    """The JSON manifest of one entry; `shards` is sorted by index."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    key: FeatureKey
    preprocess: dict  # the full PreprocessConfig whose digest is in the key
    dim: int
    dtype: str = "float32"
    split_size: int  # samples in the split, whether extracted or not
    shard_size: int  # samples per shard; the last shard may hold fewer
    shards: list[ShardRecord] = []
    created: str  # ISO 8601, UTC
    updated: str  # ISO 8601, UTC, last time a shard was added

    @property
    def num_shards(self) -> int:
        """Number of shards that cover the whole split."""
        return -(-self.split_size // self.shard_size)

    def shard_range(self, index: int) -> range:
        """Sample indices of shard `index`: [index * shard_size, (index + 1) * shard_size) within the split."""
        start = index * self.shard_size
        return range(start, min(start + self.shard_size, self.split_size))

    def records(self) -> dict[int, ShardRecord]:
        """Return the complete shards by index."""
        return {record.index: record for record in self.shards}

    def with_shard(self, record: ShardRecord) -> "Manifest":
        """Return a copy with `record` added and `updated` set to now."""
        shards = sorted([*self.shards, record], key=lambda shard: shard.index)
        return self.model_copy(update={"shards": shards, "updated": utc_now()})

    def to_bytes(self) -> bytes:
        """Serialise as indented JSON with sorted keys, so equal manifests give equal bytes."""
        return (json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True) + "\n").encode()


def utc_now() -> str:
    """Return the current time as ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def keys_digest(keys: list[str]) -> str:
    """Return the sha256 of a list of sample keys in its compact JSON form."""
    return hashlib.sha256(json.dumps(keys, separators=(",", ":")).encode()).hexdigest()


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest, raising FeatureStoreError with the fix when it is unusable."""
    fix = f"delete the entry folder {path.parent} (or `t2c cache prune`) and extract again"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FeatureStoreError(f"feature-store manifest {path} is missing; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        # RecursionError: arrays or objects nested thousands deep exceed the parser's depth limit.
        raise FeatureStoreError(f"feature-store manifest {path} is unreadable ({error}); {fix}") from None

    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise FeatureStoreError(
            f"feature-store manifest {path} has format_version {version!r} but this t2c reads "
            f"version {FORMAT_VERSION}; upgrade t2c or {fix}"
        )

    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        raise FeatureStoreError(f"feature-store manifest {path} is invalid: {error}; {fix}") from None

    problem = layout_problem(manifest)
    if problem is not None:
        raise FeatureStoreError(f"feature-store manifest {path} is invalid: {problem}; {fix}")
    return manifest


def layout_problem(manifest: Manifest) -> str | None:
    """Return what makes a manifest's layout or shard records inconsistent, or None when they agree.

    Readers index arrays and open files with these numbers, so a damaged value must fail here.
    """
    if manifest.dim < 1 or manifest.split_size < 0 or manifest.shard_size < 1:
        return f"dim {manifest.dim}, split_size {manifest.split_size} and shard_size {manifest.shard_size} must be >= 1, >= 0 and >= 1"

    previous = -1
    for record in manifest.shards:
        if not previous < record.index < manifest.num_shards:
            return f"shard index {record.index} is out of order or outside 0..{manifest.num_shards - 1}"
        previous = record.index

        samples = manifest.shard_range(record.index)
        if (record.start, record.count, record.file) != (samples.start, len(samples), shard_file_name(record.index)):
            return (
                f"shard {record.index} records start {record.start}, count {record.count} and file {record.file!r}, "
                f"expected {samples.start}, {len(samples)} and {shard_file_name(record.index)!r}"
            )

        positions = [sample.index for sample in record.skipped]
        if positions != sorted(set(positions)) or any(position not in samples for position in positions):
            return f"shard {record.index} lists skipped samples {positions[:8]} that are not distinct, sorted positions in {samples}"
    return None
