"""Encoders `timm:<model>`: pooled pre-logit features of timm models with pretrained weights.

`timm:resnet50.a1_in1k` names the architecture and the pretrained tag as timm does. A name
without a tag (`timm:resnet50`) takes timm's default tag, and the encoder's id then names that tag.
Features are `forward_head(forward_features(x), pre_logits=True)`: the pooled features the
classifier reads. Preprocessing comes from timm's `resolve_model_data_config`.
"""

import logging
import math
from pathlib import Path

from t2c.encoders.preprocess import DEFAULT_FILL, PreprocessConfig
from t2c.encoders.torch_base import TorchEncoder, import_library, state_dict_sha256
from t2c.encoders.weight_files import hf_file, is_connection_error, offline_error, offline_mode, torch_checkpoint_dir
from t2c.errors import ConfigError, NotFoundError
from t2c.id_options import reject_unknown
from t2c.registry import not_found_error

log = logging.getLogger("t2c.encoders.timm")

FAMILY = "timm"
DEFAULT_MODEL = "resnet50.a1_in1k"
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # the files timm tries on the Hub, in its order
DEFAULT_CROP_PCT = 0.875  # timm's default when a config has no crop_pct
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")  # the modes PreprocessConfig supports
CROP_MODE_RESIZE = {"center": "shortest", "squash": "squash", "border": "longest"}  # timm crop_mode -> PreprocessConfig.resize_mode


class TimmEncoder(TorchEncoder):
    """A timm model whose features are its pooled pre-logits: (n, 3, s, s) pixels -> (n, dim)."""

    def __init__(self, model, model_id: str, preprocess: PreprocessConfig) -> None:
        super().__init__(model)
        self.id = model_id
        self.preprocess = preprocess
        self.dim = int(getattr(model, "head_hidden_size", None) or model.num_features)
        self.weights_sha256 = state_dict_sha256(model)

    def forward(self, batch):
        """Return (n, dim) pooled pre-logit features of a (n, 3, s, s) batch."""
        features = self.model.forward_features(batch)
        return self.model.forward_head(features, pre_logits=True).flatten(1)


def timm_preprocess(data_config: dict, model_id: str) -> PreprocessConfig:
    """Translate a timm data config (from `timm.data.resolve_model_data_config`) into a PreprocessConfig.

    timm's eval transform resizes to floor(size / crop_pct) and center-crops `size`, which is
    what `resize` and `crop` declare. Crop mode "center" resizes the shorter side (resize_mode
    "shortest"), crop mode "squash" resizes both sides (resize_mode "squash"). Crop mode
    "border" resizes the longer side (resize_mode "longest") and pads the rest of the crop with
    the mean colour, round(255 * mean) per channel, as timm 1.0's `transforms_imagenet_eval` does.

    Raises:
        ConfigError: the input is not square 3-channel, or the interpolation is not supported.
    """
    channels, height, width = data_config["input_size"]
    if channels != 3 or height != width:
        raise ConfigError(
            f"{model_id} takes input of size {tuple(data_config['input_size'])}, but t2c supports square "
            "3-channel input only; pick another model or tag"
        )

    interpolation = data_config.get("interpolation", "bicubic")
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(
            f"{model_id} declares interpolation {interpolation!r}, which t2c does not support; supported: {', '.join(INTERPOLATIONS)}"
        )

    mean = tuple(float(value) for value in data_config["mean"])
    crop_mode = data_config.get("crop_mode") or "center"
    resize_mode = CROP_MODE_RESIZE.get(crop_mode, "shortest")  # timm's eval transform treats unknown modes as "center"
    fill = tuple(round(255 * value) for value in mean) if crop_mode == "border" else DEFAULT_FILL

    crop_pct = data_config.get("crop_pct") or DEFAULT_CROP_PCT
    return PreprocessConfig(
        resize=math.floor(height / crop_pct),
        resize_mode=resize_mode,
        crop=height,
        fill=fill,
        interpolation=interpolation,
        mean=mean,
        std=tuple(float(value) for value in data_config["std"]),
    )


