"""SIGKILL at seeded random points of extraction, resumed each time, loses and duplicates nothing.

Run as a script, this file is the extraction process the tests kill:

    python tests/test_reliability_kill.py --root DIR [--pause-at MARKER:N] [--delay S]

It extracts a synthetic split, some of whose images cannot be decoded, with a numpy encoder
(no torch import, so a process starts in about a second). It prints MARKER lines to stderr
around the store's file writes and, with --pause-at, stops at the N-th MARKER so the test
kills it exactly there:
- shard-temp-written: a shard's temporary file is written, not yet fsynced or renamed;
- shard-renamed: the shard file has its final name, the manifest does not list it yet;
- manifest-temp-written: the new manifest's temporary file is written, not yet renamed;
- manifest-renamed: the new manifest is in place, the entry lock is still held.
"""

import argparse
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2c.data.base import Dataset, Split
from t2c.data.images import open_image
from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import NotFoundError
from t2c.features import FeatureStore, LocalExecutor, extract_features
from t2c.features.manifest import MANIFEST_NAME, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 480
SHARD_SIZE = 24
NUM_SHARDS = SAMPLES // SHARD_SIZE
BATCH_SIZE = 8
UNDECODABLE = {5: "truncated", 77: "zero-byte", 150: "non-image", 151: "truncated", 300: "corrupt"}
MARKERS = ("shard-temp-written", "shard-renamed", "manifest-temp-written", "manifest-renamed")
SEED = 20240501

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="markers read file names from /proc/self/fd")


class ProjectionEncoder(Encoder):
    """A fixed random projection of 16 x 16 pixels to 12 features, deterministic in every process.

    `delay_s` sleeps after each batch so that a kill after a random delay lands mid-extraction.
    """

    id = "test:projection"
    dim = 12
    backend = "numpy"
    weights_sha256 = "1" * 64

    def __init__(self, delay_s: float = 0.0):
        self.preprocess = PreprocessConfig(resize=16, crop=16, interpolation="bilinear")
        self.weights = np.random.default_rng(0).standard_normal((3 * 16 * 16, self.dim)).astype(np.float32)
        self.delay_s = delay_s
        self.images_encoded = 0

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        features = pixels.reshape(len(pixels), -1) @ self.weights
        self.images_encoded += len(pixels)
        if self.delay_s:
            time.sleep(self.delay_s)
        return features


