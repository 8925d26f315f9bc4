"""SIGKILL at seeded random points of extraction, resumed each time, loses and duplicates nothing.

Each round starts tests/helpers_reliability.py on the same feature store and kills it: at each
write step of the store (a marker, see that file) and after random delays. A final run
completes the entry, which must then equal an uninterrupted run's byte for byte.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers_reliability import MARKERS, NUM_SHARDS, SAMPLES, UNDECODABLE
from t2c.features import FeatureStore
from t2c.features.manifest import MANIFEST_NAME, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[1]
HELPER = Path(__file__).resolve().parent / "helpers_reliability.py"
SEED = 20240501

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="markers read file names from /proc/self/fd")


def child_command(root: Path, *extra: str) -> list[str]:
    return [sys.executable, str(HELPER), "--root", str(root), *extra]


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
    plan += [("delay", round(rng.uniform(0.0, 0.6), 3), 0) for _ in range(3)]
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
    assert features.shape == (len(keys), 12)