def resolve_model_name(timm, name: str) -> tuple[str, object]:
    """Return ("arch.tag", pretrained config) for a timm name with or without a tag.

    Raises:
        NotFoundError: unknown architecture, unknown tag, or an architecture without pretrained weights.
    """
    if name.startswith(("hf-hub:", "local-dir:")):
        raise ConfigError(
            f"timm:{name} is not supported; t2c loads timm models by registered name (timm:resnet50.a1_in1k). "
            "Use hf:<repo> for transformers models"
        )

    if not timm.is_model(name):
        hint = "Run `python -c \"import timm; print(timm.list_pretrained('resnet*'))\"` to list names."
        raise not_found_error("timm model", name, timm.list_models(), hint)

    architecture = name.partition(".")[0]
    tags = timm.list_pretrained(f"{architecture}.*")
    try:
        pretrained_cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
    except RuntimeError as error:  # timm raises RuntimeError for an unknown tag
        raise not_found_error("timm pretrained tag", name, tags, "These are the tags timm has for this architecture.") from error

    if pretrained_cfg is None or not timm.models.is_model_pretrained(name):
        raise NotFoundError(
            f"timm model {name} has no pretrained weights; pick a name that `timm.list_pretrained()` lists, "
            "such as resnet50.a1_in1k"
        )
    return f"{architecture}.{pretrained_cfg.tag}", pretrained_cfg


def weights_file(pretrained_cfg, full_name: str, model_id: str) -> Path:
    """Return the local weights file of a timm pretrained config: from the Hub cache, torch's cache, or a download."""
    if pretrained_cfg.hf_hub_id:
        repo_id, _, revision = pretrained_cfg.hf_hub_id.partition("@")
        filenames = (pretrained_cfg.hf_hub_filename,) if pretrained_cfg.hf_hub_filename else HUB_WEIGHT_FILES
        return hf_file(repo_id, filenames, model_id=model_id, revision=revision or None, fetch=f"hf download {repo_id}")

    if pretrained_cfg.url:
        return url_weights_file(pretrained_cfg.url, full_name, model_id)

    raise NotFoundError(f"timm model {full_name} declares no weights location (Hub repo or URL); pick another tag")


def url_weights_file(url: str, full_name: str, model_id: str) -> Path:
    """Return a URL's file in torch's checkpoint cache, downloading it unless offline."""
    import torch.hub

    path = torch_checkpoint_dir() / Path(url).name
    fetch = f"python -c \"import timm; timm.create_model('{full_name}', pretrained=True)\""
    if path.is_file():
        return path
    if offline_mode():
        raise offline_error(model_id, path.name, path.parent, fetch)

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(path), progress=False)
    except Exception as error:  # urllib raises several types when the network fails
        if not is_connection_error(error):
            raise
        raise offline_error(model_id, path.name, path.parent, fetch, error) from error
    return path


def load_timm_encoder(name: str, **options) -> TimmEncoder:
    """Build the encoder `timm:<name>`; `name` is a timm model name with or without a pretrained tag."""
    reject_unknown(options, (), f"timm:{name}")
    timm = import_library("timm", FAMILY)

    full_name, pretrained_cfg = resolve_model_name(timm, name)
    model_id = f"{FAMILY}:{full_name}"
    path = weights_file(pretrained_cfg, full_name, model_id)

    log.info("building %s from %s", model_id, path)
    model = timm.create_model(full_name, pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    preprocess = timm_preprocess(timm.data.resolve_model_data_config(model), model_id)
    return TimmEncoder(model, model_id, preprocess)


def list_timm_models() -> list[str]:
    """Return timm's pretrained model names (arch.tag), or [] when timm is not installed."""
    try:
        import timm
    except ImportError:
        return []
    return timm.list_pretrained()
