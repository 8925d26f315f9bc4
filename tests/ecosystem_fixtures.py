"""Fixtures for the ecosystem tests: tiny randomly initialised models saved with each library's own
save function, laid out where that library's loader looks, and an environment that forbids downloads.

Import the fixtures into a test module with `from ecosystem_fixtures import *`. `offline` is
autouse there: every test runs with HF_HUB_OFFLINE=1, a Hugging Face cache and a torch hub home
under pytest's tmp folder, so no test reaches the network.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

__all__ = [
    "Caches",
    "chelsea",
    "ecosystem_caches",
    "empty_caches",
    "install_snapshot",
    "offline",
    "tiny_openclip_config",
    "write_tiny_openclip",
]

SNAPSHOT_SHA = "0123456789abcdef0123456789abcdef01234567"  # the commit a fake cache snapshot claims
TIMM_MODEL = "test_vit.r160_in1k"  # timm's own test architecture: 0.37M parameters
TORCHVISION_MODEL = "shufflenet_v2_x0_5"  # the smallest torchvision classifier with a linear head
OPENCLIP_HUB_REPO = "t2c-test/tiny-clip"
DINOV2_REPO = "facebook/dinov2-small"


@dataclass(frozen=True)
class Caches:
    """The cache folders of one test: `hub` is its HF_HUB_CACHE, `torch_home` its TORCH_HOME."""

    hub: Path
    torch_home: Path
    openclip_dir: Path | None = None

    @property
    def torch_checkpoints(self) -> Path:
        return self.torch_home / "hub" / "checkpoints"


def install_snapshot(hub: Path, repo_id: str) -> Path:
    """Create the Hub cache layout models--org--name/{refs/main, snapshots/<sha>/} and return the snapshot folder."""
    entry = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = entry / "snapshots" / SNAPSHOT_SHA
    snapshot.mkdir(parents=True, exist_ok=True)
    (entry / "refs").mkdir(exist_ok=True)
    (entry / "refs" / "main").write_text(SNAPSHOT_SHA)
    return snapshot


def tiny_openclip_config() -> dict:
    """An open_clip model config: ViT with 2 layers of width 64 on 32x32 input, text width 16, 32-d space."""
    return {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 2},
    }


def write_tiny_openclip(folder: Path, seed: int = 0, resize_mode: str = "shortest") -> Path:
    """Write open_clip_config.json and open_clip_pytorch_model.bin (torch.save of a random state dict) into `folder`."""
    import open_clip
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    preprocess = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "interpolation": "bicubic", "resize_mode": resize_mode}
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": tiny_openclip_config(), "preprocess_cfg": preprocess}))

    torch.manual_seed(seed)
    model = open_clip.CLIP(**tiny_openclip_config())
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def _write_timm(hub: Path) -> None:
    import timm
    import torch
    from timm.models import save_for_hf

    torch.manual_seed(1)
    model = timm.create_model(TIMM_MODEL, pretrained=False)
    save_for_hf(model, install_snapshot(hub, f"timm/{TIMM_MODEL}"), safe_serialization=True)


def _write_torchvision(checkpoints: Path) -> None:
    import torch
    from torchvision.models import get_model, get_model_weights

    torch.manual_seed(2)
    weights = get_model_weights(TORCHVISION_MODEL)["IMAGENET1K_V1"]
    model = get_model(TORCHVISION_MODEL, weights=None, num_classes=len(weights.meta["categories"]))
    checkpoints.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), checkpoints / Path(weights.url).name)


def _write_dinov2(hub: Path) -> None:
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(3)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=14, image_size=56)
    snapshot = install_snapshot(hub, DINOV2_REPO)
    Dinov2Model(config).save_pretrained(snapshot)
    processor = BitImageProcessor(
        size={"shortest_edge": 64},
        crop_size={"height": 56, "width": 56},
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    processor.save_pretrained(snapshot)


@pytest.fixture(scope="session")
def ecosystem_caches(tmp_path_factory) -> Caches:
    """Caches holding every tiny artifact, built once per session and only read by tests."""
    root = tmp_path_factory.mktemp("ecosystem")
    caches = Caches(hub=root / "hub", torch_home=root / "torch", openclip_dir=root / "tiny-clip")

    _write_timm(caches.hub)
    _write_torchvision(caches.torch_checkpoints)
    _write_dinov2(caches.hub)
    write_tiny_openclip(caches.openclip_dir, seed=4)
    write_tiny_openclip(install_snapshot(caches.hub, OPENCLIP_HUB_REPO), seed=5)
    return caches


def _point_at(monkeypatch, caches: Caches) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(caches.hub))
    monkeypatch.setenv("TORCH_HOME", str(caches.torch_home))
    monkeypatch.delenv("HF_HOME", raising=False)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import. Library code that never passes
    # local_files_only reads offline mode only from this constant.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(autouse=True)
def offline(monkeypatch, ecosystem_caches) -> Caches:
    """Forbid downloads and point every library's cache at the tiny artifacts."""
    _point_at(monkeypatch, ecosystem_caches)
    return ecosystem_caches


@pytest.fixture
def empty_caches(monkeypatch, tmp_path, offline) -> Caches:
    """Forbid downloads and point every cache at empty folders."""
    caches = Caches(hub=tmp_path / "empty-hub", torch_home=tmp_path / "empty-torch")
    caches.hub.mkdir()
    caches.torch_home.mkdir()
    _point_at(monkeypatch, caches)
    return caches


@pytest.fixture(scope="session")
def chelsea() -> Image.Image:
    """scikit-image's photo of a cat, 451 x 300 RGB."""
    from skimage import data

    return Image.fromarray(np.asarray(data.chelsea()))
