"""`RayExecutor`: extracts shards on a Ray cluster and sums aligner statistics there.

Extraction maps the missing shards with Ray Data's `map_batches` onto an actor pool. Each actor
keeps one copy of the encoder (one GPU per actor when the cluster has GPUs) and computes whole
shards with the task's fixed batches, so shards are byte-identical to the local executor's for a
deterministic encoder. The actors return features to the driver, which writes each shard with
`FeatureEntry.write_shard` (atomic file, locked manifest update), so the store works as with
the local executor and wrapped entries (statistics taps) see every shard.

Aligner statistics: each block of shards is summed into `SufficientStats` by a Ray task reading
the feature store, and the driver merges the blocks with `SufficientStats.merge`.
"""

import dataclasses
import json
import logging
import math
import os

import numpy as np

from t2c.aligners.stats import ARRAY_NAMES, SufficientStats
from t2c.errors import ConfigError
from t2c.features.entry import FeatureEntry
from t2c.features.executors import Executor, positive_int
from t2c.features.manifest import SkippedSample
from t2c.features.task import ShardTask

log = logging.getLogger("t2c.ray")


def non_negative_int(name: str, value, default: int) -> int:
    """Parse an executor option that must be >= 0 (an int, or a string from `--executor-option`)."""
    if value is None:
        return default
    if str(value).strip() == "0":
        return 0
    return positive_int(name, value, default)


