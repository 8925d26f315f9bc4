"""Fuzzing the feature-store manifest: damaged bytes open or raise `FeatureStoreError`, nothing else."""

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_reliability import BytesDataset, ProjectionEncoder
from t2c.errors import FeatureStoreError
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


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=5))
def test_mutated_manifest_opens_or_raises(entry_folder, scratch, edits):
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(entry_folder, scratch)
    (scratch / MANIFEST_NAME).write_bytes(mutate((entry_folder / MANIFEST_NAME).read_bytes(), edits))

    try:
        entry = FeatureEntry.open(scratch)
    except FeatureStoreError:
        return

    try:
        entry.verify()
        entry.load()
    except FeatureStoreError:
        return
