"""Target `offline:effnet-lite0-minilm`: EfficientNet-Lite0 images, MiniLM + ridge map texts, one 1280-d space.

Image embeddings are EfficientNet-Lite0's pooled features. Text embeddings are MiniLM sentence
embeddings mapped by ridge onto the space of EfficientNet's ImageNet classifier rows (see
`t2c_plugin_offline.text_map`), so the cosine of an image and a text behaves like the
classifier's score for a class described by that text.
"""

import logging

import numpy as np

from t2c.errors import ConfigError, NotFoundError, ShapeError
from t2c.targets.base import Target
from t2c.targets.templates import TEMPLATE_SETS

from t2c_plugin_offline import minilm
from t2c_plugin_offline.text_map import TextMap, load_text_map

log = logging.getLogger("t2c.offline.target")

FAMILY = "offline"
MODEL = "effnet-lite0-minilm"
DEFAULT_TEMPLATE_SET = "simple-imagenet"  # 7 prompts; the 80 of "openai-imagenet" fit no better


class EffnetMiniLMTarget(Target):
    """A small vision-language target built only from weights that ship in pip packages.

    MiniLM and the text map load on the first `encode_text`, so extracting image features
    does not load them. The first fit embeds 1000 class names x the template set
    and caches the result: 7,000 prompts for "simple-imagenet", 80,000 for "openai-imagenet"
    (MiniLM encodes roughly 200 prompts/s on 2 CPU cores).

    Args:
        backend: "onnx" or "torch", for the image side.
        template_set: name in `t2c.targets.templates.TEMPLATE_SETS` whose templates are
            averaged per ImageNet class to fit the text map; also the default zero-shot templates.
    """

    id = f"{FAMILY}:{MODEL}"
    dim = 1280  # EfficientNet-Lite0's pooled features

    def __init__(self, backend: str = "onnx", template_set: str = DEFAULT_TEMPLATE_SET):
        from t2c_plugin_offline.effnet import load_effnet_lite0  # imports torch

        if template_set not in TEMPLATE_SETS:
            raise ConfigError(f"template_set {template_set!r} is unknown; available: {', '.join(TEMPLATE_SETS)}")

        self.image_encoder = load_effnet_lite0(backend)
        self.template_set = template_set
        self._templates: list[str] | None = None
        self._text_device = "cpu"
        self._text_model = None
        self._text_map: TextMap | None = None

    @property
    def templates(self) -> list[str]:
        """The template set's prompts, such as "a photo of a {}." (loaded on first use)."""
        if self._templates is None:
            self._templates = TEMPLATE_SETS[self.template_set]()
        return self._templates

    @property
    def text_map(self) -> TextMap:
        """The MiniLM -> encoder-space map, fitted or read from the cache on first use."""
        if self._text_map is None:
            from t2c_plugin_offline.effnet import classifier_weights

            rows, _ = classifier_weights()
            self._text_map = load_text_map(self._load_text_model, rows, self.image_encoder.weights_sha256, self.templates)
        return self._text_map

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Encode texts.

        Returns:
            (n, 1280) float32 text embeddings in target space, not normalised.
        """
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise ShapeError(f"encode_text expects a list of strings, got {type(texts).__name__}; wrap a single text as [text]")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)

        text_map = self.text_map
        embeddings = minilm.embed(self._load_text_model(), list(texts))
        return text_map.transform(embeddings)

    def set_device(self, device: str) -> None:
        """Move both sides to `device`; the image side needs onnxruntime's CUDA provider for "cuda"."""
        self.image_encoder.set_device(device)
        self._text_device = device
        if self._text_model is not None:
            self._text_model.to(device)

    def set_num_threads(self, num_threads: int) -> None:
        """Limit the image side's threads and torch's (MiniLM's).

        NOTE: torch's thread count is process-wide, so this also affects other torch models.
        """
        import torch

        self.image_encoder.set_num_threads(num_threads)
        torch.set_num_threads(num_threads)

    def describe(self) -> dict:
        """Return the fields that identify this target in heads."""
        return {
            **super().describe(),
            "text_encoder": "all-MiniLM-L6-v2",
            "text_encoder_sha256": minilm.minilm_sha256(),
            "template_set": self.template_set,
        }

    def _load_text_model(self):
        if self._text_model is None:
            self._text_model = minilm.load_minilm(self._text_device)
        return self._text_model


def create_target(name: str, **options) -> Target:
    """Load target `offline:<name>`; the only model is effnet-lite0-minilm.

    Options: `backend` ("onnx" or "torch", image side) and `template_set` (default "simple-imagenet").
    """
    name = name or MODEL
    if name != MODEL:
        raise NotFoundError(f"target {FAMILY}:{name} not found; available: {FAMILY}:{MODEL}")

    unknown = sorted(set(options) - {"backend", "template_set"})
    if unknown:
        raise ConfigError(f"invalid options {unknown} for target {FAMILY}:{MODEL}; it accepts: backend, template_set")
    return EffnetMiniLMTarget(**options)
