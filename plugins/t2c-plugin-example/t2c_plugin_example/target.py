"""`BagOfWordsTarget`: a toy vision-language model for running t2c end to end without downloads.

Its image side is a seeded random conv net and its text side a hashing bag of words, so the two
sides share a 32-d space in shape only: texts and images of the same thing do not land close.
Use it to exercise the pipeline, never to measure anything.
"""

import hashlib
import re

import numpy as np

from t2c.errors import ConfigError
from t2c.targets.base import Target
from t2c_plugin_example.encoder import SeededConvEncoder

DIM = 32
TOKEN = re.compile(r"[a-z0-9]+")


def hash_bag_of_words(texts: list[str], dim: int = DIM) -> np.ndarray:
    """Embed texts as signed token counts in `dim` hashed buckets: (n, dim) float32.

    A token's bucket and sign come from its blake2b digest, which, unlike Python's `hash`,
    is the same in every process.
    """
    embeddings = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for token in TOKEN.findall(text.lower()):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % dim
            sign = 1.0 if digest[4] & 1 else -1.0
            embeddings[row, bucket] += sign
    return embeddings


class BagOfWordsTarget(Target):
    """The target "example:bag-of-words": 32-d seeded conv net images, hashed bag-of-words texts."""

    def __init__(self) -> None:
        self.id = "example:bag-of-words"
        self.dim = DIM
        self.image_encoder = SeededConvEncoder(self.id, channels=(3, 16, DIM), seed=1)
        self.templates = ["a {}.", "a drawing of a {}."]

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Encode texts into (n, 32) float32 embeddings in target space, not normalised."""
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise ConfigError(f"{self.id} encodes a list of strings but got {texts!r}; wrap a single text in a list")
        return hash_bag_of_words(list(texts))
