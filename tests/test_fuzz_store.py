"""Fuzzing the feature-store manifest: a damaged manifest reads correctly or raises a `T2CError`.

Readers index arrays and open files with the manifest's numbers, so damaged values must be
rejected before they are used, not crash later with IndexError or MemoryError.
"""

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_reliability import BytesDataset, ProjectionEncoder
from t2c.errors import FeatureStoreError, T2CError
from t2c.features import FeatureEntry, FeatureStore, extract_features
from t2c.features.manifest import MANIFEST_NAME

EDITS = st.tuples(
    st.sampled_from(["overwrite", "delete", "insert", "truncate"]),
    st.integers(0, 1 << 12),
    st.binary(min_size=1, max_size=8),
)


@pytest.fixture(scope="module")
def entry_folder(tmp_path_factory) -> Path:
    store = FeatureStore(tmp_path_factory.mktemp("store"))
    entry = extract_features(ProjectionEncoder(), BytesDataset(20, {3: "truncated"}), "train", store=store, shard_size=8)
    return entry.path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzzed") / "entry"


def mutate(data: bytes, edits) -> bytes:
    data = bytearray(data)
    for kind, position, payload in edits:
        position %= max(len(data), 1)
        if kind == "overwrite":
            data[position : position + len(payload)] = payload
        elif kind == "delete":
            del data[position : position + len(payload)]
        elif kind == "insert":
            data[position:position] = payload
        else:
            del data[position:]
    return bytes(data)


def read_everything(folder: Path) -> None:
    """Open the entry and use every reader; any error other than a T2CError fails the test."""
    try:
        entry = FeatureEntry.open(folder)
    except FeatureStoreError:
        return

    try:
        entry.verify()
        entry.load()
        entry.row_positions()
        entry.check_keys([f"train/{index:05d}" for index in range(entry.split_size)])
    except T2CError:
        return


def copy_entry(entry_folder: Path, scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(entry_folder, scratch)


def leaf_paths(value, path=()) -> list[tuple]:
    """Return the path of every number, string, boolean and null inside a JSON value."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaf_paths(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in leaf_paths(item, (*path, index))]
    return [path]


fuzz_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz_settings
@given(edits=st.lists(EDITS, min_size=1, max_size=5))
def test_mutated_manifest_bytes(entry_folder, scratch, edits):
    copy_entry(entry_folder, scratch)
    (scratch / MANIFEST_NAME).write_bytes(mutate((entry_folder / MANIFEST_NAME).read_bytes(), edits))

    read_everything(scratch)


@fuzz_settings
@given(data=st.data())
def test_manifest_values_replaced(entry_folder, scratch, data):
    manifest = json.loads((entry_folder / MANIFEST_NAME).read_text())
    values = st.sampled_from([0, -1, 1, 2, 3, 7, 8, 9, 19, 20, 21, 10**12, -(10**12), "x", "../manifest.json", None, 1.5, []])
    for path in data.draw(st.lists(st.sampled_from(leaf_paths(manifest)), min_size=1, max_size=3)):
        parent = manifest
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(values)

    copy_entry(entry_folder, scratch)
    (scratch / MANIFEST_NAME).write_text(json.dumps(manifest))

    read_everything(scratch)
