"""The orchestrator: resolves plugins and wires encoder -> features -> aligner -> head.

Applications call these functions; the CLI builds a `Runtime` from its common flags.
"""

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from t2c import registry
from t2c.aligners.metrics import r2_from_stats
from t2c.aligners.stats import SufficientStats
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError, FeatureStoreError
from t2c.features.extract import extract_features
from t2c.heads import Head
from t2c.targets.base import Target

log = logging.getLogger("t2c.pipeline")

DEFAULT_FIT_SAMPLES = 10_000

ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager]


@dataclass
class Runtime:
    """Settings shared by every step that runs a model (the CLI's common flags)."""

    device: str = "cpu"
    batch_size: int = 32
    num_threads: int | None = None
    executor: str = "local"
    executor_options: dict[str, str] = field(default_factory=dict)
    progress: ProgressFactory | None = None  # (description, total) -> context yielding a callback(n_done)
    store: Any = None  # a FeatureStore; None uses the default cache root
    strict: bool = False  # stop at the first image that cannot be decoded instead of skipping it
    stats_during_extraction: bool = False  # fit_head sums aligner statistics as target shards complete
    backend: str | None = None  # "torch" or "onnx" for encoders with `set_backend`; None keeps each model's own

    def prepare(self, model: Encoder | Target) -> None:
        """Apply device and thread settings to an encoder or target."""
        model.set_device(self.device)
        if self.num_threads:
            model.set_num_threads(self.num_threads)
        if self.backend is not None:
            self.apply_backend(model)

    def apply_backend(self, model: Encoder | Target) -> None:
        """Switch `model` (or a target's image encoder) to `backend` when it has `set_backend`, else log that it cannot."""
        encoder = getattr(model, "image_encoder", model)
        set_backend = getattr(encoder, "set_backend", None)
        if callable(set_backend):
            set_backend(self.backend)
        elif getattr(encoder, "backend", None) != self.backend:
            log.info("%s has no backend choice; it keeps running on %s", encoder.id, getattr(encoder, "backend", "?"))

    def progress_context(self, description: str, total: int):
        """Return a context manager yielding a progress callback, or a no-op one."""
        if self.progress is None:
            return contextlib.nullcontext(None)
        return self.progress(description, total)


def resolve_encoder(encoder: str | Encoder, runtime: Runtime, **options) -> Encoder:
    """Load an encoder from its id (or pass an instance through) and prepare it."""
    if isinstance(encoder, str):
        encoder = registry.load_encoder(encoder, **options)
    runtime.prepare(encoder)
    return encoder


def resolve_target(target: str | Target, runtime: Runtime, **options) -> Target:
    """Load a target from its id (or pass an instance through) and prepare it."""
    if isinstance(target, str):
        target = registry.load_target(target, **options)
    runtime.prepare(target)
    return target


def resolve_dataset(dataset: str | Dataset) -> Dataset:
    """Load a data set from its id, or pass an instance through."""
    if isinstance(dataset, str):
        return registry.load_dataset(dataset)
    return dataset


def split_size(dataset: Dataset, split: str, limit: int | None) -> int:
    """Return how many samples of `split` a run uses: all of them, or the first `limit`."""
    total = len(dataset.split(split))
    if limit is None:
        return total
    if limit <= 0:
        raise ConfigError(f"sample limit {limit} must be positive; leave it out to use all {total} samples")
    return min(limit, total)


def features(model: Encoder, dataset: Dataset, split: str, limit: int | None, runtime: Runtime, tap=None):
    """Extract (or read from the cache) features of the first `limit` samples of a split.

    `tap`, when given, is called with the executor and returns the executor to use (a `StatsTap`).
    """
    count = split_size(dataset, split, limit)
    executor = registry.get_executor(runtime.executor, **runtime.executor_options)
    if tap is not None:
        executor = tap(executor)

    with runtime.progress_context(f"{model.id} on {dataset.id}/{split}", count) as progress:
        return extract_features(
            model,
            dataset,
            split,
            store=runtime.store,
            limit=count,
            batch_size=runtime.batch_size,
            executor=executor,
            progress=progress,
            strict=runtime.strict,
        )


