"""The `t2c` command end to end on the example plugin: align, embed, predict, run zeroshot.

These run the real console script in subprocesses, so plugin discovery, the CLI's error
handling and the feature store are all exercised as a user meets them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("t2c_plugin_example", reason="needs t2c-plugin-example: pip install ./plugins/t2c-plugin-example")

ENCODER = "example:tiny-cnn"
TARGET = "example:bag-of-words"
DATASET = "example-shapes"


def t2c(*args: str, cache: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `t2c` command with a private cache and only the example plugin loaded."""
    environment = {**os.environ, "T2C_CACHE": str(cache), "T2C_LOAD_PLUGINS": "t2c-plugin-example"}
    command = [sys.executable, "-c", "from t2c.cli import main; main()", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"t2c {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def head_dir(cache, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("heads") / "tiny"
    t2c("align", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET, "--output", str(folder), cache=cache)
    return folder


def test_align_writes_head_with_heldout_r2(head_dir):
    card = json.loads((head_dir / "config.json").read_text())

    assert (head_dir / "model.safetensors").is_file()
    assert card["encoder"]["id"] == ENCODER
    assert card["target"]["id"] == TARGET
    assert card["fit_data"] == {"dataset": DATASET, "split": "train", "n_samples": 300}
    assert 0.5 < card["metrics"][f"{DATASET}/test/r2_paper"] <= 1.0


def test_zeroshot_json_follows_clip_benchmark(cache, tmp_path):
    output = tmp_path / "results.json"
    t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET, "--templates", "basic",
        "--output", str(output), cache=cache)
    results = json.loads(output.read_text())

    assert results["task"] == "zeroshot_classification"
    assert results["language"] == "en"
    assert set(results["metrics"]) == {"acc1", "acc5", "mean_per_class_recall"}
    assert results["chance"] == pytest.approx(1 / 3)
    assert results["n_eval"] == 90
    assert -1.0 < results["r2_sklearn"] <= results["r2_paper"] <= 1.0
    assert 0.0 <= results["target_metrics"]["acc1"] <= 1.0


def test_zeroshot_with_saved_head_matches_fit(cache, head_dir):
    fitted = json.loads(t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET,
                            "--templates", "basic", "--json", cache=cache).stdout)
    loaded = json.loads(t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET,
                            "--templates", "basic", "--head", str(head_dir), "--json", cache=cache).stdout)

    assert loaded["metrics"] == fitted["metrics"]
    assert loaded["r2_paper"] == pytest.approx(fitted["r2_paper"], rel=1e-6)


def test_train_samples_limits_fit_set(cache):
    results = json.loads(t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET,
                             "--templates", "basic", "--train-samples", "120", "--json", cache=cache).stdout)

    assert results["fit_data"]["n_samples"] == 120


def test_classnames_and_templates_files_replace_defaults(cache, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("round shape\nbox\npointy shape\n")
    templates = tmp_path / "templates.txt"
    templates.write_text("a drawing of a {}.\n# comments are skipped\na {} on a plain background.\n")

    results = json.loads(t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET,
                             "--classnames", str(names), "--templates", str(templates), "--json", cache=cache).stdout)

    assert results["n_templates"] == 2
    assert results["chance"] == pytest.approx(1 / 3)


def test_embed_exports_aligned_features_with_keys(cache, head_dir, tmp_path):
    output = tmp_path / "aligned.npy"
    t2c("embed", "--encoder", ENCODER, "--dataset", DATASET, "--head", str(head_dir), "--limit", "40",
        "--output", str(output), cache=cache)
    features = np.load(output, allow_pickle=False)
    keys = json.loads(output.with_suffix(".keys.json").read_text())

    assert features.shape == (40, 32)
    assert keys[0] == "test/00000"
    assert len(keys) == 40


def test_predict_labels_images_with_note(cache, head_dir, tmp_path):
    image = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image)

    result = json.loads(t2c("predict", str(image), "--head", str(head_dir), "--labels", "circle,square,triangle",
                            "--top-k", "2", "--json", cache=cache).stdout)
    top = result["predictions"][0]["top"]

    assert [item["label"] for item in top] != []
    assert len(top) == 2
    assert top[0]["score"] >= top[1]["score"]
    assert "fitted on example-shapes/train" in result["note"]


def test_head_for_other_encoder_is_one_line_error(cache, head_dir, tmp_path):
    card = json.loads((head_dir / "config.json").read_text())
    card["encoder"]["id"] = "example:other"
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.safetensors").write_bytes((head_dir / "model.safetensors").read_bytes())
    (other / "config.json").write_text(json.dumps(card))

    result = t2c("run", "zeroshot", "--encoder", ENCODER, "--target", TARGET, "--dataset", DATASET,
                 "--head", str(other), cache=cache, check=False)

    assert result.returncode == 1
    assert "head expects encoder example:other" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(cache):
    result = t2c("run", "zeroshot", "--encoder", "example:missing", "--target", TARGET, "--dataset", DATASET,
                 "--debug", cache=cache, check=False)

    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_unknown_encoder_suggests_name(cache):
    result = t2c("run", "zeroshot", "--encoder", "example:tiny-cn", "--target", TARGET, "--dataset", DATASET,
                 cache=cache, check=False)

    assert result.returncode == 1
    assert "tiny-cnn" in result.stderr
    assert "Traceback" not in result.stderr
