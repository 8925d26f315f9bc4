"""Extraction images/s: the t2c pipeline, the bare forward pass, the per-image DataLoader loop of the text-to-concept authors (Moayeri et al., ICML 2023), and backends.

Every rate is images per wall-clock second on real Fashion-MNIST test images, after one warm-up batch.
"""

import os
import platform
import tempfile
import time

import numpy as np

from t2c.encoders.pixels import to_pixels
from t2c.encoders.torch_base import TorchEncoder
from t2c.features.executors import LocalExecutor
from t2c.features.extract import extract_features
from t2c.features.store import DEFAULT_SHARD_SIZE, FeatureStore
from t2c.registry import load_dataset, load_encoder


def machine() -> dict:
    """Describe this machine: CPU model, cores this process may use, load average now."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "load_average": os.getloadavg()}


def rate(function, images: int) -> float:
    """Run `function()` once and return `images` divided by its wall-clock seconds."""
    started = time.perf_counter()
    function()
    return images / (time.perf_counter() - started)


def bare_forward(encoder, pixels: np.ndarray, batch_size: int) -> float:
    """Images/s of `encoder.encode` over pixels already preprocessed and batched (no decoding)."""
    encoder.encode(pixels[:batch_size])
    batches = [pixels[start : start + batch_size] for start in range(0, len(pixels), batch_size)]
    return rate(lambda: [encoder.encode(batch) for batch in batches], len(pixels))


def pipeline(encoder, dataset, count: int, batch_size: int) -> float:
    """Images/s of `extract_features` (decode, preprocess in threads, encode, write shards) into an empty store.

    A throwaway store takes the warm-up batch. The timed run writes shards of the default size
    (fewer images when `count` is smaller, since a shard is always computed whole) into a store
    of its own, as a user's extraction does.
    """
    with tempfile.TemporaryDirectory() as root:
        extract_features(encoder, dataset, "test", store=FeatureStore(root), limit=batch_size, batch_size=batch_size, shard_size=batch_size)

    with tempfile.TemporaryDirectory() as root:
        store = FeatureStore(root)
        return rate(
            lambda: extract_features(
                encoder, dataset, "test", store=store, limit=count, batch_size=batch_size,
                shard_size=min(count, DEFAULT_SHARD_SIZE), executor=LocalExecutor(),
            ),
            count,
        )


def paper_loop(encoder, dataset, count: int, batch_size: int = 16) -> float:
    """Images/s of the text-to-concept authors' loop: torch DataLoader, per-image torchvision PIL transforms, batch 16, then the model."""
    import torch
    from torchvision import transforms

    config = encoder.preprocess.merged(dataset.preprocess_overrides)
    steps = [transforms.Lambda(lambda image: image.convert("RGB"))]
    if config.invert:
        from PIL import ImageOps

        steps.append(transforms.Lambda(ImageOps.invert))
    steps += [
        transforms.Resize(config.resize, interpolation=transforms.InterpolationMode(config.interpolation)),
        transforms.CenterCrop(config.crop),
        transforms.ToTensor(),
        transforms.Normalize(config.mean, config.std),
    ]
    transform = transforms.Compose(steps)
    split = dataset.split("test")

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return count

        def __getitem__(self, index):
            return transform(split.load(index))

    loader = torch.utils.data.DataLoader(Images(), batch_size=batch_size, shuffle=False)

    def run():
        for batch in loader:
            encoder.encode(batch.numpy())

    return rate(run, count)


class EffnetTorchEncoder(TorchEncoder):
    """EfficientNet-Lite0 (packaged weights) as a core `TorchEncoder`, to time the generic onnx backend."""

    def __init__(self):
        from t2c_plugin_offline.configs import EFFNET_LITE0
        from t2c_plugin_offline.effnet import PooledFeatures, build_model

        from t2c.encoders.torch_base import state_dict_sha256

        super().__init__(PooledFeatures(build_model()))
        self.id = "bench:effnet-lite0-torchencoder"
        self.dim = 1280
        self.preprocess = EFFNET_LITE0
        self.weights_sha256 = state_dict_sha256(self.model)

    def forward(self, batch):
        return self.model(batch)