def paired_batches(x_entry, y_entry, limit: int, batch_size: int = 4096) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """Stream (keys, X, Y) batches from two feature entries of the same samples.

    X is (b, p) float32 in encoder space and Y (b, q) float32 in target space.
    """
    x_batches = x_entry.iter_batches(limit=limit, batch_size=batch_size)
    y_batches = y_entry.iter_batches(limit=limit, batch_size=batch_size)

    for x_batch, y_batch in itertools.zip_longest(x_batches, y_batches):
        if x_batch is None or y_batch is None:
            raise FeatureStoreError(
                f"feature entries {x_entry.path} and {y_entry.path} hold different numbers of samples; "
                "run `t2c cache verify` and delete the damaged entry"
            )

        (x_keys, x), (y_keys, y) = x_batch, y_batch
        if list(x_keys) != list(y_keys):
            raise FeatureStoreError(
                f"feature entries {x_entry.path} and {y_entry.path} list different samples "
                f"(first keys {x_keys[0]!r} and {y_keys[0]!r}); run `t2c cache verify` and delete the damaged entry"
            )
        yield list(x_keys), x, y


def accumulate_stats(x_entry, y_entry, limit: int, n_folds: int = 5) -> SufficientStats:
    """Sum the sufficient statistics of paired features, one batch at a time."""
    stats = None
    for keys, x, y in paired_batches(x_entry, y_entry, limit):
        if stats is None:
            stats = SufficientStats(x.shape[1], y.shape[1], n_folds=n_folds)
        stats.update(x, y, keys=keys)
    return stats


def fit_aligner(aligner, x_entry, y_entry, limit: int, stats: SufficientStats | None = None):
    """Fit `aligner` from a feature store: statistics for closed forms, batches for SGD.

    `stats`, when given, are the statistics of the fit set already summed (during extraction).
    Returns the fitted aligner and the statistics of the fit set (the head stores their target mean).
    """
    if stats is None:
        stats = accumulate_stats(x_entry, y_entry, limit, n_folds=getattr(aligner, "n_folds", 5))

    if hasattr(aligner, "fit_batches"):

        def make_epoch(epoch: int):
            return ((x, y) for _, x, y in paired_batches(x_entry, y_entry, limit, batch_size=1024))

        aligner.fit_batches(make_epoch, stats=stats)
    else:
        aligner.fit_stats(stats)
    return aligner, stats


def fit_head(
    encoder: str | Encoder,
    target: str | Target,
    dataset: str | Dataset,
    aligner: str = "ridge",
    *,
    split: str | None = None,
    limit: int | None = DEFAULT_FIT_SAMPLES,
    aligner_params: dict | None = None,
    runtime: Runtime | None = None,
) -> Head:
    """Fit a head mapping `encoder` features into `target`'s image space on unlabelled images.

    Args:
        encoder, target, dataset: ids or loaded instances.
        aligner: aligner kind ("ridge", "lstsq", "procrustes", "linear").
        split: split to fit on; defaults to the data set's fit split. Labels are never read.
        limit: fit on the first `limit` samples (None: all).
    """
    runtime = runtime or Runtime()
    encoder = resolve_encoder(encoder, runtime)
    target = resolve_target(target, runtime)
    dataset = resolve_dataset(dataset)
    split = split or dataset.fit_split
    count = split_size(dataset, split, limit)

    unfitted = registry.get_aligner(aligner, **(aligner_params or {}))
    x_entry = features(encoder, dataset, split, count, runtime)
    executor_sums = callable(getattr(registry.get_executor(runtime.executor, **runtime.executor_options), "shard_stats", None))
    if runtime.stats_during_extraction or executor_sums:
        stats, y_entry = stats_during_extraction(target, dataset, split, count, runtime, x_entry, unfitted)
    else:
        stats, y_entry = None, features(target.image_encoder, dataset, split, count, runtime)

    log.info("fitting %s aligner on %d samples of %s/%s", aligner, count, dataset.id, split)
    fitted, stats = fit_aligner(unfitted, x_entry, y_entry, count, stats=stats)

    total = stats.total()
    target_mean = (total.sum_y / total.n).astype(np.float32)
    return Head.from_aligner(
        fitted,
        encoder=encoder.describe(),
        target=target.describe(),
        preprocessing=encoder.preprocess.merged(dataset.preprocess_overrides).model_dump(mode="json"),
        fit_data={"dataset": dataset.id, "split": split, "n_samples": x_entry.count_rows(count)},
        target_mean=target_mean,
        metrics={},
    )


