"""Benchmark t2c against the text-to-concept recipe (Moayeri et al., ICML 2023) on one machine, in one run, and write bench/RESULTS.md.

    python bench/run.py --quick     # minutes: small image counts, fits at n = 1k and 2k
    python bench/run.py --full      # fits at n = 2k, 10k and 60k (extracts missing features first)

Measures (1) extraction images/s of the t2c pipeline, the bare forward pass on pre-batched pixels
and the paper's per-image PIL-transform DataLoader loop (batch 16); (2) EfficientNet-Lite0 images/s
per backend, thread count and batch size, and the generic onnx backend's difference from eager
torch; (3) fit wall time, held-out R² and peak added memory of ridge with 5-fold CV alpha versus
the paper's SGD recipe (`linear`, 5 epochs), each fit in its own process, on open_nsfw ResNet-50
-> EfficientNet-Lite0 features of Fashion-MNIST (features: bench/features.py).
"""

import argparse
import datetime
import json
import logging
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from features import paired_entries  # noqa: E402
from throughput import backend_rates, extraction_rates, head_to_head, machine, onnx_check  # noqa: E402

from t2c.features.paired_stats import PairedStats  # noqa: E402

MODES = {
    "quick": {"rounds": 3, "images": 128, "batch_size": 32, "backend_images": 64, "batch_sizes": [16, 64], "threads": [1, 2], "ns": [1000, 2000], "test": 2048},
    "full": {"rounds": 5, "images": 1024, "batch_size": 32, "backend_images": 256, "batch_sizes": [8, 16, 32, 64], "threads": [1, 2], "ns": [2000, 10_000, 60_000], "test": 10_000},
}
METHODS = ("ridge", "sgd", "ridge-stats")


