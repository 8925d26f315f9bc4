"""Encoders `hf:<repo>`: vision models from transformers, loaded with AutoModel and AutoImageProcessor.

`hf:facebook/dinov2-small` loads the Hub repo (from the Hugging Face cache, or downloaded unless
offline); `hf:/path/to/folder` loads a folder written by `save_pretrained`. Preprocessing is
translated from the repo's image processor config.

Option `pooling` picks the feature of one image:
- "auto" (default): `pooler_output` when the model returns one and the checkpoint contains the
  pooler's weights. For DINOv2 and CLIP that is the normalised CLS token, for ConvNeXt, ResNet and
  Swin the global average. Otherwise the CLS token when the model has one (a ViT checkpoint saved
  from an image classifier lacks the pooler), otherwise the mean of the output tokens.
- "cls": token 0 of `last_hidden_state`.
- "mean": the mean of `last_hidden_state` over patch tokens (the CLS and register tokens
  excluded), or over space for (n, c, h, w) outputs.
- "pooler": `pooler_output`.
A pooling other than what "auto" picks is part of the id (`hf:org/repo?pooling=mean`), so the
feature store and heads keep the two apart.
"""

import logging
from pathlib import Path

from t2c.encoders.preprocess import PreprocessConfig
from t2c.encoders.torch_base import TorchEncoder, import_library, state_dict_sha256
from t2c.encoders.weight_files import hf_cache_dir, hf_cache_entry, is_connection_error, offline_error, offline_mode
from t2c.errors import ConfigError, NotFoundError
from t2c.id_options import merge_options, reject_unknown, split_options

log = logging.getLogger("t2c.encoders.hf")

FAMILY = "hf"
DEFAULT_MODEL = "facebook/dinov2-small"
POOLINGS = ("auto", "cls", "mean", "pooler")
OPTIONS = ("pooling", "revision")
PIL_RESAMPLING = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}  # PIL.Image.Resampling values
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")  # the modes PreprocessConfig supports
CONVNEXT_FULL_SIZE = 384  # ConvNeXt's processor crops below this size and warps at or above it
CLS_PARAMETERS = ("cls_token", "class_embedding")  # parameter names of a CLS token in transformers models


class HFEncoder(TorchEncoder):
    """A transformers vision model and one pooling of its outputs: (n, 3, s, s) pixels -> (n, dim)."""

    def __init__(self, model, model_id: str, preprocess: PreprocessConfig, pooling: str, prefix_tokens: int, dim: int) -> None:
        super().__init__(model)
        self.id = model_id
        self.preprocess = preprocess
        self.pooling = pooling
        self.prefix_tokens = prefix_tokens
        self.dim = dim
        self.weights_sha256 = state_dict_sha256(model)

    def forward(self, batch):
        """Return (n, dim) pooled features of a (n, 3, s, s) batch."""
        return pool(self.model(pixel_values=batch), self.pooling, self.prefix_tokens)


def pool(outputs, pooling: str, prefix_tokens: int):
    """Reduce a model's outputs to (n, dim) features by `pooling`: "cls", "mean" or "pooler"."""
    if pooling == "pooler":
        return outputs.pooler_output.flatten(1)

    hidden = outputs.last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    if hidden.ndim == 4:  # (n, c, h, w) feature maps of conv nets
        return hidden.mean(dim=(2, 3))
    return hidden[:, prefix_tokens:].mean(dim=1)


def has_cls_token(model) -> bool:
    """Return whether the model has a learned CLS token (ViT, DeiT, BEiT, DINOv2, CLIP's vision tower)."""
    return any(name.endswith(CLS_PARAMETERS) for name, _ in model.named_parameters())


