"""An encoder backed by an ONNX Runtime session, optionally tapping an intermediate tensor."""

import logging
from pathlib import Path

import numpy as np

from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError

from t2c_plugin_offline.inputs import check_pixels
from t2c_plugin_offline.runtime import available_cores, make_session, providers_for

log = logging.getLogger("t2c.offline.onnx")


class OnnxEncoder(Encoder):
    """Runs an ONNX graph whose single output is the feature tensor.

    The session is built on first use and rebuilt after `set_device` or `set_num_threads`.
    With `token` set the output is (n, tokens, dim) and the features are `output[:, token]`.
    """

    backend = "onnx"

    def __init__(
        self,
        id: str,
        dim: int,
        preprocess: PreprocessConfig,
        weights_sha256: str,
        graph: bytes | Path,
        token: int | None = None,
    ):
        self.id = id
        self.dim = dim
        self.preprocess = preprocess
        self.weights_sha256 = weights_sha256
        self._graph = graph
        self._token = token
        self._device = "cpu"
        self._num_threads = available_cores()
        self._session = None

    @property
    def session(self):
        """The ONNX Runtime session, built on first use."""
        if self._session is None:
            log.info("building ONNX Runtime session for %s on %s, %d threads", self.id, self._device, self._num_threads)
            self._session = make_session(self._graph, self._device, self._num_threads)
        return self._session

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """Encode a batch.

        Args:
            pixels: (n, 3, 224, 224) or (n, 224, 224, 3) float32, in the layout `preprocess.layout` sets.

        Returns:
            (n, dim) float32 features in encoder space.
        """
        pixels = check_pixels(pixels, self.preprocess, self.id)

        input_name = self.session.get_inputs()[0].name
        output = self.session.run(None, {input_name: pixels})[0]
        if self._token is not None:
            output = output[:, self._token]

        return np.ascontiguousarray(output, dtype=np.float32)

    def set_device(self, device: str) -> None:
        """Run on "cpu", or on "cuda[:N]" when onnxruntime has the CUDA execution provider."""
        providers_for(device)
        if device != self._device:
            self._device = device
            self._session = None

    def set_num_threads(self, num_threads: int) -> None:
        """Set ONNX Runtime's intra-op thread count (default: all cores this process may use)."""
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ConfigError(f"num_threads must be a positive integer, got {num_threads!r}")
        if num_threads != self._num_threads:
            self._num_threads = num_threads
            self._session = None