def stats_during_extraction(target, dataset, split, count, runtime, x_entry, aligner):
    """Extract the target's features while summing the aligner statistics as each target shard completes.

    Shards the extraction did not write (cached ones) are summed from the store, by the executor
    when it has `shard_stats(paired, shard_indices)` (a distributed one). The sums are saved
    next to the encoder's entry, so a repeated fit only solves. Returns (stats, y_entry).
    """
    from t2c.features.paired_stats import PairedStats, StatsTap

    n_folds = getattr(aligner, "n_folds", 5)
    taps: list[StatsTap] = []

    def tap(executor):
        taps.append(StatsTap(executor, x_entry, count, n_folds))
        return taps[-1]

    y_entry = features(target.image_encoder, dataset, split, count, runtime, tap=tap)
    paired = taps[0].paired if taps[0].paired is not None else PairedStats(x_entry, y_entry, count, n_folds)
    if paired.shards != set(paired.needed_shards()) and not paired.load():
        paired.complete(taps[0].inner)
    elif paired.shards and not paired.path.is_file():
        paired.save()
    return paired.stats, y_entry


def heldout_r2(head: Head, x_entry, y_entry, limit: int) -> dict[str, float]:
    """Return held-out R² (paper and scikit-learn definitions) of a head on paired features."""
    stats = accumulate_stats(x_entry, y_entry, limit, n_folds=1)
    return r2_from_stats(head.coef, head.intercept, stats)


def embed(
    encoder: str | Encoder,
    dataset: str | Dataset,
    split: str | None = None,
    *,
    head: Head | None = None,
    limit: int | None = None,
    runtime: Runtime | None = None,
) -> tuple[list[str], np.ndarray]:
    """Return sample keys and features of a split: raw (encoder space) or, with `head`, aligned (target space)."""
    runtime = runtime or Runtime()
    encoder = resolve_encoder(encoder, runtime)
    dataset = resolve_dataset(dataset)
    if head is not None:
        head.check_compatible(encoder=encoder)

    split = split or dataset.eval_split
    count = split_size(dataset, split, limit)
    entry = features(encoder, dataset, split, count, runtime)
    keys, values = entry.load(limit=count)

    if head is not None:
        values = head.transform(values)
    return list(keys), values


def align(
    encoder: str | Encoder,
    target: str | Target | Encoder,
    dataset: str | Dataset,
    aligner: str = "ridge",
    *,
    split: str | None = None,
    limit: int | None = DEFAULT_FIT_SAMPLES,
    aligner_params: dict | None = None,
    evaluate: bool = True,
    eval_limit: int | None = None,
    output: str | None = None,
    runtime: Runtime | None = None,
) -> dict:
    """Fit a head, measure held-out R² on the evaluation split, and save it when `output` is set.

    Returns the head's summary (ids, aligner, hyperparameters, metrics).
    """
    runtime = runtime or Runtime()
    encoder = resolve_encoder(encoder, runtime)
    target = resolve_destination(target, runtime)
    dataset = resolve_dataset(dataset)
    head = fit_head(encoder, target, dataset, aligner, split=split, limit=limit, aligner_params=aligner_params, runtime=runtime)

    eval_split = dataset.eval_split
    if evaluate and eval_split != (split or dataset.fit_split):
        count = split_size(dataset, eval_split, eval_limit)
        x_entry = features(encoder, dataset, eval_split, count, runtime)
        y_entry = features(target.image_encoder, dataset, eval_split, count, runtime)
        r2 = heldout_r2(head, x_entry, y_entry, count)
        head.card.metrics.update({f"{dataset.id}/{eval_split}/{name}": value for name, value in r2.items()})

    if output is not None:
        head.save_pretrained(output)
    return head.summary()


class EncoderAsTarget(Target):
    """Lets an encoder be the destination of an alignment (its features are the "target space")."""

    def __init__(self, encoder: Encoder):
        self.id = encoder.id
        self.dim = encoder.dim
        self.image_encoder = encoder
        self.templates = []

    def encode_text(self, texts):
        raise ConfigError(f"{self.id} is an image encoder with no text side; align into a target for text tasks")


def resolve_destination(destination: str | Target | Encoder, runtime: Runtime) -> Target:
    """Resolve the destination of an alignment: a target id, else an encoder id (for stitching)."""
    if isinstance(destination, Target):
        runtime.prepare(destination)
        return destination
    if isinstance(destination, Encoder):
        return EncoderAsTarget(resolve_encoder(destination, runtime))

    try:
        return resolve_target(destination, runtime)
    except registry.NotFoundError:
        return EncoderAsTarget(resolve_encoder(destination, runtime))
