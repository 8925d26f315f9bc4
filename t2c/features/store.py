"""The feature store: features cached on disk in shards, one entry per `FeatureKey`.

Layout under the root (default `<cache root>/features`, so `$T2C_CACHE` moves it):

    <model>__<dataset>__<key digest>/
        manifest.json            key, dim, split size, shard size, complete shards (see manifest.py)
        manifest.lock            filelock lock held around manifest updates
        last_used                empty file whose mtime is the last read or extraction
        shard-00000.safetensors  samples [0, shard_size) of the split (see shard.py)
        ...

Reading and writing one entry is `FeatureEntry`'s job (entry.py); this module finds, creates
and removes entries.
"""

import logging
import shutil
from pathlib import Path

from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError, FeatureStoreError, NotFoundError
from t2c.features.atomic import write_atomic
from t2c.features.entry import LAST_USED_NAME, FeatureEntry, ShardProblem, entry_lock
from t2c.features.key import FeatureKey
from t2c.features.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest, utc_now
from t2c.paths import cache_root

__all__ = ["DEFAULT_SHARD_SIZE", "LAST_USED_NAME", "FeatureEntry", "FeatureStore", "ShardProblem"]

log = logging.getLogger("t2c.features.store")

DEFAULT_SHARD_SIZE = 1024


class FeatureStore:
    """The folder of feature-store entries.

    Args:
        root: the store's folder; default `t2c.paths.cache_root() / "features"`, read when the
            store is created, so `$T2C_CACHE` moves it.
    """

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else cache_root() / "features"

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"

    def path_for(self, key: FeatureKey) -> Path:
        """Return the folder of the entry for `key`, whether it exists or not."""
        return self.root / key.folder_name()

    def open(self, key: FeatureKey) -> FeatureEntry:
        """Open the existing entry for `key`; raise NotFoundError when there is none."""
        path = self.path_for(key)
        if not (path / MANIFEST_NAME).exists():
            raise NotFoundError(
                f"no feature-store entry for {key.model} on {key.dataset} split {key.split} in {self.root}; "
                "extract the features first"
            )
        entry = FeatureEntry.open(path)
        check_same_key(entry, key)
        return entry

    def open_or_create(
        self,
        key: FeatureKey,
        *,
        dim: int,
        split_size: int,
        shard_size: int = DEFAULT_SHARD_SIZE,
        preprocess: PreprocessConfig | None = None,
    ) -> FeatureEntry:
        """Open the entry for `key`, creating it when missing.

        An existing entry keeps the shard size its manifest records, whatever `shard_size` requests,
        so resumed extractions write the same shards. A different `dim` or `split_size` raises
        FeatureStoreError.
        """
        if shard_size < 1:
            raise ConfigError(f"shard_size must be at least 1, got {shard_size}")
        if preprocess is not None and preprocess.digest() != key.preprocess_digest:
            raise ConfigError(
                f"preprocess config digest {preprocess.digest()} differs from the key's "
                f"{key.preprocess_digest}; build the key from the same config"
            )

        path = self.path_for(key)
        path.mkdir(parents=True, exist_ok=True)
        with entry_lock(path):
            if (path / MANIFEST_NAME).exists():
                entry = FeatureEntry.open(path)
                check_same_key(entry, key)
                check_same_layout(entry, dim, split_size)
                if entry.shard_size != shard_size:
                    log.info(
                        "entry %s keeps its recorded shard size %d (requested %d)",
                        path.name,
                        entry.shard_size,
                        shard_size,
                    )
            else:
                now = utc_now()
                manifest = Manifest(
                    format_version=FORMAT_VERSION,
                    key=key,
                    preprocess=preprocess.model_dump(mode="json") if preprocess is not None else {},
                    dim=dim,
                    split_size=split_size,
                    shard_size=shard_size,
                    created=now,
                    updated=now,
                )
                write_atomic(path / MANIFEST_NAME, manifest.to_bytes())
                entry = FeatureEntry(path, manifest)
                log.debug("created feature-store entry %s", path)
            entry.remove_stray_temp_files()

        entry.touch()
        return entry

    def entry_folders(self) -> list[Path]:
        """Return every folder under the root, readable entries or not, sorted by name."""
        if not self.root.is_dir():
            return []
        return sorted(path for path in self.root.iterdir() if path.is_dir())

    def entries(self) -> list[FeatureEntry]:
        """Open every readable entry; unreadable ones are logged and skipped (`verify` reports them)."""
        entries = []
        for folder in self.entry_folders():
            try:
                entries.append(FeatureEntry.open(folder))
            except FeatureStoreError as error:
                log.warning("skipped unreadable entry: %s", error)
        return entries

    def remove(self, path: Path) -> int:
        """Delete the entry folder `path` and return the bytes freed.

        NOTE: removal takes no lock, so an extraction still writing into this entry fails.
        """
        path = Path(path)
        if path.parent.resolve() != self.root.resolve():
            raise ConfigError(f"{path} is not an entry folder of the feature store at {self.root}")

        freed = sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
        shutil.rmtree(path)
        log.info("removed feature-store entry %s (%d bytes)", path, freed)
        return freed


def check_same_key(entry: FeatureEntry, key: FeatureKey) -> None:
    """Raise FeatureStoreError when the entry's manifest records another key than `key`."""
    if entry.key != key:
        raise FeatureStoreError(
            f"feature-store entry {entry.path} records key {entry.key.model_dump()} but {key.model_dump()} "
            "maps to that folder; delete the folder and extract again"
        )


def check_same_layout(entry: FeatureEntry, dim: int, split_size: int) -> None:
    """Raise FeatureStoreError when the entry's dim or split size differs from the request."""
    if entry.dim != dim:
        raise FeatureStoreError(
            f"feature-store entry {entry.path} contains {entry.dim}-d features but the encoder gives {dim}-d "
            "with the same id and weights; delete the entry (`t2c cache prune`) and extract again"
        )
    if entry.split_size != split_size:
        raise FeatureStoreError(
            f"feature-store entry {entry.path} was extracted from {entry.split_size} samples but "
            f"{entry.key.dataset} split {entry.key.split} now has {split_size}; the data set changed, "
            "so delete the entry (`t2c cache prune`) and extract again"
        )
