"""`TorchEncoder`: the shared base of encoders that run an eager PyTorch module.

Subclasses set the `Encoder` fields and implement `forward`, which maps a float32 batch on the
model's device to (n, dim) features. This base converts arrays, checks shapes, moves the model
and batch between devices and runs under `torch.inference_mode`. `set_backend("onnx")` runs the
same forward pass as a checked ONNX export in ONNX Runtime (t2c.encoders.onnx_backend).
"""

import hashlib
import importlib
import logging
from types import ModuleType

import numpy as np

from t2c.encoders.base import Encoder
from t2c.errors import NotFoundError, ShapeError

log = logging.getLogger("t2c.encoders.torch")

ECOSYSTEM_INSTALL = "pip install 't2c[ecosystem]'"


def import_library(module: str, family: str, install: str = ECOSYSTEM_INSTALL) -> ModuleType:
    """Import an optional library that an encoder or target family needs, or explain how to install it.

    Raises:
        NotFoundError: the library is not installed; the message names `install`.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise NotFoundError(
            f"the {family} family needs the Python package {module!r}, which is not installed ({error}); "
            f"install it with `{install}`"
        ) from error


def state_dict_sha256(module) -> str:
    """Return the sha256 of a torch module's state dict: names, dtypes, shapes and raw bytes, sorted by name.

    NOTE: this reads every weight once. hashlib's sha256 took 0.84 s for 400 MB on the 2-core
    machine the tests run on, so a 4.4 GB model (ViT-g) adds about 9 s to loading.
    """
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)  # view() needs at least one dimension
        digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()


class TorchEncoder(Encoder):
    """An encoder around an eager torch module in eval mode.

    `model` is the module `forward` runs, `device` where it lives ("cpu" at first).
    """

    backend = "torch"

    def __init__(self, model) -> None:
        self.model = model.eval()
        self.device = "cpu"
        self.num_threads: int | None = None
        self._onnx_path = None  # the checked ONNX graph while backend is "onnx"
        self._onnx_session = None

    def __getstate__(self) -> dict:
        # An ONNX Runtime session cannot be serialised (Ray sends encoders to its actors); it is rebuilt on first use.
        state = self.__dict__.copy()
        state["_onnx_session"] = None
        return state

    def forward(self, batch):
        """Map a (n, 3, h, w) float32 tensor on `self.device` to (n, dim) features."""
        raise NotImplementedError

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """Encode a batch.

        Args:
            pixels: (n, 3, h, w) float32 in NCHW layout, preprocessed by `self.preprocess`.

        Returns:
            (n, dim) float32 features in encoder space.
        """
        import torch

        self._check_pixels(pixels)
        if self.backend == "onnx":
            return self._check_features(self._run_onnx(np.ascontiguousarray(pixels, dtype=np.float32)), len(pixels))

        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)

        with torch.inference_mode():
            features = self.forward(batch)

        return self._check_features(features.float().cpu().numpy(), len(pixels))

    def _check_features(self, features: np.ndarray, n: int) -> np.ndarray:
        if features.shape != (n, self.dim):
            raise ShapeError(
                f"{self.id} returned features of shape {features.shape} but (n={n}, dim={self.dim}) was "
                "expected; the model's output changed after loading, so reload the encoder"
            )
        return np.ascontiguousarray(features, dtype=np.float32)

    def _run_onnx(self, pixels: np.ndarray) -> np.ndarray:
        from t2c.encoders.onnx_backend import make_session

        if self._onnx_session is None:
            self._onnx_session = make_session(self._onnx_path, self.num_threads)
        return self._onnx_session.run(None, {"pixels": pixels})[0]

    def set_backend(self, backend: str) -> None:
        """Run in eager "torch" or in ONNX Runtime ("onnx", CPU only).

        "onnx" exports the model once (cached under the cache folder "onnx") and checks it against
        eager torch on real photos. When export or check fails, or the device is not the CPU, the
        encoder stays on "torch" and logs why. `backend` afterwards names what actually runs, and
        it is part of the feature-store key.
        """
        from t2c.encoders.onnx_backend import check_backend, export_checked_graph

        check_backend(backend)
        self._onnx_session = None
        if backend == "torch":
            self.backend = "torch"
            return
        if self.device != "cpu":
            log.warning("the onnx backend runs on the CPU only; %s stays on eager torch on %s", self.id, self.device)
            self.backend = "torch"
            return

        self._onnx_path = export_checked_graph(self)
        self.backend = "onnx" if self._onnx_path is not None else "torch"

    def set_device(self, device: str) -> None:
        """Move the model to `device` ("cpu", "cuda", "cuda:1")."""
        self.model.to(device)
        self.device = device
        if device != "cpu" and self.backend == "onnx":
            log.warning("the onnx backend runs on the CPU only; %s switches to eager torch on %s", self.id, device)
            self.backend = "torch"

    def set_num_threads(self, num_threads: int) -> None:
        """Set torch's CPU threads.

        NOTE: torch's thread count is process-wide, so this also affects other torch models.
        """
        import torch

        torch.set_num_threads(num_threads)
        self.num_threads = num_threads
        self._onnx_session = None  # rebuilt with the new intra-op thread count

    def _check_pixels(self, pixels: np.ndarray) -> None:
        side = self.preprocess.crop
        expected = f"(n, 3, {side}, {side})" if side else "(n, 3, h, w)"
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 4 or pixels.shape[1] != 3:
            shape = getattr(pixels, "shape", type(pixels).__name__)
            raise ShapeError(
                f"{self.id} expects pixels of shape {expected} in NCHW layout but got {shape}; "
                "preprocess images with the encoder's `preprocess` config (t2c.encoders.pixels.to_pixels)"
            )
