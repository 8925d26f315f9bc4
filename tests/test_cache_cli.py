"""`t2c cache ls / prune / verify` and the extraction progress bar."""

import io
import json
import os
import time

import click
import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from t2c.cli.cache_cmd import register
from t2c.cli.progress import extraction_progress, progress_factory
from t2c.encoders.preprocess import PreprocessConfig
from t2c.features.entry import LAST_USED_NAME, FeatureEntry
from t2c.features.key import FeatureKey
from t2c.features.manifest import MANIFEST_NAME
from t2c.features.store import FeatureStore

PREPROCESS = PreprocessConfig()
DAY = 86400


@click.group()
def cli():
    """The test's stand-in for the `t2c` group."""


register(cli)


def make_entry(store: FeatureStore, model: str, dataset: str, split: str = "train", shards: int = 2) -> FeatureEntry:
    key = FeatureKey(
        model=model, weights_sha256="0" * 64, backend="torch", dataset=dataset, split=split, preprocess_digest=PREPROCESS.digest()
    )
    entry = store.open_or_create(key, dim=4, split_size=12, shard_size=5, preprocess=PREPROCESS)
    for index in range(shards):
        samples = entry.manifest.shard_range(index)
        keys = [f"{split}/{position}" for position in samples]
        entry.write_shard(index, keys, np.ones((len(keys), 4), np.float32) * index)
    return entry


def set_last_used(entry: FeatureEntry, days_ago: float) -> None:
    moment = time.time() - days_ago * DAY
    os.utime(entry.path / LAST_USED_NAME, (moment, moment))


@pytest.fixture
def cache(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path / "features")


@pytest.fixture
def runner(tmp_path) -> CliRunner:
    return CliRunner(env={"T2C_CACHE": str(tmp_path)})


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["cache", *args], catch_exceptions=False)


def test_ls_empty(runner, cache):
    result = invoke(runner, "ls")

    assert result.exit_code == 0
    assert f"no cached features in {cache.root}" in result.output


def test_ls_json(runner, cache):
    entry = make_entry(cache, "timm:resnet50.a1_in1k", "fashion-mnist")

    result = invoke(runner, "ls", "--json")

    (row,) = json.loads(result.output)
    assert row["model"] == "timm:resnet50.a1_in1k"
    assert row["dataset"] == "fashion-mnist"
    assert row["split"] == "train"
    assert (row["shards"], row["shards_total"]) == (2, 3)
    assert (row["samples"], row["split_size"]) == (10, 12)
    assert row["bytes"] == entry.size_on_disk()
    assert row["last_used"].endswith("+00:00")


def test_ls_table(runner, cache):
    make_entry(cache, "dinov2:vits14", "digits")

    result = runner.invoke(cli, ["cache", "ls"], env={"COLUMNS": "160"}, catch_exceptions=False)

    assert result.exit_code == 0
    for text in ("dinov2:vits14", "digits", "2/3", "10/12", "KiB"):
        assert text in result.output


def test_prune_needs_filter(runner, cache):
    make_entry(cache, "dinov2:vits14", "digits")

    result = runner.invoke(cli, ["cache", "prune"])

    assert result.exit_code == 2
    assert "--all" in result.output
    assert len(cache.entries()) == 1


def test_prune_by_model_pattern(runner, cache):
    resnet = make_entry(cache, "timm:resnet50.a1_in1k", "digits")
    dino = make_entry(cache, "dinov2:vits14", "digits")
    size = resnet.size_on_disk()

    result = invoke(runner, "prune", "--model", "timm:*")

    assert result.exit_code == 0
    assert f"removed {resnet.path.name}" in result.output
    assert f"({size} bytes) in 1 entries" in result.output
    assert not resnet.path.exists()
    assert dino.path.exists()


