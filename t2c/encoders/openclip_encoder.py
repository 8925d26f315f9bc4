"""Encoders `openclip:<arch>/<pretrained>`: the image tower of an open_clip model.

Ids follow open_clip's two arguments to `create_model`: `openclip:ViT-B-16/openai` is
architecture "ViT-B-16" with pretrained tag "openai". Two schemas of open_clip are accepted too:
`openclip:hf-hub:org/repo` (a Hub repo with open_clip_config.json) and `openclip:local-dir:/path`
(a folder with open_clip_config.json and a checkpoint). Features are `model.encode_image(x)`:
the projected image embeddings, not normalised, which is also the image side of the openclip
target. Preprocessing comes from the model's `visual.preprocess_cfg`.
"""

import logging
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from t2c.encoders.preprocess import PreprocessConfig
from t2c.encoders.torch_base import TorchEncoder, import_library, state_dict_sha256
from t2c.encoders.weight_files import hf_file
from t2c.errors import ConfigError, NotFoundError
from t2c.id_options import reject_unknown
from t2c.registry import not_found_error

log = logging.getLogger("t2c.encoders.openclip")

FAMILY = "openclip"
DEFAULT_MODEL = "ViT-B-16/openai"
HUB_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # open_clip's order on the Hub
HUB_CONFIG_FILE = "open_clip_config.json"
CHECKPOINT_PATTERNS = ("*.safetensors", "*.bin", "*.pth", "*.pt")  # checkpoints open_clip finds in a local-dir
TAG_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")  # what a pretrained tag sets in open_clip
RESIZE_MODES = ("shortest", "squash", "longest")  # open_clip 3.3's eval resize modes
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")  # the modes PreprocessConfig supports


@dataclass
class OpenClipSource:
    """Where an open_clip model comes from, resolved to local files.

    `model_name` and `checkpoint` are what `open_clip.create_model` receives as `model_name` and
    `pretrained`. `preprocess` is the pretrained tag's preprocessing, which open_clip applies
    only when it receives the tag itself, so t2c passes it as `force_preprocess_cfg`.
    """

    model_id: str
    model_name: str
    checkpoint: Path | None = None
    quick_gelu: bool = False
    preprocess: dict = field(default_factory=dict)


class OpenClipEncoder(TorchEncoder):
    """The image side of an open_clip model: (n, 3, s, s) pixels -> (n, embed_dim) image embeddings.

    `model` is the whole CLIP model (its text tower included), so a target can share it.
    """

    def __init__(self, model, model_id: str, preprocess: PreprocessConfig) -> None:
        super().__init__(model)
        self.id = model_id
        self.preprocess = preprocess
        self.dim = embedding_dim(model, preprocess)
        self.weights_sha256 = state_dict_sha256(model.visual)

    def forward(self, batch):
        """Return (n, embed_dim) image embeddings, not normalised."""
        return self.model.encode_image(batch)


def embedding_dim(model, preprocess: PreprocessConfig) -> int:
    """Return the width of `model.encode_image`, measured on one blank image of the model's input size."""
    import torch

    side = preprocess.crop or preprocess.resize or 224
    with torch.inference_mode():
        return int(model.encode_image(torch.zeros(1, 3, side, side)).shape[-1])


def openclip_preprocess(preprocess_cfg: dict, model_id: str) -> PreprocessConfig:
    """Translate open_clip's `model.visual.preprocess_cfg` into a PreprocessConfig.

    open_clip's eval transform for resize_mode "shortest" resizes the shorter side to `size` and
    center-crops `size`. For "squash" it resizes both sides to `size` and does not crop. For
    "longest" it resizes the longer side to `size` and pads the shorter side to `size` with
    `fill_color`. PreprocessConfig declares all three exactly. After a squash, its crop to `size`
    keeps every pixel and gives the encoder the fixed input size that ONNX export reads.

    Raises:
        ConfigError: the input is not square, or the interpolation, resize mode or fill colour is not supported.
    """
    size = preprocess_cfg.get("size", 224)
    if isinstance(size, (tuple, list)):
        if len(size) != 2 or size[0] != size[1]:
            raise ConfigError(f"{model_id} takes input of size {tuple(size)}, but t2c supports square input only")
        size = size[0]

    interpolation = preprocess_cfg.get("interpolation", "bicubic")
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"{model_id}: interpolation {interpolation!r} is not supported; supported: {', '.join(INTERPOLATIONS)}")

    resize_mode = preprocess_cfg.get("resize_mode") or "shortest"
    if resize_mode not in RESIZE_MODES:
        raise ConfigError(f"{model_id}: resize_mode {resize_mode!r} is not supported; supported: {', '.join(RESIZE_MODES)}")

    return PreprocessConfig(
        resize=int(size),
        resize_mode=resize_mode,
        crop=int(size),
        fill=fill_rgb(preprocess_cfg.get("fill_color", 0), model_id),
        interpolation=interpolation,
        mean=tuple(float(value) for value in preprocess_cfg["mean"]),
        std=tuple(float(value) for value in preprocess_cfg["std"]),
    )


def fill_rgb(fill_color, model_id: str) -> tuple[int, int, int]:
    """Return open_clip's `fill_color` (one value or one per RGB channel) as an RGB triple of 0-255 ints.

    Values are truncated with `int()`, as torchvision's `pad` does with the fill of a PIL image.
    """
    values = list(fill_color) if isinstance(fill_color, (list, tuple)) else [fill_color]
    if len(values) == 1:
        values = values * 3

    valid = len(values) == 3 and all(isinstance(value, (int, float)) and 0 <= value < 256 for value in values)
    if not valid:
        raise ConfigError(
            f"{model_id}: invalid fill_color {fill_color!r}; expected one 8-bit value (0-255) or one per RGB channel. "
            "Fix fill_color in the preprocess_cfg of the model's open_clip_config.json"
        )
    return tuple(int(value) for value in values)


