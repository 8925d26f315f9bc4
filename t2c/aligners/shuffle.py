"""Shuffled minibatches from a stream of batches: random batch order plus a shuffle buffer."""

from collections.abc import Iterable, Iterator, Sequence

import numpy as np


def shuffled_batch_order(batches: Iterable, rng: np.random.Generator) -> Iterable:
    """Visit `batches` in random order when it is a Sequence, else in the order given.

    Only a Sequence (list, tuple) can be reordered without holding every batch in memory, so a
    producer that streams should shuffle its shard order itself (for example seeded by epoch).
    """
    if isinstance(batches, Sequence):
        return (batches[i] for i in rng.permutation(len(batches)))
    return batches


def shuffled_minibatches(
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    buffer_size: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Re-cut a stream of (X, Y) batches into shuffled minibatches of `batch_size` rows.

    Rows wait in a buffer of at least `buffer_size` rows, and each minibatch draws its rows
    uniformly from the buffer, so rows up to about `buffer_size` apart in the stream mix. At
    the end of the stream the rest is shuffled and emitted; the last minibatch may be shorter.

    Args:
        batches: (X (b, p), Y (b, q)) pairs of any sizes b.
        batch_size: rows per minibatch.
        buffer_size: rows kept back for mixing; 0 only re-cuts each incoming batch in random order.
        rng: source of the permutations.

    Yields:
        (X (batch_size, p), Y (batch_size, q)) minibatches.
    """
    pending_x: list[np.ndarray] = []
    pending_y: list[np.ndarray] = []
    pending_rows = 0

    for X, Y in batches:
        pending_x.append(X)
        pending_y.append(Y)
        pending_rows += X.shape[0]
        if pending_rows < buffer_size + batch_size:
            continue

        buffer_x = np.concatenate(pending_x)
        buffer_y = np.concatenate(pending_y)
        order = rng.permutation(pending_rows)
        emitted = (pending_rows - buffer_size) // batch_size * batch_size

        for start in range(0, emitted, batch_size):
            rows = order[start : start + batch_size]
            yield buffer_x[rows], buffer_y[rows]

        remaining = order[emitted:]
        pending_x = [buffer_x[remaining]]
        pending_y = [buffer_y[remaining]]
        pending_rows = remaining.size

    if pending_rows == 0:
        return

    buffer_x = np.concatenate(pending_x)
    buffer_y = np.concatenate(pending_y)
    order = rng.permutation(pending_rows)
    for start in range(0, pending_rows, batch_size):
        rows = order[start : start + batch_size]
        yield buffer_x[rows], buffer_y[rows]