def test_prune_by_dataset_pattern(runner, cache):
    folder = make_entry(cache, "dinov2:vits14", "folder:/data/cats")
    digits = make_entry(cache, "dinov2:vits14", "digits")

    invoke(runner, "prune", "--dataset", "folder:*")

    assert not folder.path.exists()
    assert digits.path.exists()


def test_prune_dry_run_keeps_entries(runner, cache):
    entry = make_entry(cache, "dinov2:vits14", "digits")

    result = invoke(runner, "prune", "--all", "--dry-run")

    assert f"would remove {entry.path.name}" in result.output
    assert "would free" in result.output
    assert entry.path.exists()


def test_prune_older_than(runner, cache):
    old = make_entry(cache, "dinov2:vits14", "digits", split="train")
    recent = make_entry(cache, "dinov2:vits14", "digits", split="test")
    set_last_used(old, days_ago=10)
    set_last_used(recent, days_ago=1)

    invoke(runner, "prune", "--older-than", "5")

    assert not old.path.exists()
    assert recent.path.exists()


def test_prune_filters_combine(runner, cache):
    old_dino = make_entry(cache, "dinov2:vits14", "digits")
    old_resnet = make_entry(cache, "timm:resnet50.a1_in1k", "digits")
    set_last_used(old_dino, days_ago=10)
    set_last_used(old_resnet, days_ago=10)

    invoke(runner, "prune", "--older-than", "5", "--model", "dinov2:*")

    assert not old_dino.path.exists()
    assert old_resnet.path.exists()


def test_prune_all_removes_unreadable(runner, cache):
    readable = make_entry(cache, "dinov2:vits14", "digits")
    broken = make_entry(cache, "dinov2:vits14", "digits", split="test")
    (broken.path / MANIFEST_NAME).write_text("{")

    result = invoke(runner, "prune", "--all", "--json")

    report = json.loads(result.output)
    assert len(report["removed"]) == 2
    assert report["bytes_freed"] > 0
    assert not readable.path.exists()
    assert not broken.path.exists()


def test_verify_clean(runner, cache):
    make_entry(cache, "dinov2:vits14", "digits")

    result = invoke(runner, "verify")

    assert result.exit_code == 0
    assert "checked 1 entries and 2 shards: 0 damaged" in result.output


def test_verify_lists_damaged_shard(runner, cache):
    entry = make_entry(cache, "dinov2:vits14", "digits")
    make_entry(cache, "dinov2:vits14", "digits", split="test")
    shard = entry.path / "shard-00001.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))

    result = invoke(runner, "verify")

    assert result.exit_code == 1
    assert f"damaged: {shard}" in result.output
    assert "1 damaged" in result.output


def test_verify_reports_unreadable_manifest(runner, cache):
    entry = make_entry(cache, "dinov2:vits14", "digits")
    (entry.path / MANIFEST_NAME).write_text("[]")

    result = invoke(runner, "verify", "--json")

    report = json.loads(result.output)
    assert result.exit_code == 1
    assert report["damaged"][0]["path"] == str(entry.path)


def test_progress_bar_shows_images_per_second():
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=120)

    with extraction_progress("extracting", console=console) as progress:
        progress.set_total(10)
        progress(4)
        progress(6)

    assert progress.completed == 10
    assert "images/s" in output.getvalue()
    assert "10/10" in output.getvalue()


def test_progress_disabled_without_terminal():
    output = io.StringIO()
    console = Console(file=output, force_terminal=False)

    with extraction_progress(console=console) as progress:
        progress.set_total(3)
        progress(3)

    assert progress.completed == 3
    assert output.getvalue() == ""


def test_progress_disabled_for_json():
    output = io.StringIO()
    console = Console(file=output, force_terminal=True)

    with extraction_progress(json_output=True, console=console) as progress:
        progress(5)

    assert output.getvalue() == ""


def test_progress_factory_disabled_for_json():
    with progress_factory(enabled=False)("extracting", 8) as progress:
        progress(8)

    assert progress.completed == 8
    assert progress.progress is None
