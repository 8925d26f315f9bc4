"""`TorchEncoder`: the shared base of encoders that run an eager PyTorch module.

Subclasses set the `Encoder` fields and implement `forward`, which maps a float32 batch on the
model's device to (n, dim) features. This base converts arrays, checks shapes, moves the model
and batch between devices and runs under `torch.inference_mode`.
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
        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)

        with torch.inference_mode():
            features = self.forward(batch)

        features = features.float().cpu().numpy()
        if features.shape != (len(pixels), self.dim):
            raise ShapeError(
                f"{self.id} returned features of shape {features.shape} but (n={len(pixels)}, dim={self.dim}) was "
                "expected; the model's output changed after loading, so reload the encoder"
            )
        return features

    def set_device(self, device: str) -> None:
        """Move the model to `device` ("cpu", "cuda", "cuda:1")."""
        self.model.to(device)
        self.device = device

    def set_num_threads(self, num_threads: int) -> None:
        """Set torch's CPU threads.

        NOTE: torch's thread count is process-wide, so this also affects other torch models.
        """
        import torch

        torch.set_num_threads(num_threads)

    def _check_pixels(self, pixels: np.ndarray) -> None:
        side = self.preprocess.crop
        expected = f"(n, 3, {side}, {side})" if side else "(n, 3, h, w)"
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 4 or pixels.shape[1] != 3:
            shape = getattr(pixels, "shape", type(pixels).__name__)
            raise ShapeError(
                f"{self.id} expects pixels of shape {expected} in NCHW layout but got {shape}; "
                "preprocess images with the encoder's `preprocess` config (t2c.encoders.pixels.to_pixels)"
            )