def image_bytes(index: int) -> bytes:
    """Return the PNG (or damaged file) of sample `index`, the same in every process."""
    pixels = np.random.default_rng(index).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    data = buffer.getvalue()

    damage = UNDECODABLE.get(index)
    if damage == "truncated":
        return data[: len(data) // 2]
    if damage == "zero-byte":
        return b""
    if damage == "non-image":
        return b"key,label\nsample,3\n"
    if damage == "corrupt":
        return data[:16] + bytes(byte ^ 0xFF for byte in data[16:60]) + data[60:]
    return data


class BytesSplit(Split):
    """SAMPLES images decoded from bytes with `open_image`, keys "train/00000", ..."""

    def __init__(self):
        self.keys = [f"train/{index:05d}" for index in range(SAMPLES)]
        self.labels = None

    def load(self, index: int) -> Image.Image:
        return open_image(image_bytes(index), name=self.keys[index])


class BytesDataset(Dataset):
    id = "test:bytes"
    splits = ("train",)

    def __init__(self):
        self.train = BytesSplit()

    def split(self, name: str) -> Split:
        if name != "train":
            raise NotFoundError(f"split {name!r} not found; available: train")
        return self.train


def install_markers(pause_at: str | None) -> None:
    """Wrap os.fsync and os.replace to print markers, and stop at `pause_at` ("MARKER:N")."""
    target, _, occurrence = (pause_at or "::").partition(":")
    seen = {marker: 0 for marker in MARKERS}
    real_fsync = os.fsync
    real_replace = os.replace

    def mark(marker: str) -> None:
        seen[marker] += 1
        print(f"MARKER {marker} {seen[marker]}", file=sys.stderr, flush=True)
        if marker == target and seen[marker] == int(occurrence):
            print("PAUSED", file=sys.stderr, flush=True)
            time.sleep(120)

    def fsync(descriptor):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{descriptor}"))
        if name.startswith("shard-") and ".tmp-" in name:
            mark("shard-temp-written")
        elif name.startswith(MANIFEST_NAME + ".tmp-"):
            mark("manifest-temp-written")
        real_fsync(descriptor)

    def replace(source, destination):
        real_replace(source, destination)
        name = os.path.basename(destination)
        if name.startswith("shard-"):
            mark("shard-renamed")
        elif name == MANIFEST_NAME:
            mark("manifest-renamed")

    os.fsync = fsync
    os.replace = replace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--pause-at", default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    install_markers(args.pause_at)
    encoder = ProjectionEncoder(delay_s=args.delay)
    print("STARTED", file=sys.stderr, flush=True)
    entry = extract_features(
        encoder,
        BytesDataset(),
        "train",
        store=FeatureStore(args.root),
        batch_size=BATCH_SIZE,
        shard_size=SHARD_SIZE,
        executor=LocalExecutor(num_workers=2),
    )
    print(json.dumps({"entry": str(entry.path), "images_encoded": encoder.images_encoded}))


# The tests.


def child_command(root: Path, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--root", str(root), *extra]


def child_env() -> dict:
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run_to_end(root: Path) -> dict:
    done = subprocess.run(child_command(root), env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def kill_at_marker(root: Path, marker: str, occurrence: int) -> int:
    """Start an extraction, SIGKILL it while paused at the marker; return its exit code."""
    process = subprocess.Popen(
        child_command(root, "--pause-at", f"{marker}:{occurrence}"),
        env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stderr:
        if line.strip() == "PAUSED":
            os.kill(process.pid, signal.SIGKILL)
            break
    process.stderr.close()
    return process.wait(timeout=60)


def kill_after_delay(root: Path, delay_s: float) -> int:
    """Start an extraction, SIGKILL it `delay_s` seconds after it starts; return its exit code."""
    process = subprocess.Popen(
        child_command(root, "--delay", "0.03"), env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    for line in process.stderr:
        if line.strip() == "STARTED":
            break
    time.sleep(delay_s)
    os.kill(process.pid, signal.SIGKILL)
    process.stderr.close()
    return process.wait(timeout=60)


def entry_folder(root: Path) -> Path:
    (folder,) = [path for path in root.iterdir() if path.is_dir()]
    return folder


def manifest_without_timestamps(folder: Path) -> dict:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    del manifest["created"], manifest["updated"]
    return manifest


def shard_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("shard-*"))}


def listed_shards_intact(folder: Path) -> bool:
    """Return whether every shard the manifest lists exists with its recorded size and sha256."""
    if not (folder / MANIFEST_NAME).exists():
        return True
    read_manifest(folder / MANIFEST_NAME)
    entry = FeatureStore(folder.parent).entries()[0]
    return entry.verify() == []


def kill_plan() -> list[tuple[str, str | float, int]]:
    """Return the seeded rounds: one kill at each marker (N-th occurrence 1 or 2), then random delays."""
    rng = random.Random(SEED)
    markers = list(MARKERS)
    rng.shuffle(markers)
    plan = [("marker", marker, rng.randint(1, 2)) for marker in markers]
    plan += [("delay", round(rng.uniform(0.0, 0.3), 3), 0) for _ in range(3)]
    return plan


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    run_to_end(root)
    return entry_folder(root)


@pytest.fixture(scope="module")
def killed_rounds(tmp_path_factory) -> dict:
    """Kill the extraction once per planned round, each round resuming the last, then finish it."""
    root = tmp_path_factory.mktemp("killed")
    rounds = []
    for kind, point, occurrence in kill_plan():
        if kind == "marker":
            returncode = kill_at_marker(root, point, occurrence)
        else:
            returncode = kill_after_delay(root, point)
        folder = entry_folder(root)
        rounds.append({"kind": kind, "point": point, "returncode": returncode, "intact": listed_shards_intact(folder)})

    final = run_to_end(root)
    return {"folder": entry_folder(root), "rounds": rounds, "final": final}


def test_every_marker_round_was_killed(killed_rounds):
    marker_rounds = [entry for entry in killed_rounds["rounds"] if entry["kind"] == "marker"]

    assert [entry["returncode"] for entry in marker_rounds] == [-signal.SIGKILL] * len(MARKERS)
    assert {entry["point"] for entry in marker_rounds} == set(MARKERS)


def test_delay_rounds_were_killed(killed_rounds):
    delay_rounds = [entry for entry in killed_rounds["rounds"] if entry["kind"] == "delay"]

    assert [entry["returncode"] for entry in delay_rounds] == [-signal.SIGKILL] * len(delay_rounds)


def test_listed_shards_intact_after_each_kill(killed_rounds):
    for entry in killed_rounds["rounds"]:
        assert entry["intact"], f"a listed shard is damaged after the kill at {entry['point']}"


def test_final_run_computes_some_shards(killed_rounds):
    decodable = SAMPLES - len(UNDECODABLE)

    assert 0 < killed_rounds["final"]["images_encoded"] < decodable


def test_resumed_manifest_equals_uninterrupted(killed_rounds, reference):
    assert manifest_without_timestamps(killed_rounds["folder"]) == manifest_without_timestamps(reference)


def test_resumed_shards_byte_identical(killed_rounds, reference):
    resumed = shard_files(killed_rounds["folder"])

    assert sorted(resumed) == [f"shard-{index:05d}.safetensors" for index in range(NUM_SHARDS)]
    assert resumed == shard_files(reference)


def test_no_temporary_files_left(killed_rounds):
    leftovers = [path.name for path in killed_rounds["folder"].iterdir() if ".tmp-" in path.name]

    assert leftovers == []


def test_resumed_entry_reads_every_decodable_sample(killed_rounds):
    entry = FeatureStore(killed_rounds["folder"].parent).entries()[0]
    keys, features = entry.load()

    assert entry.verify() == []
    assert len(keys) == len(set(keys)) == SAMPLES - len(UNDECODABLE)
    assert [sample.index for sample in entry.skipped_samples()] == sorted(UNDECODABLE)
    assert features.shape == (len(keys), ProjectionEncoder.dim)


if __name__ == "__main__":
    main()
