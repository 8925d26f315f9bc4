"""Targets `openclip:<arch>/<pretrained>`: an open_clip model's image and text towers in one space.

`openclip:ViT-B-16/openai` is the default target once its weights are cached or downloadable.
Texts are tokenized with open_clip's `get_tokenizer` for the model and embedded with
`model.encode_text`; images go through `OpenClipEncoder`, which shares the same model.
"""

import logging

import numpy as np

from t2c.encoders.openclip_encoder import FAMILY, OpenClipEncoder, load_openclip_model
from t2c.encoders.weight_files import hf_cache_dir, is_connection_error, offline_error
from t2c.errors import ConfigError, ShapeError
from t2c.id_options import reject_unknown
from t2c.targets.base import Target
from t2c.targets.templates import TEMPLATE_SETS

log = logging.getLogger("t2c.targets.openclip")

DEFAULT_TEMPLATE_SET = "openai-imagenet"  # the 80 prompts of the CLIP paper, from open_clip's metadata


class OpenClipTarget(Target):
    """An open_clip model as a target: `image_encoder` embeds images, `encode_text` embeds texts.

    Args:
        model: the open_clip model in eval mode.
        tokenizer: open_clip's tokenizer for the model (texts -> (n, context_length) int64 tokens).
        image_encoder: the encoder around the same model.
        template_set: name in TEMPLATE_SETS of the default zero-shot prompts.
    """

    def __init__(self, model, tokenizer, image_encoder: OpenClipEncoder, template_set: str = DEFAULT_TEMPLATE_SET):
        if template_set not in TEMPLATE_SETS:
            raise ConfigError(f"template_set {template_set!r} is unknown; available: {', '.join(TEMPLATE_SETS)}")

        self.id = image_encoder.id
        self.dim = image_encoder.dim
        self.model = model
        self.tokenizer = tokenizer
        self.image_encoder = image_encoder
        self.template_set = template_set
        self._templates: list[str] | None = None

    @property
    def templates(self) -> list[str]:
        """The default prompt templates, such as "a photo of a {}." (loaded on first use)."""
        if self._templates is None:
            self._templates = TEMPLATE_SETS[self.template_set]()
        return self._templates

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Encode texts.

        Returns:
            (n, dim) float32 text embeddings in target space, not normalised.
        """
        import torch

        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise ShapeError(f"encode_text expects a list of strings, got {type(texts).__name__}; wrap a single text as [text]")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)

        tokens = self.tokenizer(list(texts)).to(self.image_encoder.device)
        with torch.inference_mode():
            embeddings = self.model.encode_text(tokens)
        return embeddings.float().cpu().numpy()

    def describe(self) -> dict:
        """Return the fields that identify this target in heads."""
        return {**super().describe(), "template_set": self.template_set}


def load_tokenizer(open_clip, model_name: str, model_id: str):
    """Return open_clip's tokenizer for `model_name`.

    NOTE: tokenizers from the Hugging Face Hub (SigLIP, models with a transformers text tower)
    are loaded by open_clip itself, which downloads unless huggingface_hub saw HF_HUB_OFFLINE=1
    when it was imported. CLIP's own BPE tokenizer ships inside open_clip.
    """
    try:
        return open_clip.get_tokenizer(model_name, cache_dir=str(hf_cache_dir()))
    except Exception as error:  # transformers and huggingface_hub raise several types offline
        if not is_connection_error(error):
            raise
        raise offline_error(model_id, "the tokenizer files", hf_cache_dir(), f"python -c \"import open_clip; open_clip.get_tokenizer('{model_name}')\"", error) from error


def load_openclip_target(name: str, **options) -> OpenClipTarget:
    """Build the target `openclip:<arch>/<pretrained>`; option `template_set` picks the default prompts."""
    reject_unknown(options, ("template_set",), f"{FAMILY}:{name}")
    import open_clip

    model, source, preprocess = load_openclip_model(name)
    tokenizer = load_tokenizer(open_clip, source.model_name, source.model_id)
    image_encoder = OpenClipEncoder(model, source.model_id, preprocess)
    return OpenClipTarget(model, tokenizer, image_encoder, **options)
