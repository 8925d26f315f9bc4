"""Tiny DINOv2 checkpoints in a Hugging Face cache layout, and an environment that forbids downloads.

The checkpoints are randomly initialised models of a tiny configuration (hidden size 32, two
layers, 56-pixel input), saved with transformers' `save_pretrained` into the cache layout
models--facebook--dinov2-small/{refs/main, snapshots/<sha>/} that huggingface_hub reads.
"""

from pathlib import Path

SNAPSHOT_SHA = "89abcdef0123456789abcdef0123456789abcdef"  # the commit the fake snapshots claim


def install_snapshot(hub: Path, repo_id: str) -> Path:
    """Create models--org--name/{refs/main, snapshots/<sha>/} under `hub` and return the snapshot folder."""
    entry = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = entry / "snapshots" / SNAPSHOT_SHA
    snapshot.mkdir(parents=True)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(SNAPSHOT_SHA)
    return snapshot


def write_tiny_dinov2(snapshot: Path, registers: int, seed: int) -> None:
    """Save a tiny DINOv2 (with `registers` register tokens when > 0) and DINOv2's image processor settings."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    sizes = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=14, image_size=56)
    torch.manual_seed(seed)
    if registers:
        model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(num_register_tokens=registers, **sizes))
    else:
        model = Dinov2Model(Dinov2Config(**sizes))
    model.save_pretrained(snapshot)

    # facebook/dinov2-small's settings, scaled down: shorter side 256 -> 64, crop 224 -> 56.
    processor = BitImageProcessor(
        size={"shortest_edge": 64},
        crop_size={"height": 56, "width": 56},
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    processor.save_pretrained(snapshot)


def point_at(monkeypatch, hub: Path) -> None:
    """Forbid downloads and make `hub` the Hugging Face cache."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.delenv("HF_HOME", raising=False)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import. Library code that never passes
    # local_files_only reads offline mode only from this constant.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