def resolve_source(open_clip, name: str) -> OpenClipSource:
    """Resolve "arch/tag", "hf-hub:org/repo" or "local-dir:/path" to local files.

    Raises:
        NotFoundError: unknown architecture or tag, or a folder without config or checkpoint.
        OfflineError: the weights are not cached and cannot be downloaded.
    """
    model_id = f"{FAMILY}:{name}"

    if name.startswith("hf-hub:"):
        repo_id = name.removeprefix("hf-hub:")
        fetch = f"hf download {repo_id}"
        config = hf_file(repo_id, (HUB_CONFIG_FILE,), model_id=model_id, fetch=fetch)
        hf_file(repo_id, HUB_WEIGHT_FILES, model_id=model_id, fetch=fetch)
        return OpenClipSource(model_id, f"local-dir:{config.parent}")

    if name.startswith("local-dir:"):
        folder = Path(name.removeprefix("local-dir:")).expanduser()
        check_local_dir(folder, model_id)
        return OpenClipSource(f"{FAMILY}:local-dir:{folder.resolve().as_posix()}", f"local-dir:{folder}")

    architecture, slash, tag = name.partition("/")
    if architecture not in open_clip.list_models():
        raise not_found_error("open_clip architecture", architecture, open_clip.list_models(), "Run `t2c list encoders openclip`.")

    tags = open_clip.list_pretrained_tags_by_model(architecture)
    if not slash or not tag:
        raise ConfigError(f"{model_id} names no pretrained tag; write {FAMILY}:{architecture}/<tag> with one of: {', '.join(tags) or 'none'}")

    pretrained_cfg = open_clip.get_pretrained_cfg(architecture, tag)
    if not pretrained_cfg:
        raise not_found_error(f"open_clip pretrained tag for {architecture}", tag, tags)
    return OpenClipSource(
        model_id,
        architecture,
        checkpoint=tag_checkpoint(pretrained_cfg, model_id, architecture, tag),
        quick_gelu=bool(pretrained_cfg.get("quick_gelu", False)),
        preprocess={key: pretrained_cfg[key] for key in TAG_PREPROCESS_KEYS if key in pretrained_cfg},
    )


def tag_checkpoint(pretrained_cfg: dict, model_id: str, architecture: str, tag: str) -> Path:
    """Return the local checkpoint of a pretrained tag from its Hub location ("org/repo/" or "org/repo/file")."""
    location = pretrained_cfg.get("hf_hub", "")
    if not location:
        # NOTE: every tag of open_clip 3.3 has a Hub location; URL-only tags would need open_clip's own download.
        raise ConfigError(f"{model_id}: the tag has no Hugging Face Hub location, which t2c needs to load it")

    # "org/repo/" means the repo's default checkpoint; "org/repo/file" names the file.
    repo_id, filename = posixpath.split(location)
    if filename and filename != "open_clip_pytorch_model.bin":
        filenames = (filename,)
    else:
        filenames = HUB_WEIGHT_FILES  # open_clip prefers the safetensors twin of the default file

    fetch = f"python -c \"import open_clip; open_clip.create_model('{architecture}', pretrained='{tag}')\""
    return hf_file(repo_id, filenames, model_id=model_id, fetch=fetch)


def check_local_dir(folder: Path, model_id: str) -> None:
    """Raise NotFoundError unless `folder` has open_clip_config.json and a checkpoint."""
    if not (folder / HUB_CONFIG_FILE).is_file():
        raise NotFoundError(f"{model_id}: {folder / HUB_CONFIG_FILE} not found; a local-dir needs open_clip's config file and a checkpoint")

    checkpoints = [path for pattern in CHECKPOINT_PATTERNS for path in folder.glob(pattern)]
    if not checkpoints:
        raise NotFoundError(
            f"{model_id}: no checkpoint ({', '.join(CHECKPOINT_PATTERNS)}) in {folder}; save the state dict there, "
            "such as open_clip_pytorch_model.bin"
        )


def load_openclip_model(name: str):
    """Build an open_clip model from local files.

    Returns:
        (model in eval mode, OpenClipSource, PreprocessConfig).
    """
    open_clip = import_library("open_clip", FAMILY)
    source = resolve_source(open_clip, name)

    log.info("building %s from %s", source.model_id, source.checkpoint or source.model_name)
    model = open_clip.create_model(
        source.model_name,
        pretrained=str(source.checkpoint) if source.checkpoint else None,
        force_quick_gelu=source.quick_gelu,
        force_preprocess_cfg=source.preprocess or None,
        weights_only=True,
    )
    preprocess = openclip_preprocess(model.visual.preprocess_cfg, source.model_id)
    return model.eval(), source, preprocess


def load_openclip_encoder(name: str, **options) -> OpenClipEncoder:
    """Build the encoder `openclip:<arch>/<pretrained>` (or `openclip:hf-hub:org/repo`, `openclip:local-dir:/path`)."""
    reject_unknown(options, (), f"{FAMILY}:{name}")
    model, source, preprocess = load_openclip_model(name)
    return OpenClipEncoder(model, source.model_id, preprocess)


def list_openclip_models() -> list[str]:
    """Return "arch/tag" for every open_clip pretrained model, or [] when open_clip is not installed."""
    try:
        import open_clip
    except ImportError:
        return []
    return [f"{architecture}/{tag}" for architecture, tag in open_clip.list_pretrained()]