class ShardEncoder:
    """A Ray Data actor that keeps the encoder and computes whole shards.

    Input batches have columns `shard`, `start`, `stop` (one row per shard); output batches have
    `shard`, `keys` (JSON list), `features` (float32 bytes, row-major), `rows`, `skipped` (JSON).
    """

    def __init__(self, task: ShardTask, device: str | None, num_threads: int):
        self.task = task
        if device is not None:
            task.encoder.set_device(device)
        task.encoder.set_num_threads(num_threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        output = {"shard": [], "keys": [], "features": [], "rows": [], "skipped": []}
        for shard, start, stop in zip(batch["shard"], batch["start"], batch["stop"], strict=True):
            result = self.task.compute(range(int(start), int(stop)))
            features = np.ascontiguousarray(result.features, dtype=np.float32)
            output["shard"].append(int(shard))
            output["keys"].append(json.dumps(result.keys))
            output["features"].append(features.tobytes())
            output["rows"].append(features.shape[0])
            output["skipped"].append(json.dumps([sample.model_dump() for sample in result.skipped]))

        return {
            "shard": np.asarray(output["shard"], dtype=np.int64),
            "keys": np.asarray(output["keys"], dtype=object),
            "features": np.asarray(output["features"], dtype=object),
            "rows": np.asarray(output["rows"], dtype=np.int64),
            "skipped": np.asarray(output["skipped"], dtype=object),
        }


def block_stats(batch: dict[str, np.ndarray], x_path: str, y_path: str, limit: int, n_folds: int) -> dict[str, np.ndarray]:
    """Sum the statistics of a block of shards read from the store: one output row of `to_arrays` sums."""
    from t2c.features.paired_stats import PairedStats

    paired = PairedStats(FeatureEntry.open(x_path), FeatureEntry.open(y_path), limit, n_folds)
    for shard in batch["shard"]:
        paired.add_from_store(int(shard))
    return {name: array[None] for name, array in paired.stats.to_arrays().items()}


class RayExecutor(Executor):
    """Runs extraction and statistics on a Ray cluster.

    Args:
        address: the cluster (e.g. "ray://head:10001" or "auto"); default `RAY_ADDRESS`, else
            a local Ray instance. An already initialised Ray connection is used as it is.
        num_actors: encoder actors; default the cluster's GPUs, else its CPUs // num_cpus.
        num_cpus: CPUs per actor, also its model's thread count; default 1.
        num_gpus: GPUs per actor; default 1 when the cluster has GPUs, else 0.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_actors=None, num_cpus=None, num_gpus=None, **unknown):
        if unknown:
            raise ConfigError(
                f"unknown option(s) {sorted(unknown)} for the ray executor; it takes address, num_actors, num_cpus and num_gpus"
            )
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_actors = None if num_actors is None else positive_int("num_actors", num_actors, 1)
        self.num_cpus = positive_int("num_cpus", num_cpus, 1)
        self.num_gpus = None if num_gpus is None else non_negative_int("num_gpus", num_gpus, 0)

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, num_actors={self.num_actors}, num_cpus={self.num_cpus}, num_gpus={self.num_gpus})"

    def connect(self):
        """Connect to the cluster (or start a local instance) unless Ray is initialised; return the ray module."""
        try:
            import ray
        except ImportError as error:
            raise ConfigError(f"the ray executor needs Ray ({error}); install it with `pip install 'ray[data]'`") from error

        if not ray.is_initialized():
            log.info("connecting to Ray at %s", self.address or "a new local instance")
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        return ray

    def resources(self, ray) -> tuple[int, int]:
        """Return (actors, GPUs per actor) for this cluster and these options."""
        cluster = ray.cluster_resources()
        gpus = int(cluster.get("GPU", 0))
        num_gpus = self.num_gpus
        if num_gpus is None:
            num_gpus = 1 if gpus else 0
        if self.num_actors is not None:
            actors = self.num_actors
        elif num_gpus:
            actors = max(1, gpus // num_gpus)
        else:
            actors = max(1, int(cluster.get("CPU", 1)) // self.num_cpus)
        return actors, num_gpus

    def run_shards(self, entry: FeatureEntry, shard_indices: list[int], task: ShardTask) -> None:
        """Compute the shards on the actor pool and write each on the driver as it arrives."""
        missing = [index for index in shard_indices if index not in entry.complete_shards()]
        if not missing:
            return

        ray = self.connect()
        actors, num_gpus = self.resources(ray)
        actors = min(actors, len(missing))
        ranges = [entry.manifest.shard_range(index) for index in missing]
        rows = [{"shard": index, "start": samples.start, "stop": samples.stop} for index, samples in zip(missing, ranges, strict=True)]
        log.info("extracting %d shards on Ray with %d actors (%d GPU each)", len(missing), actors, num_gpus)

        remote_task = dataclasses.replace(task, progress=None, images_done=0)
        shards = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardEncoder,
            fn_constructor_kwargs={
                "task": remote_task,
                "device": "cuda" if num_gpus else None,
                "num_threads": self.num_cpus,
            },
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=self.num_cpus,
            num_gpus=num_gpus,
        )

        for row in shards.iter_rows():
            self.write_row(entry, row, task)

    def write_row(self, entry: FeatureEntry, row: dict, task: ShardTask) -> None:
        """Write one computed shard with `entry.write_shard` and report its images to the task's progress."""
        keys = json.loads(row["keys"])
        features = np.frombuffer(row["features"], dtype=np.float32).reshape(int(row["rows"]), entry.dim)
        skipped = [SkippedSample(**sample) for sample in json.loads(row["skipped"])]
        entry.write_shard(int(row["shard"]), keys, features, skipped)

        task.images_done += len(keys)
        if task.progress is not None:
            task.progress(len(keys) + len(skipped))

    def shard_stats(self, paired, shard_indices: list[int]) -> SufficientStats:
        """Sum the statistics of `paired` (a `PairedStats`) over `shard_indices` on the cluster.

        Each Ray task sums a block of shards read from the store; the driver merges the blocks.
        """
        ray = self.connect()
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        block = math.ceil(len(shard_indices) / workers)
        log.info("summing aligner statistics of %d shards on Ray in blocks of %d", len(shard_indices), block)

        blocks = ray.data.from_items([{"shard": index} for index in shard_indices], override_num_blocks=workers)
        sums = blocks.map_batches(
            block_stats,
            fn_kwargs={
                "x_path": str(paired.x_entry.path),
                "y_path": str(paired.y_entry.path),
                "limit": paired.limit,
                "n_folds": paired.n_folds,
            },
            batch_size=block,
            batch_format="numpy",
            num_cpus=1,
        )

        total = SufficientStats(paired.x_entry.dim, paired.y_entry.dim, paired.n_folds)
        for row in sums.iter_rows():
            total = total.merge(SufficientStats.from_arrays({name: np.asarray(row[name]) for name in ARRAY_NAMES}))
        return total
