"""EfficientNet-Lite0 (ImageNet-1k): pooled 1280-d features, run by ONNX Runtime or eager torch.

The ONNX graph is exported from the packaged torch weights once, checked against eager torch on a
real photo and cached under the t2c cache folder "onnx". When export or the check fails, the
encoder runs in eager torch and the reason is logged.
"""

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.features.atomic import commit, temp_path
from t2c.paths import cache_dir

from t2c_plugin_offline.configs import EFFNET_LITE0
from t2c_plugin_offline.inputs import check_pixels
from t2c_plugin_offline.onnx_encoder import OnnxEncoder
from t2c_plugin_offline.weights import effnet_lite0_weights, file_sha256

log = logging.getLogger("t2c.offline.effnet")

MODEL_ID = "offline:effnet-lite0"
FEATURE_DIM = 1280
INPUT_SHAPE = (3, 224, 224)
OPSET = 17
MAX_EXPORT_DIFFERENCE = 1e-4  # max |onnx - torch| relative to max |torch| over one real photo


class PooledFeatures(torch.nn.Module):
    """EfficientNet-Lite0's last feature map averaged over space: (n, 3, 224, 224) -> (n, 1280)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        # torch.onnx.export restores the top module's training flag on every child afterwards,
        # so the wrapper itself must be in eval mode or batch norm switches to batch statistics.
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(pixels).mean((2, 3))


def load_state_dict() -> dict:
    """Load the packaged ImageNet state dict (tensors only)."""
    return torch.load(effnet_lite0_weights(), map_location="cpu", weights_only=True)


def build_model() -> torch.nn.Module:
    """Build EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode.

    Its activations stay ReLU6: `set_swish(memory_efficient=False)`, the step many export recipes
    call first, swaps them for Swish and silently breaks the Lite weights.
    """
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(load_state_dict(), strict=True)
    return model.eval()


def classifier_weights() -> tuple[np.ndarray, np.ndarray]:
    """Return the ImageNet classifier `_fc`: weight (1000, 1280) and bias (1000,), float32.

    Logits of an image are `weight @ features + bias`, with features from this encoder.
    """
    state = load_state_dict()
    weight = state["_fc.weight"].numpy().astype(np.float32)
    bias = state["_fc.bias"].numpy().astype(np.float32)
    return weight, bias


class ImagenetClassifierMixin:
    """Gives an EfficientNet-Lite0 encoder its ImageNet classifier, for t2c's optional `classifier()` interface."""

    def classifier(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return weight (1000, 1280), bias (1000,) and open_clip's cleaned ImageNet class names, in label order."""
        from t2c_plugin_offline.text_map import imagenet_classnames

        weight, bias = classifier_weights()
        return weight, bias, imagenet_classnames()


class EffnetOnnxEncoder(ImagenetClassifierMixin, OnnxEncoder):
    """EfficientNet-Lite0 run by ONNX Runtime, with its ImageNet classifier."""


class TorchEffnetEncoder(ImagenetClassifierMixin, Encoder):
    """EfficientNet-Lite0 in eager torch (channels-last memory format, which is faster on CPU)."""

    id = MODEL_ID
    dim = FEATURE_DIM
    preprocess = EFFNET_LITE0
    backend = "torch"

    def __init__(self, weights_sha256: str):
        self.weights_sha256 = weights_sha256
        self._device = torch.device("cpu")
        self._module = PooledFeatures(build_model()).to(memory_format=torch.channels_last)

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """Encode (n, 3, 224, 224) float32 pixels into (n, 1280) float32 features."""
        pixels = check_pixels(pixels, self.preprocess, self.id)
        batch = torch.from_numpy(pixels).to(self._device).contiguous(memory_format=torch.channels_last)

        with torch.inference_mode():
            features = self._module(batch)
        return features.float().cpu().numpy()

    def set_device(self, device: str) -> None:
        """Move the model to "cpu" or "cuda[:N]"."""
        try:
            target = torch.device(device)
        except RuntimeError as error:
            raise ConfigError(f"device {device!r} is invalid ({error}); use 'cpu' or 'cuda[:N]'") from error

        if target.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but torch sees no CUDA device; use 'cpu'")
        if target.type not in ("cpu", "cuda"):
            raise ConfigError(f"device {device!r} is not supported by {self.id}; use 'cpu' or 'cuda[:N]'")

        self._device = target
        self._module.to(target)

    def set_num_threads(self, num_threads: int) -> None:
        """Set torch's intra-op thread count.

        NOTE: torch's thread count is process-wide, so this also affects other torch models.
        """
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ConfigError(f"num_threads must be a positive integer, got {num_threads!r}")
        torch.set_num_threads(num_threads)


def export_onnx(module: torch.nn.Module, path: Path) -> None:
    """Export `module` to ONNX at `path`, input "pixels" and output "features" with a dynamic batch axis."""
    example = torch.zeros((2, *INPUT_SHAPE))

    # NOTE: the legacy TorchScript exporter (dynamo=False) needs no onnxscript; it warns about its
    # deprecation and about unfoldable Slice ops, neither of which changes the graph's results.
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


def export_difference(module: torch.nn.Module, path: Path) -> float:
    """Return max |onnx - torch| / max |torch| of the pooled features of skimage's chelsea photo."""
    import skimage.data
    from PIL import Image

    from t2c.encoders.pixels import to_pixels
    from t2c_plugin_offline.runtime import make_session

    pixels = to_pixels([Image.fromarray(skimage.data.chelsea())], EFFNET_LITE0)

    with torch.inference_mode():
        expected = module(torch.from_numpy(pixels)).numpy()
    session = make_session(path, "cpu", 1)
    got = session.run(None, {"pixels": pixels})[0]

    return float(np.abs(got - expected).max() / np.abs(expected).max())


def onnx_cache_path(weights_sha256: str) -> Path:
    """Return where the exported graph of these weights is cached."""
    shape = "x".join(str(size) for size in INPUT_SHAPE)
    return cache_dir("onnx") / f"effnet-lite0-{weights_sha256[:16]}-{shape}-opset{OPSET}.onnx"


def load_effnet_lite0(backend: str = "onnx") -> Encoder:
    """Load the EfficientNet-Lite0 encoder.

    Args:
        backend: "onnx" (default, about 3x faster on CPU than eager torch) or "torch".

    Returns:
        An `EffnetOnnxEncoder`, or a `TorchEffnetEncoder` when backend is "torch" or export failed;
        both have `classifier()`.
    """
    if backend not in ("onnx", "torch"):
        raise ConfigError(f"backend {backend!r} is not available for {MODEL_ID}; use 'onnx' or 'torch'")

    weights_sha256 = file_sha256(effnet_lite0_weights())
    if backend == "torch":
        return TorchEffnetEncoder(weights_sha256)

    path = onnx_cache_path(weights_sha256)
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            log.debug("ONNX cache hit: %s", path)
        elif not _export_checked(path):
            return TorchEffnetEncoder(weights_sha256)

    return EffnetOnnxEncoder(MODEL_ID, FEATURE_DIM, EFFNET_LITE0, weights_sha256, graph=path)


def _export_checked(path: Path) -> bool:
    """Export, check against eager torch and move the graph to `path`; return False on failure."""
    log.info("ONNX cache miss: exporting %s to %s", MODEL_ID, path)
    module = PooledFeatures(build_model())
    partial = temp_path(path)

    try:
        export_onnx(module, partial)
        difference = export_difference(module, partial)
    except Exception as error:  # noqa: BLE001 - any failure of export or of the check falls back to eager torch
        log.warning("ONNX export of %s failed (%s: %s); running it in eager torch", MODEL_ID, type(error).__name__, error)
        partial.unlink(missing_ok=True)
        return False

    if difference > MAX_EXPORT_DIFFERENCE:
        log.warning(
            "ONNX export of %s differs from eager torch by %.2e (relative, limit %.0e); running it in eager torch",
            MODEL_ID, difference, MAX_EXPORT_DIFFERENCE,
        )
        partial.unlink(missing_ok=True)
        return False

    commit(partial, path)
    log.info("exported %s to ONNX; max relative difference from eager torch %.2e", MODEL_ID, difference)
    return True
