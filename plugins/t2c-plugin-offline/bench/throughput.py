"""Measure images/s of each offline encoder over batch sizes, on real Fashion-MNIST images.

Usage: python bench/throughput.py [--images 256] [--batch-sizes 1,8,32,64] [--models a,b]
Times `encode` only (preprocessing excluded), after one warm-up batch. Prints one JSON line per
(model, batch size) with images per wall-clock second and images per CPU second of this process.
Both rates drop when other jobs share the machine, so each line records the load average.
"""

import argparse
import json
import os
import time

import numpy as np

from t2c.encoders.pixels import to_pixels

from t2c_plugin_offline.datasets.fashion_mnist import FashionMNIST
from t2c_plugin_offline.encoders import create_encoder, list_models


def measure(encoder, pixels: np.ndarray, batch_size: int) -> tuple[float, float]:
    """Return (images per wall-clock second, images per CPU second) of `encoder.encode` over `pixels`."""
    encoder.encode(pixels[:batch_size])  # warm-up: session build and first-run allocation

    started = time.perf_counter()
    started_cpu = time.process_time()
    for start in range(0, len(pixels), batch_size):
        encoder.encode(pixels[start : start + batch_size])

    wall = time.perf_counter() - started
    cpu = time.process_time() - started_cpu
    return len(pixels) / wall, len(pixels) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="number of test images timed per setting")
    parser.add_argument("--batch-sizes", default="1,8,32,64", help="comma-separated batch sizes")
    parser.add_argument("--models", default=",".join(list_models()), help="comma-separated model names")
    parser.add_argument("--backend", default="onnx", help="effnet-lite0 backend: onnx or torch")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: every core the process may use)")
    args = parser.parse_args()

    split = FashionMNIST().split("test")
    images = [split.load(index) for index in range(args.images)]

    for name in args.models.split(","):
        options = {"backend": args.backend} if name == "effnet-lite0" else {}
        encoder = create_encoder(name, **options)
        if args.threads:
            encoder.set_num_threads(args.threads)
        pixels = to_pixels(images, encoder.preprocess.merged({"grayscale_to_rgb": True}))

        for batch_size in (int(size) for size in args.batch_sizes.split(",")):
            rate, cpu_rate = measure(encoder, pixels, batch_size)
            row = {
                "model": encoder.id,
                "backend": encoder.backend,
                "batch_size": batch_size,
                "threads": args.threads or len(os.sched_getaffinity(0)),
                "images_per_s": round(rate, 1),
                "images_per_cpu_s": round(cpu_rate, 1),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
