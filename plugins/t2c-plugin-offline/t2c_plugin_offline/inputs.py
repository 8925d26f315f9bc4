"""Validation of the pixel arrays that encoders receive."""

import numpy as np

from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ShapeError


def expected_shape(config: PreprocessConfig) -> tuple:
    """Return the per-image input shape `config` produces, with None for a free side."""
    side = config.crop if config.crop is not None else config.resize
    if config.layout == "NCHW":
        return (3, side, side)
    return (side, side, 3)


def check_pixels(pixels: np.ndarray, config: PreprocessConfig, encoder_id: str) -> np.ndarray:
    """Return `pixels` as a C-contiguous float32 batch after checking its shape and values.

    Args:
        pixels: (n, 3, h, w) or (n, h, w, 3) floats, in the layout `config.layout` sets.
        config: the encoder's preprocessing, which fixes layout and side.
        encoder_id: named in errors.
    """
    expected = expected_shape(config)
    shown = "(n, " + ", ".join("?" if size is None else str(size) for size in expected) + ")"

    if not isinstance(pixels, np.ndarray) or not np.issubdtype(pixels.dtype, np.floating):
        raise ShapeError(
            f"{encoder_id} expects a float32 numpy array of shape {shown}, got {type(pixels).__name__} "
            f"{getattr(pixels, 'dtype', '')}; convert images with t2c.encoders.pixels.to_pixels"
        )

    matches = pixels.ndim == 4 and all(size is None or size == got for size, got in zip(expected, pixels.shape[1:]))
    if not matches or len(pixels) == 0:
        raise ShapeError(
            f"{encoder_id} expects pixels of shape {shown} ({config.layout}) with n >= 1, got {pixels.shape}; "
            "preprocess with this encoder's PreprocessConfig"
        )

    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if not np.isfinite(pixels).all():
        raise ShapeError(f"{encoder_id} received pixels with NaN or infinite values; check the image decoding")
    return pixels
