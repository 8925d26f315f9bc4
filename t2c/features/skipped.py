"""Samples skipped because their images cannot be decoded: validation, key lists and reports."""

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from t2c.errors import ConfigError
from t2c.features.manifest import ShardRecord, SkippedSample

log = logging.getLogger("t2c.features.skipped")

MAX_LISTED = 10  # skipped files named one by one in the log per extraction; the manifest lists all


def check_skipped(index: int, samples: range, keys: list[str], skipped: Sequence[SkippedSample]) -> tuple[SkippedSample, ...]:
    """Check that decoded `keys` and `skipped` samples together cover shard `index`'s range once.

    Returns:
        The skipped samples sorted by their position in the split.
    """
    skipped = tuple(sorted(skipped, key=lambda sample: sample.index))
    if len(keys) + len(skipped) != len(samples):
        raise ConfigError(
            f"shard {index} covers {len(samples)} samples (from {samples.start}) but got {len(keys)} keys "
            f"and {len(skipped)} skipped samples; pass one key or one skipped sample per sample of the range"
        )

    outside = [sample.index for sample in skipped if sample.index not in samples]
    if outside:
        raise ConfigError(
            f"skipped sample positions {outside[:8]} lie outside shard {index} (samples {samples.start} to "
            f"{samples.stop - 1}); record each skipped sample in the shard that covers it"
        )

    positions = [sample.index for sample in skipped]
    if len(set(positions)) != len(positions):
        raise ConfigError(f"shard {index} lists a skipped sample twice (positions {positions[:8]}); list each once")

    decoded_and_skipped = set(keys) & {sample.key for sample in skipped}
    if decoded_and_skipped:
        raise ConfigError(
            f"sample {sorted(decoded_and_skipped)[0]!r} of shard {index} is both a decoded key and a skipped "
            "sample; a sample is either decoded or skipped"
        )
    return skipped


def row_keys(shard_keys: Sequence[str], record: ShardRecord) -> list[str]:
    """Return the keys of a shard's rows: its range's keys without the skipped samples."""
    skipped_positions = {sample.index - record.start for sample in record.skipped}
    return [key for position, key in enumerate(shard_keys) if position not in skipped_positions]


def summarize(skipped: Sequence[SkippedSample], total: int) -> str:
    """Return a one-line count by reason, such as "skipped 3 of 1200 images: 2 truncated, 1 non-image"."""
    counts = Counter(sample.reason for sample in skipped)
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return f"skipped {len(skipped)} of {total} images: {reasons}"


def log_skipped(skipped: Sequence[SkippedSample], total: int, description: str, manifest: Path) -> None:
    """Log the first MAX_LISTED skipped samples one by one, then the summary line, as warnings."""
    if not skipped:
        return

    for sample in skipped[:MAX_LISTED]:
        log.warning("skipped %s (%s): %s", sample.key, sample.reason, sample.detail)
    if len(skipped) > MAX_LISTED:
        log.warning("... and %d more skipped images", len(skipped) - MAX_LISTED)

    log.warning(
        "%s (%s); the files are listed above and in %s; pass --strict to stop at the first one instead",
        summarize(skipped, total),
        description,
        manifest,
    )
