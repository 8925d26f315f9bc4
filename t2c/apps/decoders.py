"""Concept-to-text decoders: turn vectors in target space into text.

A decoder is registered through the `register_decoders` hook as `register(name, factory)`. The
factory is called as `factory(target=target, **options)` and returns an object with

    decode(batch: TargetVectors) -> list[dict]

returning one dict per vector with at least "text" (a string). The built-in "vocabulary" decoder
returns the nearest words of a vocabulary by cosine and adds "words": [{"word", "score"}, ...].
Generative decoders (for example the ClipCap plugin's "clipcap") return generated text.
"""

import logging
from dataclasses import dataclass

import numpy as np

from t2c.apps.vocabulary import Vocabulary, load_vocabulary, vocabulary_embeddings
from t2c.errors import ConfigError, ShapeError
from t2c.targets.base import Target
from t2c.targets.concepts import normalize_rows

log = logging.getLogger("t2c.apps.decoders")

DEFAULT_TOP_K = 10
KINDS = ("point", "direction")


@dataclass
class TargetVectors:
    """Vectors to decode, all in target space.

    Attributes:
        vectors: (n, q) float32. A "point" row (an image, a class mean) is the head's output,
            neither centered nor normalised. A "direction" row (a difference of means, a probe's
            weights) is a unit vector.
        kinds: n entries, "point" or "direction".
        target_mean: (q,) mean of the target features the head was fitted on, or None.
    """

    vectors: np.ndarray
    kinds: list[str]
    target_mean: np.ndarray | None = None

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.kinds) != len(self.vectors):
            raise ShapeError(f"vectors of shape {self.vectors.shape} need one kind each, got {len(self.kinds)} kinds")
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ConfigError(f"vector kinds {unknown} are invalid; use {' or '.join(KINDS)}")

    def centered(self) -> np.ndarray:
        """Return the vectors with `target_mean` subtracted from the point rows (directions unchanged)."""
        if self.target_mean is None:
            return self.vectors
        points = np.array([kind == "point" for kind in self.kinds])[:, None]
        return np.where(points, self.vectors - self.target_mean, self.vectors)


class VocabularyDecoder:
    """Decodes a vector into the words of a vocabulary whose concept vectors are closest by cosine.

    Args:
        target: the target whose text side embeds the words.
        vocabulary: a built-in vocabulary name, a word file, a list of words or a `Vocabulary`
            (default: the WordNet nouns and adjectives).
        templates: prompt templates per word (default "a photo of {}.").
        top_k: words per vector.
        center: subtract the head's target mean from point vectors before cosine, as zero-shot
            classification and search score images.
    """

    def __init__(
        self,
        target: Target,
        vocabulary: str | list[str] | Vocabulary | None = None,
        templates: list[str] | None = None,
        top_k: int = DEFAULT_TOP_K,
        center: bool = True,
    ):
        if top_k < 1:
            raise ConfigError(f"top_k={top_k} must be at least 1")
        self.target = target
        self.vocabulary = load_vocabulary(vocabulary)
        self.templates = templates
        self.top_k = top_k
        self.center = center
        self._embeddings: np.ndarray | None = None

    @property
    def embeddings(self) -> np.ndarray:
        """(V, q) unit concept vectors of the vocabulary, computed or read from the cache on first use."""
        if self._embeddings is None:
            self._embeddings = vocabulary_embeddings(self.target, self.vocabulary, self.templates)
        return self._embeddings

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Return (n, V) cosine similarities of (n, q) target-space vectors with every word."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.embeddings.shape[1]:
            raise ConfigError(
                f"vectors have shape {vectors.shape}, expected (n, {self.embeddings.shape[1]}) in the space of {self.target.id}"
            )
        return normalize_rows(vectors) @ self.embeddings.T

    def decode(self, batch: TargetVectors) -> list[dict]:
        """Return, per vector, the `top_k` nearest words with scores and the words joined as "text"."""
        vectors = batch.centered() if self.center else batch.vectors
        results = []
        for row in self.scores(vectors):
            order = np.argsort(-row)[: self.top_k]
            words = [{"word": self.vocabulary.words[index], "score": float(row[index])} for index in order]
            results.append({"text": ", ".join(item["word"] for item in words), "words": words})
        return results

    def rank_of(self, batch: TargetVectors, word: str) -> list[int] | None:
        """Return the 1-based rank of `word` among the vocabulary for each vector, or None if it is not a word here."""
        try:
            index = self.vocabulary.words.index(word)
        except ValueError:
            return None
        scores = self.scores(batch.centered() if self.center else batch.vectors)
        return [int((row > row[index]).sum()) + 1 for row in scores]
