"""Fuzzing `Head.from_pretrained` with damaged config.json and model.safetensors files.

Whatever the two files contain, loading returns a valid head or raises a `T2CError`; any other
exception is a crash.
"""

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from t2c.errors import HeadError, T2CError
from t2c.heads import CONFIG_NAME, WEIGHTS_NAME, Head

CARD = {
    "format_version": 1,
    "encoder": {"id": "timm:resnet50.a1_in1k", "dim": 6, "weights_sha256": "a" * 64},
    "target": {"id": "openclip:ViT-B-16/openai", "dim": 4},
    "aligner": {"kind": "ridge", "hyperparameters": {"alpha": 1.0}},
    "preprocessing": {"resize": 224},
    "fit_data": {"dataset": "folder:/data/train", "split": "all", "n_samples": 64},
    "metrics": {"r2_paper": 0.78},
    "t2c_version": "0.1.0",
    "created_at": "2024-05-01T12:00:00Z",
}
# Bytes per element of dtypes safetensors 0.8 accepts in a header.
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8}

EDITS = st.tuples(
    st.sampled_from(["overwrite", "delete", "insert", "truncate"]),
    st.one_of(st.integers(0, 127), st.integers(0, 1 << 12)),
    st.binary(min_size=1, max_size=8),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    head = Head(rng.standard_normal((4, 6)), rng.standard_normal(4), rng.standard_normal(4), CARD)
    return head.save_pretrained(tmp_path_factory.mktemp("heads") / "valid")


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


def load_or_t2c_error(folder: Path) -> None:
    try:
        head = Head.from_pretrained(folder)
    except T2CError:
        return
    assert head.coef.shape == (head.card.target.dim, head.card.encoder.dim)
    assert np.isfinite(head.coef).all()


@pytest.fixture(scope="module")
def scratch(saved, tmp_path_factory) -> Path:
    """A head folder that each example overwrites, starting from copies of the valid files."""
    return tmp_path_factory.mktemp("fuzzed") / "head"


def copy_of(saved: Path, scratch: Path) -> Path:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(saved, scratch)
    return scratch


settings_fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_fuzz
@given(config_edits=st.lists(EDITS, max_size=5), weights_edits=st.lists(EDITS, max_size=5))
def test_mutated_bytes_load_or_raise(saved, scratch, config_edits, weights_edits):
    folder = copy_of(saved, scratch)
    (folder / CONFIG_NAME).write_bytes(mutate((saved / CONFIG_NAME).read_bytes(), config_edits))
    (folder / WEIGHTS_NAME).write_bytes(mutate((saved / WEIGHTS_NAME).read_bytes(), weights_edits))

    load_or_t2c_error(folder)


# Card fields to replace: every top-level field, every field of a section, and two unknown ones.
CARD_PATHS = (
    [(name,) for name in CARD]
    + [(section, name) for section, fields in CARD.items() if isinstance(fields, dict) for name in fields]
    + [("colour",), ("encoder", "layer")]
)


@settings_fuzz
@given(path=st.sampled_from(CARD_PATHS), value=JSON_VALUES)
def test_card_field_replaced_loads_or_raises(saved, scratch, path, value):
    folder = copy_of(saved, scratch)
    card = json.loads((saved / CONFIG_NAME).read_text())
    section = card if len(path) == 1 else card[path[0]]
    section[path[-1]] = value
    (folder / CONFIG_NAME).write_text(json.dumps(card))

    load_or_t2c_error(folder)


def safetensors_bytes(header: dict, payload: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def write_weights(folder: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """Write zero-filled tensors {name: (dtype, shape)} and point the card's sha256 at the file."""
    header = {}
    offset = 0
    for name, (dtype, shape) in sorted(tensors.items()):
        size = int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format_version": "1"}
    data = safetensors_bytes(header, bytes(offset))
    (folder / WEIGHTS_NAME).write_bytes(data)

    card = json.loads((folder / CONFIG_NAME).read_text())
    card["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / CONFIG_NAME).write_text(json.dumps(card))


@settings_fuzz
@given(
    name=st.sampled_from(["coef", "intercept", "target_mean", "extra"]),
    dtype=st.sampled_from(sorted(DTYPE_SIZES)),
    shape=st.lists(st.integers(0, 6), max_size=3),
)
def test_weights_any_dtype_or_shape(saved, scratch, name, dtype, shape):
    folder = copy_of(saved, scratch)
    tensors = {"coef": ("F32", [4, 6]), "intercept": ("F32", [4]), "target_mean": ("F32", [4])}
    tensors[name] = (dtype, shape)
    write_weights(folder, tensors)

    load_or_t2c_error(folder)


def test_bf16_weights_raise_head_error(saved, tmp_path):
    folder = tmp_path / "bf16"
    shutil.copytree(saved, folder)
    write_weights(folder, {"coef": ("BF16", [4, 6]), "intercept": ("F32", [4]), "target_mean": ("F32", [4])})

    with pytest.raises(HeadError, match="dtype 'BF16', expected float32"):
        Head.from_pretrained(folder)


def test_deeply_nested_config_raises_head_error(saved, tmp_path):
    folder = tmp_path / "nested"
    shutil.copytree(saved, folder)
    (folder / CONFIG_NAME).write_text("[" * 100_000)

    with pytest.raises(HeadError, match="not valid JSON"):
        Head.from_pretrained(folder)
