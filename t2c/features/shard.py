"""The shard file format: one safetensors file per shard.

A shard contains the tensor "features", (n, dim) float32 in encoder space, and its n sample keys as
a JSON list in the header's metadata under "keys". The metadata has exactly one entry because
safetensors 0.8 writes metadata entries in hash-map order, which varies between processes, and
a shard computed twice must give identical bytes.
"""

import json
import struct

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from t2c.errors import FeatureStoreError, ShapeError

FEATURES_TENSOR = "features"
KEYS_METADATA = "keys"


def shard_file_name(index: int) -> str:
    """Return the file name of shard `index`, such as "shard-00003.safetensors"."""
    return f"shard-{index:05d}.safetensors"


def check_features(keys: list[str], features: np.ndarray, dim: int) -> np.ndarray:
    """Validate a shard's features and return them as C-contiguous float32.

    Raises ShapeError when the shape is not (len(keys), dim) or a row contains NaN or infinity,
    naming the first such sample key.
    """
    features = np.asarray(features)
    expected = (len(keys), dim)
    if features.shape != expected:
        raise ShapeError(
            f"features have shape {features.shape} but the shard expects {expected} "
            "(one row per sample key, `dim` columns); check the encoder's output and `dim`"
        )
    if not np.issubdtype(features.dtype, np.floating):
        raise ShapeError(f"features have dtype {features.dtype} but the store expects float32")

    finite_rows = np.isfinite(features).all(axis=1)
    if not finite_rows.all():
        first = int(np.flatnonzero(~finite_rows)[0])
        count = int((~finite_rows).sum())
        raise ShapeError(
            f"features of sample {keys[first]!r} contain NaN or infinity ({count} of {len(keys)} "
            "samples in this shard do); check the encoder's weights and the preprocessing of that image"
        )
    return np.ascontiguousarray(features, dtype=np.float32)


def encode_shard(keys: list[str], features: np.ndarray) -> bytes:
    """Serialise keys and (n, dim) float32 features into safetensors bytes."""
    metadata = {KEYS_METADATA: json.dumps(keys, separators=(",", ":"))}
    return save({FEATURES_TENSOR: features}, metadata=metadata)


def decode_shard(data: bytes, name: str) -> tuple[list[str], np.ndarray]:
    """Parse safetensors bytes into (keys, (n, dim) float32 features); `name` appears in errors."""
    try:
        (header_size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + header_size])
        keys = json.loads(header["__metadata__"][KEYS_METADATA])
        features = load(data)[FEATURES_TENSOR]
    except (struct.error, ValueError, KeyError, TypeError, SafetensorError) as error:
        raise FeatureStoreError(
            f"shard {name} is not a valid t2c shard ({error}); run `t2c cache verify` and delete the entry"
        ) from None

    if features.ndim != 2 or features.shape[0] != len(keys):
        raise FeatureStoreError(
            f"shard {name} contains features of shape {features.shape} for {len(keys)} keys; "
            "run `t2c cache verify` and delete the entry"
        )
    return keys, features