def resolve_pooling(requested: str, outputs, missing_keys: list[str], cls_token: bool, model_id: str) -> tuple[str, str]:
    """Return (pooling to use, pooling "auto" picks) for a model whose sample outputs are `outputs`.

    Raises:
        ConfigError: the requested pooling does not apply to this model's outputs.
    """
    has_pooler = getattr(outputs, "pooler_output", None) is not None
    pooler_loaded = has_pooler and not any(key.startswith("pooler.") or ".pooler." in key for key in missing_keys)
    token_outputs = getattr(outputs, "last_hidden_state", None) is not None and outputs.last_hidden_state.ndim == 3

    if pooler_loaded:
        automatic = "pooler"
    elif cls_token and token_outputs:
        automatic = "cls"
    else:
        automatic = "mean"

    if requested == "auto":
        return automatic, automatic
    if requested == "pooler" and not has_pooler:
        raise ConfigError(f"{model_id} returns no pooler_output, so pooling=pooler does not apply; use pooling=cls or pooling=mean")
    if requested == "pooler" and not pooler_loaded:
        log.warning("%s: the checkpoint lacks the pooler's weights, so pooling=pooler reads a randomly initialised layer", model_id)
    if requested == "cls" and not (cls_token and token_outputs):
        raise ConfigError(f"{model_id} has no CLS token, so pooling=cls does not apply; use pooling=mean or pooling=auto")
    return requested, automatic


def size_field(size, key: str):
    """Read one entry of an image processor's size: a dict in transformers 4, a SizeDict in 5."""
    if size is None:
        return None
    if isinstance(size, dict):
        return size.get(key)
    return getattr(size, key, None)


def interpolation_name(resample, model_id: str) -> str:
    """Return the PreprocessConfig interpolation for a processor's `resample` (PIL int, enum, or InterpolationMode)."""
    value = getattr(resample, "value", resample)
    if isinstance(value, str):
        name = value.lower()
    else:
        name = PIL_RESAMPLING.get(int(value), f"PIL resampling {value}")

    if name not in INTERPOLATIONS:
        raise ConfigError(f"{model_id}: interpolation {name!r} is not supported; supported: {', '.join(INTERPOLATIONS)}")
    return name


def hf_preprocess(processor, model_id: str) -> PreprocessConfig:
    """Translate a transformers image processor's settings into a PreprocessConfig.

    Handled: resize of the shortest edge, resize to a fixed square (height, width) as
    ViTImageProcessor does, which squashes the image (resize_mode "squash"), ConvNeXt's crop_pct
    (and its squash at 384 pixels or more), center crop, rescale by 1/255 or none, normalisation.

    Raises:
        ConfigError: non-square sizes, longest-edge resizing or an unusual rescale factor.
    """
    size = getattr(processor, "size", None)
    shortest = size_field(size, "shortest_edge")
    height, width = size_field(size, "height"), size_field(size, "width")
    crop_pct = getattr(processor, "crop_pct", None)
    squashes = False

    if not getattr(processor, "do_resize", True):
        resize = None
    elif shortest and crop_pct and shortest < CONVNEXT_FULL_SIZE:
        resize = int(shortest / crop_pct)
    elif shortest:
        resize = int(shortest)
        squashes = bool(crop_pct)  # ConvNeXt at 384 or more resizes to (shortest, shortest)
    elif height and width and height == width:
        resize = int(height)
        squashes = True
    else:
        raise ConfigError(f"{model_id}: image processor size {size} is not supported; t2c needs a shortest edge or a square size")

    crop = resize
    if getattr(processor, "do_center_crop", False):
        crop_height, crop_width = size_field(processor.crop_size, "height"), size_field(processor.crop_size, "width")
        if crop_height != crop_width:
            raise ConfigError(f"{model_id}: crop size {processor.crop_size} is not square, which t2c does not support")
        crop = int(crop_height)
    elif shortest and crop_pct and shortest < CONVNEXT_FULL_SIZE:
        crop = int(shortest)

    return PreprocessConfig(
        resize=resize,
        resize_mode="squash" if squashes else "shortest",
        crop=crop,
        interpolation=interpolation_name(getattr(processor, "resample", 3), model_id),
        value_scale=value_scale(processor, model_id),
        mean=channel_values(processor, "image_mean", 0.0),
        std=channel_values(processor, "image_std", 1.0),
    )


def value_scale(processor, model_id: str) -> float:
    """Return PreprocessConfig.value_scale: 1.0 after rescaling by 1/255, 255.0 without rescaling."""
    if not getattr(processor, "do_rescale", True):
        return 255.0

    factor = float(getattr(processor, "rescale_factor", 1 / 255))
    if abs(factor * 255.0 - 1.0) > 1e-6:
        raise ConfigError(f"{model_id}: rescale factor {factor} is not supported; t2c supports 1/255 or no rescaling")
    return 1.0


