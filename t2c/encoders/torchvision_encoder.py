"""Encoders `torchvision:<model>/<weights>`: penultimate features of torchvision classifiers.

`torchvision:resnet50/IMAGENET1K_V2` names a classification model and a member of its weights
enum; `torchvision:resnet50` takes the enum's DEFAULT. The final linear classifier is replaced by
`Identity`, so features are what the classifier reads (2048-d pooled features for ResNet-50).
Preprocessing comes from the weights' own `transforms()` (resize, crop, interpolation, mean, std).

The weights file lives in torch's hub cache ($TORCH_HOME/hub/checkpoints) under the file name of
the weights URL, and loads with `torch.load(weights_only=True)`.
"""

import logging
from pathlib import Path

from t2c.encoders.preprocess import PreprocessConfig
from t2c.encoders.torch_base import TorchEncoder, import_library, state_dict_sha256
from t2c.encoders.weight_files import is_connection_error, offline_error, offline_mode, torch_checkpoint_dir
from t2c.errors import ConfigError
from t2c.id_options import reject_unknown
from t2c.registry import not_found_error

log = logging.getLogger("t2c.encoders.torchvision")

FAMILY = "torchvision"
DEFAULT_MODEL = "resnet50/IMAGENET1K_V2"
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")  # the modes PreprocessConfig supports


class TorchvisionEncoder(TorchEncoder):
    """A torchvision classifier without its final linear layer: (n, 3, s, s) pixels -> (n, dim)."""

    def __init__(self, model, model_id: str, preprocess: PreprocessConfig, dim: int) -> None:
        super().__init__(model)
        self.id = model_id
        self.preprocess = preprocess
        self.dim = dim
        self.weights_sha256 = state_dict_sha256(model)

    def forward(self, batch):
        """Return (n, dim) penultimate features of a (n, 3, s, s) batch."""
        return self.model(batch).flatten(1)


def torchvision_preprocess(transforms, model_id: str) -> PreprocessConfig:
    """Translate a weights enum's `transforms()` (torchvision's ImageClassification preset) into a PreprocessConfig.

    Raises:
        ConfigError: the preset is not ImageClassification-like, or its sizes are not single integers.
    """
    try:
        resize_size = transforms.resize_size
        crop_size = transforms.crop_size
        interpolation = transforms.interpolation.value
        mean, std = transforms.mean, transforms.std
    except AttributeError as error:
        raise ConfigError(
            f"{model_id}: its weights' transforms {type(transforms).__name__} are not torchvision's "
            "ImageClassification preset; t2c supports classification weights only"
        ) from error

    if len(resize_size) != 1 or len(crop_size) != 1:
        raise ConfigError(f"{model_id}: resize {resize_size} and crop {crop_size} must each be one integer (shorter side, square crop)")
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"{model_id}: interpolation {interpolation!r} is not supported; supported: {', '.join(INTERPOLATIONS)}")

    return PreprocessConfig(
        resize=int(resize_size[0]),
        crop=int(crop_size[0]),
        interpolation=interpolation,
        mean=tuple(float(value) for value in mean),
        std=tuple(float(value) for value in std),
    )


def resolve_weights(torchvision_models, name: str):
    """Return (architecture, weights enum member) for "arch/WEIGHTS" or "arch" (the enum's DEFAULT).

    Raises:
        NotFoundError: unknown classification model or weights name.
    """
    from torchvision.models import get_model_weights, list_models

    architecture, _, weights_name = name.partition("/")
    architectures = list_models(module=torchvision_models)
    if architecture not in architectures:
        raise not_found_error("torchvision classification model", architecture, architectures, "Run `t2c list encoders torchvision`.")

    enum = get_model_weights(architecture)
    members = [member for member in enum.__members__ if member != "DEFAULT"]
    if not weights_name:
        return architecture, enum.DEFAULT
    if weights_name not in enum.__members__:
        raise not_found_error(f"weights of torchvision model {architecture}", weights_name, members)
    return architecture, enum[weights_name]


def builder_options(architecture: str, weights) -> dict:
    """Return the keyword arguments torchvision's builder derives from `weights` when it loads them itself.

    t2c builds the model without weights and loads the state dict with `weights_only=True`, so it
    passes what the builder would have set. That is the class count for every model, the input
    size of ViT and MaxViT weights, and the auxiliary heads that Inception-v3 and GoogLeNet checkpoints contain.
    """
    options = {"num_classes": len(weights.meta["categories"])}
    if architecture.startswith("vit_"):
        options["image_size"] = weights.meta["min_size"][0]
    if architecture.startswith("maxvit_"):
        options["input_size"] = weights.meta["min_size"]
    if architecture in ("googlenet", "inception_v3"):
        options.update(transform_input=True, aux_logits=True, init_weights=False)
    return options


def load_state_dict(weights, model_id: str, call: str) -> dict:
    """Load a weights enum member's state dict from torch's hub cache, downloading it unless offline."""
    path = torch_checkpoint_dir() / Path(weights.url).name
    fetch = f"python -c \"import torchvision; torchvision.models.get_model({call})\""
    if not path.is_file() and offline_mode():
        raise offline_error(model_id, path.name, path.parent, fetch)

    try:
        return weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except Exception as error:  # urllib raises several types when the network fails
        if not is_connection_error(error):
            raise
        raise offline_error(model_id, path.name, path.parent, fetch, error) from error


def remove_classifier(model, num_classes: int, model_id: str) -> int:
    """Replace the final linear classifier (the last Linear with `num_classes` outputs) by Identity.

    Returns:
        The classifier's input width: the feature dimension.

    Raises:
        ConfigError: the model has no such layer (SqueezeNet classifies with a convolution).
    """
    import torch.nn as nn

    classifiers = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.out_features == num_classes
    ]
    if not classifiers:
        raise ConfigError(f"{model_id} has no linear classifier with {num_classes} outputs to remove, so t2c cannot take its penultimate features")

    name, classifier = classifiers[-1]
    parent_name, _, child_name = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child_name, nn.Identity())
    log.debug("%s: replaced classifier %s (%d -> %d) by Identity", model_id, name, classifier.in_features, num_classes)
    return classifier.in_features


def load_torchvision_encoder(name: str, **options) -> TorchvisionEncoder:
    """Build the encoder `torchvision:<model>/<weights>`; without "/<weights>" the enum's DEFAULT is used."""
    reject_unknown(options, (), f"torchvision:{name}")
    torchvision_models = import_library("torchvision.models", FAMILY, install="pip install torchvision")
    from torchvision.models import get_model

    architecture, weights = resolve_weights(torchvision_models, name)
    model_id = f"{FAMILY}:{architecture}/{weights.name}"

    model = get_model(architecture, weights=None, **builder_options(architecture, weights))
    state_dict = load_state_dict(weights, model_id, f"'{architecture}', weights='{weights.name}'")
    model.load_state_dict(state_dict)
    log.info("built %s from %s", model_id, Path(weights.url).name)

    preprocess = torchvision_preprocess(weights.transforms(), model_id)
    dim = remove_classifier(model, len(weights.meta["categories"]), model_id)
    return TorchvisionEncoder(model, model_id, preprocess, dim)


def list_torchvision_models() -> list[str]:
    """Return "arch/WEIGHTS" for every torchvision classification model and weights, or [] without torchvision."""
    try:
        import torchvision.models as torchvision_models
        from torchvision.models import get_model_weights, list_models
    except ImportError:
        return []

    names = []
    for architecture in list_models(module=torchvision_models):
        for member in get_model_weights(architecture).__members__:
            if member != "DEFAULT":
                names.append(f"{architecture}/{member}")
    return names
