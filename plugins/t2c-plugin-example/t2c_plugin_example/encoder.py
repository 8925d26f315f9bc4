"""`SeededConvEncoder`: an `Encoder` around a seeded random conv net."""

from collections.abc import Sequence

import numpy as np
import torch

from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ShapeError
from t2c_plugin_example.nets import seeded_conv_net, state_dict_sha256

PREPROCESS = PreprocessConfig(
    resize=32,
    crop=32,
    interpolation="bilinear",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)


class SeededConvEncoder(Encoder):
    """A conv net with random weights from a fixed seed: (n, 3, 32, 32) pixels -> (n, dim) features.

    The features carry no learned meaning; the encoder exists to run t2c without downloads.
    """

    backend = "torch"

    def __init__(self, model_id: str, channels: Sequence[int], seed: int) -> None:
        self.id = model_id
        self.dim = channels[-1]
        self.preprocess = PREPROCESS
        self.net = seeded_conv_net(channels, seed)
        self.weights_sha256 = state_dict_sha256(self.net)
        self.device = "cpu"

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """Encode (n, 3, h, w) float32 pixels into (n, dim) float32 features in encoder space."""
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 4 or pixels.shape[1] != 3:
            shape = getattr(pixels, "shape", type(pixels).__name__)
            raise ShapeError(
                f"{self.id} expects pixels of shape (n, 3, 32, 32) in NCHW layout but got {shape}; "
                "preprocess images with the encoder's `preprocess` config"
            )

        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            features = self.net(batch)
        return features.cpu().numpy()

    def set_device(self, device: str) -> None:
        """Move the net to `device` ("cpu", "cuda")."""
        self.net.to(device)
        self.device = device


def tiny_cnn() -> SeededConvEncoder:
    """Build "example:tiny-cnn": three conv layers (16, 32, 64 channels), 64-d features, seed 0."""
    return SeededConvEncoder("example:tiny-cnn", channels=(3, 16, 32, 64), seed=0)