def run_fit(method: str, n: int, test: int) -> dict:
    """Run one fit in a fresh process (bench/fit_one.py) and return its JSON result."""
    command = [sys.executable, str(HERE / "fit_one.py"), "--method", method, "--n", str(n), "--test", str(test)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with status {finished.returncode}:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def fits(ns: list[int], test: int) -> list[dict]:
    """Every method at every n; statistics for `ridge-stats` are saved first, as extraction with the tap saves them."""
    paired_entries("test", test)
    results = []
    for n in ns:
        x_entry, y_entry = paired_entries("train", n)
        PairedStats(x_entry, y_entry, n, n_folds=5).complete()
        for method in METHODS:
            result = run_fit(method, n, test)
            logging.info("fit %s n=%d: %.2f s, R² %.4f, +%.0f MiB", method, n, result["seconds"], result["r2_paper"], result["peak_added_mib"])
            results.append(result)
    return results


def rates_text(rates: list[float]) -> str:
    """Format per-round rates as "61.2/58.0/60.3"."""
    return "/".join(f"{rate:.1f}" for rate in rates)


def best_setting(backends: list[dict], backend: str) -> dict:
    """Return the fastest grid row of EfficientNet-Lite0 (offline encoder) with `backend`."""
    rows = [row for row in backends if row["encoder"] == "offline:effnet-lite0" and row["backend"] == backend]
    return max(rows, key=lambda row: row["images_per_s"])


def targets(extraction: dict, backends: list[dict], comparison: dict, fit_results: list[dict]) -> list[tuple[str, str, bool | None]]:
    """Check the targets: (description, measured, met; None when this run lacks the numbers)."""
    rows = []
    by = {(result["method"], result["n"]): result for result in fit_results}
    largest = max(result["n"] for result in fit_results)

    ridge, sgd, stats = by[("ridge", largest)], by[("sgd", largest)], by[("ridge-stats", largest)]
    speedup = sgd["seconds"] / ridge["seconds"]
    rows.append((
        f"n={largest}: ridge (stats + 5-fold CV + solve) >= 5x faster than SGD (5 epochs), R² >= SGD's",
        f"{speedup:.1f}x; R² {ridge['r2_paper']:.4f} vs {sgd['r2_paper']:.4f}",
        speedup >= 5 and ridge["r2_paper"] >= sgd["r2_paper"],
    ))
    solve = stats["steps"]["cv_and_solve"]
    rows.append((
        f"n={largest}: fit after extraction with statistics accumulated during it < 1 s",
        f"{solve:.2f} s CV + solve ({stats['seconds']:.2f} s with loading the saved statistics)",
        solve < 1.0,
    ))
    share = extraction["pipeline_share"]
    rows.append((
        "pipeline extraction >= 90% of the bare forward's images/s",
        f"{100 * share:.0f}% (median of {len(extraction['pipeline_rounds'])} alternating rounds)",
        share >= 0.9,
    ))

    onnx_rates, torch_rates = comparison["onnx_rounds"], comparison["torch_rounds"]
    rows.append((
        "onnx >= 3x the best eager-torch setting, EfficientNet-Lite0 on CPU",
        f"{comparison['ratio']:.2f}x (median of {len(onnx_rates)} alternating rounds: onnx {rates_text(onnx_rates)} vs torch {rates_text(torch_rates)} images/s)",
        comparison["ratio"] >= 3,
    ))

    def best(encoder, backend):
        rates = [row["images_per_s"] for row in backends if row["encoder"] == encoder and row["backend"] == backend]
        return max(rates) if rates else None

    generic_onnx, generic_torch = best("TorchEncoder", "onnx"), best("TorchEncoder", "torch")
    if generic_onnx and generic_torch:
        rows.append((
            "(same, generic TorchEncoder onnx backend; best grid rows, one pass each)",
            f"{generic_onnx / generic_torch:.2f}x ({generic_onnx:.1f} vs {generic_torch:.1f} images/s)",
            generic_onnx / generic_torch >= 3,
        ))

    smallest = min(result["n"] for result in fit_results)
    for method in ("ridge", "sgd"):
        low, high = by[(method, smallest)]["peak_added_mib"], by[(method, largest)]["peak_added_mib"]
        matrices_mib = largest * (1024 + 1280) * 4 / 2**20
        rows.append((
            f"{method}: peak added memory at n={largest} < 2x that at n={smallest} and < the features ({matrices_mib:.0f} MiB)",
            f"{high:.0f} MiB vs {low:.0f} MiB",
            high < 2 * low and high < matrices_mib,
        ))
    return rows


def markdown(mode: str, command: str, info: dict, extraction: dict, backends: list[dict], comparison: dict, check: dict, fit_results: list[dict]) -> str:
    """Render one run as a Markdown section."""
    lines = [
        f"## {mode} run, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}`  ",
        f"Machine: {info['cpu']}, {info['cores']} cores; load average at start {info['load_average'][0]:.1f} "
        "(the machine is shared, so rates are lower bounds and vary between runs).",
        "",
        f"### Extraction, {extraction['model']}, {extraction['images']} Fashion-MNIST test images",
        "",
        "| path | images/s |",
        "|---|---|",
        f"| t2c pipeline (decode + preprocess threads, encode, write shards), batch {extraction['batch_size']} | {extraction['pipeline']:.1f} (rounds {rates_text(extraction['pipeline_rounds'])}) |",
        f"| bare forward on pre-batched pixels, batch {extraction['batch_size']} | {extraction['bare_forward']:.1f} (rounds {rates_text(extraction['bare_forward_rounds'])}) |",
        f"| paper's loop: DataLoader, per-image PIL transforms, batch 16 | {extraction['paper_loop_batch16']:.1f} |",
        "",
        "### Backends (bare forward, EfficientNet-Lite0)",
        "",
        "| encoder | backend | threads | batch | images/s |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {row['encoder']} | {row['backend']} | {row['threads']} | {row['batch_size']} | {row['images_per_s']:.1f} |" for row in backends]
    lines += [
        "",
        f"Head to head, alternating: onnx (threads {comparison['onnx']['threads']}, batch {comparison['onnx']['batch_size']}) "
        f"{rates_text(comparison['onnx_rounds'])} images/s vs eager torch (threads {comparison['torch']['threads']}, batch "
        f"{comparison['torch']['batch_size']}) {rates_text(comparison['torch_rounds'])} images/s; median ratio {comparison['ratio']:.2f}x.",
        "",
        f"Generic onnx backend (TorchEncoder) vs eager torch on 64 Fashion-MNIST images: max abs difference "
        f"{check['max_abs_difference']:.2e} at feature scale {check['feature_scale']:.2f} "
        f"({check['max_abs_difference'] / check['feature_scale']:.1e} relative; backend used: {check['backend']}).",
        "",
        "### Fits (open_nsfw ResNet-50 -> EfficientNet-Lite0 features, Fashion-MNIST train; R² on the test split)",
        "",
        "| n | method | wall s | steps (s) | held-out R² (paper) | R² (sklearn) | peak added MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in fit_results:
        steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result["steps"].items())
        lines.append(
            f"| {result['n']} | {result['method']} | {result['seconds']:.2f} | {steps} | {result['r2_paper']:.4f} | "
            f"{result['r2_sklearn']:.4f} | {result['peak_added_mib']:.0f} |"
        )
    lines += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for description, measured, met in targets(extraction, backends, comparison, fit_results):
        lines.append(f"| {description} | {measured} | {'yes' if met else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_const", const="quick", dest="mode", help="small counts (default)")
    group.add_argument("--full", action="store_const", const="full", dest="mode", help="fits at n = 2k, 10k and 60k")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="Markdown file the run is appended to")
    args = parser.parse_args()
    mode = args.mode or "quick"
    settings = MODES[mode]

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    info = machine()
    extraction = extraction_rates(settings["images"], settings["batch_size"], settings["rounds"])
    logging.info("extraction: %s", extraction)
    backends = backend_rates(settings["backend_images"], settings["batch_sizes"], settings["threads"])
    comparison = head_to_head(best_setting(backends, "onnx"), best_setting(backends, "torch"), settings["backend_images"] * 4, settings["rounds"])
    logging.info("onnx vs torch: %s", comparison)
    check = onnx_check()
    fit_results = fits(settings["ns"], settings["test"])

    section = markdown(mode, " ".join(["python", "bench/run.py", f"--{mode}"]), info, extraction, backends, comparison, check, fit_results)
    with open(args.output, "a", encoding="utf-8") as output:
        output.write("\n" + section)
    print(section)


if __name__ == "__main__":
    main()