def channel_values(processor, attribute: str, neutral: float) -> tuple[float, float, float]:
    """Return the processor's per-channel mean or std, or `neutral` when it does not normalise."""
    if not getattr(processor, "do_normalize", True):
        return (neutral, neutral, neutral)

    values = [float(value) for value in getattr(processor, attribute)]
    if len(values) == 1:
        values = values * 3
    return tuple(values)


def from_pretrained(loader, source: str, model_id: str, revision: str | None, **kwargs):
    """Call `loader.from_pretrained` on a local folder or a cached (or downloadable) Hub repo.

    Raises:
        OfflineError: the repo is not cached and cannot be downloaded.
        NotFoundError: the repo or folder lacks the files `loader` needs.
    """
    local = Path(source).is_dir()
    try:
        if local:
            return loader.from_pretrained(source, local_files_only=True, **kwargs)
        return loader.from_pretrained(
            source, revision=revision, cache_dir=str(hf_cache_dir()), local_files_only=offline_mode(), **kwargs
        )
    except OSError as error:
        if not local and is_connection_error(error):
            cause = None if offline_mode() else error
            raise offline_error(model_id, hf_cache_entry(source), hf_cache_dir(), f"hf download {source}", cause) from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotFoundError(f"{model_id}: {loader.__name__} could not load {source} ({first_line})") from error


def vision_tower(model, model_id: str):
    """Return the vision tower of a vision-language model (CLIP, SigLIP), or `model` itself."""
    tower = getattr(model, "vision_model", None)
    if tower is not None and hasattr(model.config, "vision_config"):
        log.info("%s is a vision-language model; using its vision tower %s", model_id, type(tower).__name__)
        return tower
    return model


def load_hf_encoder(name: str, **options) -> HFEncoder:
    """Build the encoder `hf:<repo>` or `hf:<folder>`; options `pooling` (see the module docstring) and `revision`."""
    source, query = split_options(name, "hf encoder id")
    options = merge_options(query, options, f"{FAMILY}:{source}")
    reject_unknown(options, OPTIONS, f"{FAMILY}:{source}")

    requested = options.get("pooling", "auto")
    if requested not in POOLINGS:
        raise ConfigError(f"pooling={requested!r} is unknown; use one of {', '.join(POOLINGS)}")

    return build_hf_encoder(source, f"{FAMILY}:{source}", requested, options.get("revision"))


def build_hf_encoder(source: str, base_id: str, pooling: str = "auto", revision: str | None = None) -> HFEncoder:
    """Load a transformers vision model and its image processor as an encoder with id `base_id`.

    Plugins use it too: `build_hf_encoder("facebook/dinov2-small", "dinov2:vits14")`. A local
    folder's id is made absolute.
    """
    import torch

    transformers = import_library("transformers", FAMILY)
    if Path(source).is_dir():
        base_id = f"{base_id.partition(':')[0]}:{Path(source).resolve().as_posix()}"

    model, loading_info = from_pretrained(transformers.AutoModel, source, base_id, revision, output_loading_info=True)
    processor = from_pretrained(transformers.AutoImageProcessor, source, base_id, revision)
    model = vision_tower(model, base_id).eval()
    preprocess = hf_preprocess(processor, base_id)

    side = preprocess.crop or preprocess.resize or int(getattr(model.config, "image_size", 224))
    with torch.inference_mode():
        sample = model(pixel_values=torch.zeros(1, 3, side, side))

    cls_token = has_cls_token(model)
    used, automatic = resolve_pooling(pooling, sample, list(loading_info.get("missing_keys", [])), cls_token, base_id)
    prefix_tokens = 1 + int(getattr(model.config, "num_register_tokens", 0) or 0) if cls_token else 0
    dim = int(pool(sample, used, prefix_tokens).shape[-1])

    model_id = base_id if used == automatic else f"{base_id}?pooling={used}"
    log.info("built %s (%s pooling, %d-d)", model_id, used, dim)
    return HFEncoder(model, model_id, preprocess, used, prefix_tokens, dim)
