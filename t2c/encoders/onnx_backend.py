"""The `onnx` backend of torch encoders: export once, check against eager torch, run in ONNX Runtime.

`export_checked_graph(encoder)` exports `encoder.forward` with torch's TorchScript exporter
(dynamic batch axis), compares the graph with eager torch on real photos and caches it under the
cache folder "onnx", keyed by model id, weights sha256, input shape and opset. When the encoder
cannot be exported or the graph disagrees with torch, it logs the reason and returns None, so
the encoder stays on eager torch.
"""

import hashlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from t2c.errors import ConfigError
from t2c.features.atomic import commit, temp_path
from t2c.paths import cache_dir

log = logging.getLogger("t2c.encoders.onnx_backend")

BACKENDS = ("torch", "onnx")
OPSET = 17
MAX_RELATIVE_DIFFERENCE = 1e-4  # max |onnx - torch| over max |torch| on the check photos
CHECK_PHOTOS = ("chelsea", "astronaut", "coffee")  # skimage's bundled photos


@dataclass(frozen=True)
class ExportCheck:
    """The difference between an exported graph and eager torch on the check photos.

    `max_abs` is max |onnx - torch| and `scale` is max |torch|, both in feature units.
    """

    max_abs: float
    scale: float

    @property
    def relative(self) -> float:
        return self.max_abs / max(self.scale, 1e-12)


def check_backend(backend: str) -> str:
    """Return `backend` when it is "torch" or "onnx", else raise ConfigError."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is unknown; use one of {list(BACKENDS)}")
    return backend


def available_cores() -> int:
    """Return the number of CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def graph_path(model_id: str, weights_sha256: str, input_shape: tuple[int, ...]) -> Path:
    """Return the cache path of the graph of `model_id` with these weights and (3, h, w) input shape."""
    shape = "x".join(str(size) for size in input_shape)
    digest = hashlib.sha256(f"{model_id}|{weights_sha256}|{shape}|opset{OPSET}".encode()).hexdigest()[:16]
    safe_id = "".join(char if char.isalnum() or char in "-_." else "_" for char in model_id)
    return cache_dir("onnx") / f"{safe_id}-{shape}-{digest}.onnx"


def check_pixels(encoder) -> np.ndarray:
    """Return skimage's photos preprocessed for `encoder`: (3, 3, h, w) float32."""
    import skimage.data
    from PIL import Image

    from t2c.encoders.pixels import to_pixels

    images = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in CHECK_PHOTOS]
    return to_pixels(images, encoder.preprocess)


def forward_module(encoder):
    """Wrap `encoder.forward` in a torch module in eval mode, the unit torch.onnx.export traces."""
    import torch

    class Forward(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = encoder.model
            # torch.onnx.export restores the top module's training flag on every child afterwards,
            # so the wrapper itself must be in eval mode or batch norm switches to batch statistics.
            self.eval()

        def forward(self, pixels):
            return encoder.forward(pixels)

    return Forward()


def export_graph(encoder, path: Path, input_shape: tuple[int, ...]) -> None:
    """Export `encoder.forward` on CPU to `path`: input "pixels" (n, *input_shape), output "features" (n, dim)."""
    import torch

    module = forward_module(encoder)
    example = torch.zeros((2, *input_shape))

    # NOTE: the TorchScript exporter (dynamo=False) needs no onnxscript; it warns about its
    # deprecation, which does not change the graph.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["pixels"],
            output_names=["features"],
            dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def make_session(path: Path, num_threads: int | None):
    """Build a CPU ONNX Runtime session for the graph at `path` with `num_threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or available_cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def compare(encoder, path: Path) -> ExportCheck:
    """Run the graph at `path` and eager torch on the check photos and return their difference."""
    import torch

    pixels = check_pixels(encoder)
    with torch.inference_mode():
        expected = encoder.forward(torch.from_numpy(pixels)).float().numpy()
    session = make_session(path, None)
    found = session.run(None, {"pixels": pixels})[0]
    return ExportCheck(max_abs=float(np.abs(found - expected).max()), scale=float(np.abs(expected).max()))


def export_checked_graph(encoder) -> Path | None:
    """Return the checked ONNX graph of `encoder` (a TorchEncoder on CPU), exporting it on a cache miss.

    Returns None, logging the reason at WARNING, when the encoder has no fixed input size, the
    export fails, or the graph differs from eager torch by more than MAX_RELATIVE_DIFFERENCE.
    """
    side = encoder.preprocess.crop
    if not side:
        log.warning("%s has no fixed input size (preprocess.crop), so it cannot be exported to ONNX; running eager torch", encoder.id)
        return None

    input_shape = (3, int(side), int(side))
    path = graph_path(encoder.id, encoder.weights_sha256, input_shape)
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            log.debug("ONNX cache hit for %s: %s", encoder.id, path)
            return path

        log.info("ONNX cache miss: exporting %s to %s", encoder.id, path)
        partial = temp_path(path)
        try:
            export_graph(encoder, partial, input_shape)
            check = compare(encoder, partial)
        except Exception as error:  # noqa: BLE001 - any failure of export or check falls back to eager torch
            log.warning("ONNX export of %s failed (%s: %s); running eager torch", encoder.id, type(error).__name__, error)
            partial.unlink(missing_ok=True)
            return None

        if not check.relative <= MAX_RELATIVE_DIFFERENCE:
            log.warning(
                "ONNX export of %s differs from eager torch by %.2e (max abs %.3e, feature scale %.3e; limit %.0e relative); "
                "running eager torch",
                encoder.id, check.relative, check.max_abs, check.scale, MAX_RELATIVE_DIFFERENCE,
            )
            partial.unlink(missing_ok=True)
            return None

        commit(partial, path)
        log.info(
            "exported %s to ONNX: max abs difference from eager torch %.3e at feature scale %.3e (%.2e relative)",
            encoder.id, check.max_abs, check.scale, check.relative,
        )
        return path
