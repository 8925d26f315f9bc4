"""One aligner fit in its own process, printed as one JSON line: wall time, held-out R², peak added memory.

    python bench/fit_one.py --method ridge|sgd|ridge-stats --n 2000 [--test 10000]

Methods (features from the store, open_nsfw ResNet-50 -> EfficientNet-Lite0, Fashion-MNIST train):
- ridge: sum 5-fold statistics from the stored shards, choose alpha by exact CV, solve.
- sgd: the paper's recipe, `LinearAligner` (nn.Linear, SGD, 5 epochs, batch 100) on stored batches.
- ridge-stats: load the statistics saved during extraction (`PairedStats`), then CV and solve.
Peak memory is VmHWM after the fit minus VmRSS at its start (VmHWM is reset at the start).
"""

import argparse
import json
import time
from pathlib import Path

from t2c import registry
from t2c.aligners.metrics import r2_from_stats
from t2c.features.paired_stats import PairedStats
from t2c.pipeline import accumulate_stats, paired_batches

from features import paired_entries


def memory_kib(field: str) -> int:
    """Return a VmRSS / VmHWM field of /proc/self/status in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def fit(method: str, x_entry, y_entry, n: int):
    """Fit with `method` on the first `n` samples; return the aligner and seconds spent in each step."""
    steps = {}
    started = time.perf_counter()
    if method == "sgd":
        aligner = registry.get_aligner("linear", epochs=5)

        def make_epoch(epoch):
            return ((x, y) for _, x, y in paired_batches(x_entry, y_entry, n, batch_size=1024))

        aligner.fit_batches(make_epoch)
        steps["train"] = time.perf_counter() - started
        return aligner, steps

    aligner = registry.get_aligner("ridge", n_folds=5)
    if method == "ridge":
        stats = accumulate_stats(x_entry, y_entry, n, n_folds=5)
    else:
        paired = PairedStats(x_entry, y_entry, n, n_folds=5)
        if not paired.load():
            raise SystemExit(f"no saved statistics for n={n}; run `bench/run.py` which saves them first")
        stats = paired.stats
    steps["statistics"] = time.perf_counter() - started

    solve_started = time.perf_counter()
    aligner.fit_stats(stats)
    steps["cv_and_solve"] = time.perf_counter() - solve_started
    return aligner, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("ridge", "sgd", "ridge-stats"), required=True)
    parser.add_argument("--n", type=int, required=True, help="train samples")
    parser.add_argument("--test", type=int, default=10_000, help="held-out test samples for R²")
    args = parser.parse_args()

    x_entry, y_entry = paired_entries("train", args.n)
    x_test, y_test = paired_entries("test", args.test)
    held_out = accumulate_stats(x_test, y_test, args.test, n_folds=1)

    reset_peak()
    rss_start = memory_kib("VmRSS")
    started = time.perf_counter()
    aligner, steps = fit(args.method, x_entry, y_entry, args.n)
    seconds = time.perf_counter() - started
    peak_added = memory_kib("VmHWM") - rss_start

    r2 = r2_from_stats(aligner.coef_, aligner.intercept_, held_out)
    print(json.dumps({
        "method": args.method,
        "n": args.n,
        "seconds": seconds,
        "steps": steps,
        "r2_paper": r2["r2_paper"],
        "r2_sklearn": r2["r2_sklearn"],
        "peak_added_mib": peak_added / 1024,
        "hyperparameters": getattr(aligner, "hyperparameters_", {}),
    }))


if __name__ == "__main__":
    main()
