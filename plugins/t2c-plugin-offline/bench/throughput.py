"""Measure images/s of each offline encoder over batch sizes, on real Fashion-MNIST images.

Usage: python bench/throughput.py [--images 256] [--batch-sizes 1,8,32,64] [--models a,b]
Times `encode` only (preprocessing excluded), after one warm-up batch, with every core the
process may use. Prints one JSON line per (model, batch size).
"""

import argparse
import json
import os
import time

import numpy as np

from t2c.encoders.pixels import to_pixels

from t2c_plugin_offline.datasets.fashion_mnist import FashionMNIST
from t2c_plugin_offline.encoders import create_encoder, list_models


def measure(encoder, pixels: np.ndarray, batch_size: int) -> float:
    """Return images/s of `encoder.encode` over `pixels` in batches of `batch_size`."""
    encoder.encode(pixels[:batch_size])  # warm-up: session build and first-run allocation

    started = time.perf_counter()
    for start in range(0, len(pixels), batch_size):
        encoder.encode(pixels[start : start + batch_size])
    return len(pixels) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="number of test images timed per setting")
    parser.add_argument("--batch-sizes", default="1,8,32,64", help="comma-separated batch sizes")
    parser.add_argument("--models", default=",".join(list_models()), help="comma-separated model names")
    parser.add_argument("--backend", default="onnx", help="effnet-lite0 backend: onnx or torch")
    args = parser.parse_args()

    split = FashionMNIST().split("test")
    images = [split.load(index) for index in range(args.images)]

    for name in args.models.split(","):
        options = {"backend": args.backend} if name == "effnet-lite0" else {}
        encoder = create_encoder(name, **options)
        pixels = to_pixels(images, encoder.preprocess.merged({"grayscale_to_rgb": True}))

        for batch_size in (int(size) for size in args.batch_sizes.split(",")):
            rate = measure(encoder, pixels, batch_size)
            row = {"model": encoder.id, "backend": encoder.backend, "batch_size": batch_size,
                   "images_per_s": round(rate, 1), "cores": len(os.sched_getaffinity(0))}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