def extraction_rates(count: int, batch_size: int, rounds: int = 3) -> dict:
    """Pipeline vs bare forward vs paper loop for EfficientNet-Lite0 (onnx) on `count` test images.

    The pipeline and the bare forward run alternately, `rounds` times each, so that a change in
    the machine's speed during the run (it is shared) hits both alike. Each round gives one ratio;
    the median ratio is the result.
    """
    dataset = load_dataset("fashion-mnist")
    encoder = load_encoder("offline:effnet-lite0")
    split = dataset.split("test")
    config = encoder.preprocess.merged(dataset.preprocess_overrides)
    pixels = to_pixels([split.load(index) for index in range(count)], config)

    pipeline_rates, bare_rates = [], []
    for _ in range(rounds):
        pipeline_rates.append(pipeline(encoder, dataset, count, batch_size))
        bare_rates.append(bare_forward(encoder, pixels, batch_size))
    ratios = [piped / bare for piped, bare in zip(pipeline_rates, bare_rates)]

    return {
        "model": f"{encoder.id} ({encoder.backend})",
        "images": count,
        "batch_size": batch_size,
        "pipeline": float(np.median(pipeline_rates)),
        "bare_forward": float(np.median(bare_rates)),
        "pipeline_rounds": pipeline_rates,
        "bare_forward_rounds": bare_rates,
        "pipeline_share": float(np.median(ratios)),
        "paper_loop_batch16": paper_loop(encoder, dataset, count),
    }


def backend_rates(count: int, batch_sizes: list[int], threads: list[int]) -> list[dict]:
    """Bare-forward images/s of EfficientNet-Lite0 per backend, thread count and batch size."""
    import torch

    dataset = load_dataset("fashion-mnist")
    split = dataset.split("test")
    rows = []
    candidates = [
        ("offline:effnet-lite0", "onnx", lambda: load_encoder("offline:effnet-lite0", backend="onnx")),
        ("offline:effnet-lite0", "torch", lambda: load_encoder("offline:effnet-lite0", backend="torch")),
        ("TorchEncoder", "torch", EffnetTorchEncoder),
        ("TorchEncoder", "onnx", EffnetTorchEncoder),
    ]
    pixels = None
    for name, backend, build in candidates:
        encoder = build()
        if pixels is None:
            pixels = to_pixels([split.load(index) for index in range(count)], encoder.preprocess.merged(dataset.preprocess_overrides))
        if isinstance(encoder, TorchEncoder) and backend == "onnx":
            encoder.set_backend("onnx")
        for thread_count in threads:
            encoder.set_num_threads(thread_count)
            torch.set_num_threads(thread_count)
            for batch_size in batch_sizes:
                rows.append({
                    "encoder": name,
                    "backend": encoder.backend,
                    "threads": thread_count,
                    "batch_size": batch_size,
                    "images_per_s": bare_forward(encoder, pixels, batch_size),
                })
    return rows


def head_to_head(best_onnx: dict, best_torch: dict, count: int, rounds: int = 3) -> dict:
    """Alternate the fastest onnx and eager-torch settings of EfficientNet-Lite0 `rounds` times; return rates and the median ratio.

    `best_onnx` and `best_torch` are rows of `backend_rates` (threads, batch_size). The grid
    picks the settings; this run compares them with the machine's speed changes spread over both.
    """
    import torch

    dataset = load_dataset("fashion-mnist")
    split = dataset.split("test")
    onnx = load_encoder("offline:effnet-lite0", backend="onnx")
    eager = load_encoder("offline:effnet-lite0", backend="torch")
    pixels = to_pixels([split.load(index) for index in range(count)], onnx.preprocess.merged(dataset.preprocess_overrides))

    onnx_rates, torch_rates = [], []
    for _ in range(rounds):
        onnx.set_num_threads(best_onnx["threads"])
        onnx_rates.append(bare_forward(onnx, pixels, best_onnx["batch_size"]))
        eager.set_num_threads(best_torch["threads"])
        torch.set_num_threads(best_torch["threads"])
        torch_rates.append(bare_forward(eager, pixels, best_torch["batch_size"]))
    ratios = [fast / slow for fast, slow in zip(onnx_rates, torch_rates)]
    return {"onnx": best_onnx, "torch": best_torch, "onnx_rounds": onnx_rates, "torch_rounds": torch_rates, "ratio": float(np.median(ratios))}


def onnx_check() -> dict:
    """Max |onnx - torch| of the generic onnx backend of a TorchEncoder on real Fashion-MNIST images."""
    dataset = load_dataset("fashion-mnist")
    split = dataset.split("test")
    encoder = EffnetTorchEncoder()
    pixels = to_pixels([split.load(index) for index in range(64)], encoder.preprocess.merged(dataset.preprocess_overrides))
    expected = encoder.encode(pixels)
    encoder.set_backend("onnx")
    found = encoder.encode(pixels)
    return {
        "backend": encoder.backend,
        "max_abs_difference": float(np.abs(found - expected).max()),
        "feature_scale": float(np.abs(expected).max()),
    }
