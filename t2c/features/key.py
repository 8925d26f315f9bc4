"""The feature-store key: what must match for two runs to share cached features."""

import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict

from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig

UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
READABLE_PART_LENGTH = 48  # characters kept of each id in an entry's folder name


def sanitize(text: str) -> str:
    """Return `text` with every run of characters outside [A-Za-z0-9._-] replaced by "_"."""
    cleaned = UNSAFE_CHARACTERS.sub("_", text).strip("._")
    return cleaned[:READABLE_PART_LENGTH] or "_"


class FeatureKey(BaseModel):
    """The fields that identify one feature-store entry.

    `preprocess_digest` is `PreprocessConfig.digest()` of the config after the data set's overrides.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    weights_sha256: str
    backend: str
    dataset: str
    split: str
    preprocess_digest: str

    @classmethod
    def for_encoder(
        cls, encoder: Encoder, dataset_id: str, split: str, preprocess: PreprocessConfig
    ) -> "FeatureKey":
        """Build the key of `encoder`'s features on split `split` of data set `dataset_id`."""
        return cls(
            model=encoder.id,
            weights_sha256=encoder.weights_sha256,
            backend=encoder.backend,
            dataset=dataset_id,
            split=split,
            preprocess_digest=preprocess.digest(),
        )

    def digest(self) -> str:
        """Return a 16-hex-digit sha256 of the key's canonical JSON form."""
        canonical = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def folder_name(self) -> str:
        """Return the entry's folder name: sanitised model and data set ids, then the key digest."""
        return f"{sanitize(self.model)}__{sanitize(self.dataset)}__{self.digest()}"
