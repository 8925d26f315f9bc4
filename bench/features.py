"""The paper-recipe features the benchmark fits on: open_nsfw ResNet-50 -> EfficientNet-Lite0 (MiniLM target), Fashion-MNIST.

Run alone to fill the feature store ahead of `bench/run.py`. Extracting the 60k train images takes
about 10 min per model on an idle 2-core machine (an estimate), and the store under T2C_CACHE keeps them:

    python bench/features.py --train 60000 --test 10000
"""

import argparse
import logging

from t2c import registry
from t2c.pipeline import Runtime, features, resolve_dataset, resolve_encoder, resolve_target

DATASET = "fashion-mnist"
ENCODER = "offline:resnet50-opennsfw"
TARGET = "offline:effnet-lite0-minilm"


def paired_entries(split: str, count: int, runtime: Runtime | None = None):
    """Extract (or read from the store) encoder and target features of the first `count` samples of `split`.

    Returns (x_entry, y_entry): X (n, 1024) open_nsfw features, Y (n, 1280) EfficientNet-Lite0 features.
    """
    runtime = runtime or Runtime(batch_size=32)
    dataset = resolve_dataset(DATASET)
    encoder = resolve_encoder(ENCODER, runtime)
    target = resolve_target(TARGET, runtime)
    x_entry = features(encoder, dataset, split, count, runtime)
    y_entry = features(target.image_encoder, dataset, split, count, runtime)
    return x_entry, y_entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=60_000, help="train samples to extract")
    parser.add_argument("--test", type=int, default=10_000, help="test samples to extract")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    registry.get_registry()
    # Smallest first, so a run cut short still leaves usable prefixes of both splits.
    paired_entries("test", min(args.test, 2048))
    for count in (2000, 10_000, args.train):
        paired_entries("train", min(count, args.train))
    paired_entries("test", args.test)


if __name__ == "__main__":
    main()
