"""Head: building from an aligner, save/load round trip, and every way a head folder can be broken."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from sklearn.linear_model import Ridge

from t2c.card import FORMAT_VERSION, HeadCard
from t2c.encoders.base import Encoder
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError, HeadError, HeadMismatchError, NotFittedError, NotFoundError, ShapeError
from t2c.heads import CONFIG_NAME, WEIGHTS_NAME, Head, HeadNotFoundError, HeadShapeError

P, Q, N = 12, 5, 64
ENCODER = {"id": "timm:resnet50.a1_in1k", "dim": P, "weights_sha256": "a" * 64}
TARGET = {"id": "openclip:ViT-B-16/openai", "dim": Q}


class RidgeAligner(Ridge):
    """scikit-learn's Ridge with the two attributes t2c aligners carry."""

    kind = "ridge"

    @property
    def hyperparameters_(self):
        return {"alpha": np.float64(self.alpha), "alphas": (0.1, 1.0)}


class ProjectionEncoder(Encoder):
    """A fixed random projection, enough to exercise describe() in compatibility checks."""

    def __init__(self, id, dim, weights_sha256=""):
        self.id = id
        self.dim = dim
        self.preprocess = PreprocessConfig()
        self.weights_sha256 = weights_sha256

    def encode(self, pixels):
        flat = pixels.reshape(len(pixels), -1)
        projection = np.random.default_rng(0).standard_normal((flat.shape[1], self.dim)).astype(np.float32)
        return flat @ projection


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((N, P)).astype(np.float32)
    targets = features @ rng.standard_normal((P, Q)).astype(np.float32) + 0.5
    aligner = RidgeAligner(alpha=1.0).fit(features, targets)
    return aligner, features, targets


@pytest.fixture
def head(fitted):
    aligner, _, targets = fitted
    return Head.from_aligner(
        aligner,
        encoder=ENCODER,
        target=TARGET,
        preprocessing=PreprocessConfig(),
        fit_data={"dataset": "folder:/data/train", "split": "all", "n_samples": N},
        target_mean=targets.mean(axis=0),
        metrics={"r2_paper": 0.78, "r2_sklearn": np.float32(0.75)},
    )


@pytest.fixture
def saved(head, tmp_path):
    return head.save_pretrained(tmp_path / "head")


def rewrite_weights(folder: Path, tensors: dict, metadata=None) -> None:
    """Replace model.safetensors and update the card's sha256, as a consistent but bad head."""
    data = safetensors.numpy.save(tensors, metadata=metadata or {"format_version": str(FORMAT_VERSION)})
    (folder / WEIGHTS_NAME).write_bytes(data)
    edit_config(folder, weights_sha256=hashlib.sha256(data).hexdigest())


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / CONFIG_NAME).read_text())
    config.update(changes)
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def load_tensors(folder: Path) -> dict:
    return safetensors.numpy.load_file(str(folder / WEIGHTS_NAME))


# Building and using a head.


def test_from_aligner_fills_card(head, fitted):
    aligner, _, _ = fitted
    card = head.card

    assert card.format_version == FORMAT_VERSION
    assert card.encoder.model_dump() == ENCODER
    assert card.target.model_dump() == TARGET
    assert card.aligner.kind == "ridge"
    assert card.aligner.hyperparameters == {"alpha": 1.0, "alphas": [0.1, 1.0]}
    assert card.preprocessing == PreprocessConfig().model_dump(mode="json")
    assert card.fit_data.n_samples == N
    assert card.metrics["r2_sklearn"] == pytest.approx(0.75)
    assert card.created_at.endswith("Z")
    assert card.weights_sha256 is None
    np.testing.assert_array_equal(head.coef, aligner.coef_.astype(np.float32))


def test_transform_matches_aligner(head, fitted):
    aligner, features, _ = fitted

    aligned = head.transform(features)

    assert aligned.shape == (N, Q)
    assert aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, aligner.predict(features), rtol=1e-4, atol=1e-4)


def test_center_subtracts_target_mean(head, fitted):
    _, features, targets = fitted

    centered = head.center(head.transform(features))

    np.testing.assert_allclose(centered.mean(axis=0), head.transform(features).mean(axis=0) - targets.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(head.center(targets).mean(axis=0), np.zeros(Q), atol=1e-5)


def test_transform_rejects_wrong_width(head):
    with pytest.raises(ShapeError, match=r"expects \(n, 12\)"):
        head.transform(np.zeros((3, P + 1), np.float32))


def test_from_aligner_requires_fit():
    with pytest.raises(NotFittedError, match="call fit"):
        Head.from_aligner(
            RidgeAligner(),
            encoder=ENCODER,
            target=TARGET,
            preprocessing={},
            fit_data={"dataset": "d", "split": "s", "n_samples": 1},
            target_mean=np.zeros(Q),
        )


def test_from_aligner_rejects_nan_metric(fitted):
    aligner, _, targets = fitted
    with pytest.raises(ConfigError, match="r2_paper"):
        Head.from_aligner(
            aligner,
            encoder=ENCODER,
            target=TARGET,
            preprocessing={},
            fit_data={"dataset": "d", "split": "s", "n_samples": N},
            target_mean=targets.mean(axis=0),
            metrics={"r2_paper": math.nan},
        )


def test_save_rejects_nan_metric_added_later(head, tmp_path):
    head.card.metrics["acc1"] = math.nan

    with pytest.raises(ConfigError, match=r"field 'metrics\.acc1': Input should be a finite number"):
        head.save_pretrained(tmp_path / "head")

    assert not (tmp_path / "head" / WEIGHTS_NAME).exists()


def test_from_aligner_requires_dims(fitted):
    aligner, _, targets = fitted
    with pytest.raises(ConfigError, match="encoder dim must be an integer, got None"):
        Head.from_aligner(
            aligner,
            encoder=ENCODER["id"],
            target=TARGET,
            preprocessing={},
            fit_data={"dataset": "d", "split": "s", "n_samples": N},
            target_mean=targets.mean(axis=0),
        )


def test_constructor_rejects_card_dims(head):
    with pytest.raises(HeadShapeError, match=r"'coef' has shape \(5, 11\)"):
        Head(head.coef[:, :-1], head.intercept, head.target_mean, head.card)


def test_summary_lists_card_facts(saved):
    summary = Head.from_pretrained(saved).summary()

    assert summary["encoder"] == ENCODER["id"]
    assert summary["target_dim"] == Q
    assert summary["aligner"] == "ridge"
    assert summary["fit_samples"] == N
    assert summary["metrics"]["r2_paper"] == pytest.approx(0.78)
    assert len(summary["weights_sha256"]) == 64
    json.dumps(summary)


# Saving and loading.


def test_round_trip_is_bit_exact(head, saved):
    loaded = Head.from_pretrained(saved)

    for name in ("coef", "intercept", "target_mean"):
        assert getattr(loaded, name).tobytes() == getattr(head, name).tobytes()
    assert loaded.card == head.card


def test_save_writes_sha_of_weights(saved):
    config = json.loads((saved / CONFIG_NAME).read_text())

    assert config["weights_sha256"] == hashlib.sha256((saved / WEIGHTS_NAME).read_bytes()).hexdigest()
    assert "target_mean" not in config
    assert sorted(load_tensors(saved)) == ["coef", "intercept", "target_mean"]


def test_save_leaves_no_temporary_files(saved):
    assert sorted(path.name for path in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]


def test_safetensors_metadata_has_format_version(saved):
    with safetensors.safe_open(str(saved / WEIGHTS_NAME), framework="numpy") as weights:
        assert weights.metadata()["format_version"] == str(FORMAT_VERSION)


def test_save_overwrites_existing_head(head, saved):
    head.save_pretrained(saved)

    assert Head.from_pretrained(saved).card == head.card


def test_preprocess_config_round_trips(saved):
    assert Head.from_pretrained(saved).preprocess_config() == PreprocessConfig()


# Every broken head folder raises a HeadError naming the file and the fix.


def remove_config(folder):
    (folder / CONFIG_NAME).unlink()


def remove_weights(folder):
    (folder / WEIGHTS_NAME).unlink()


def truncate_weights(folder):
    data = (folder / WEIGHTS_NAME).read_bytes()
    (folder / WEIGHTS_NAME).write_bytes(data[: len(data) // 2])


def flip_weight_byte(folder):
    data = bytearray((folder / WEIGHTS_NAME).read_bytes())
    data[-3] ^= 0x01  # inside the target_mean tensor, so the file still parses
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))


def add_unknown_field(folder):
    edit_config(folder, colour="blue")


def add_unknown_nested_field(folder):
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["encoder"]["layer"] = "avgpool"
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def make_dim_a_string(folder):
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["encoder"]["dim"] = str(P)
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def make_created_at_local(folder):
    edit_config(folder, created_at="2024-05-01T12:00:00+02:00")


def bump_format_version(folder):
    edit_config(folder, format_version=FORMAT_VERSION + 1, new_field=1)


def drop_format_version(folder):
    config = json.loads((folder / CONFIG_NAME).read_text())
    del config["format_version"]
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def write_invalid_json(folder):
    (folder / CONFIG_NAME).write_text('{"format_version": 1,')


def drop_weights_sha(folder):
    edit_config(folder, weights_sha256=None)


def shrink_coef(folder):
    tensors = load_tensors(folder)
    tensors["coef"] = np.ascontiguousarray(tensors["coef"][:, :-1])
    rewrite_weights(folder, tensors)


def shrink_intercept(folder):
    tensors = load_tensors(folder)
    tensors["intercept"] = np.ascontiguousarray(tensors["intercept"][:-1])
    rewrite_weights(folder, tensors)


def claim_other_encoder_dim(folder):
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["encoder"]["dim"] = 2048
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def put_nan_in_coef(folder):
    tensors = load_tensors(folder)
    tensors["coef"][0, 0] = np.nan
    rewrite_weights(folder, tensors)


def put_inf_in_target_mean(folder):
    tensors = load_tensors(folder)
    tensors["target_mean"][1] = np.inf
    rewrite_weights(folder, tensors)


def store_float64(folder):
    tensors = {name: array.astype(np.float64) for name, array in load_tensors(folder).items()}
    rewrite_weights(folder, tensors)


def drop_tensor(folder):
    tensors = load_tensors(folder)
    del tensors["target_mean"]
    rewrite_weights(folder, tensors)


def mismatch_metadata_version(folder):
    rewrite_weights(folder, load_tensors(folder), metadata={"format_version": "7"})


BROKEN_HEADS = [
    ("missing config", remove_config, HeadNotFoundError, r"has no config\.json"),
    ("missing weights", remove_weights, HeadNotFoundError, r"has no model\.safetensors"),
    ("truncated weights", truncate_weights, HeadError, r"model\.safetensors is truncated or not a safetensors file"),
    ("tampered weights", flip_weight_byte, HeadError, r"model\.safetensors has sha256 [0-9a-f]{64}, but config\.json expects"),
    ("unknown field", add_unknown_field, HeadError, r"config\.json: unknown field 'colour'"),
    ("unknown nested field", add_unknown_nested_field, HeadError, r"unknown field 'encoder\.layer'"),
    ("wrong type", make_dim_a_string, HeadError, r"field 'encoder\.dim': Input should be a valid integer, got '12'"),
    ("local created_at", make_created_at_local, HeadError, r"field 'created_at'.*UTC"),
    ("newer format version", bump_format_version, HeadError, r"format_version 2.*upgrade t2c"),
    ("no format version", drop_format_version, HeadError, r"has no format_version"),
    ("invalid json", write_invalid_json, HeadError, r"config\.json is not valid JSON"),
    ("no weights sha", drop_weights_sha, HeadError, r"has no weights_sha256"),
    ("coef narrower than card", shrink_coef, HeadShapeError, r"'coef' has shape \(5, 11\).*expects \(5, 12\)"),
    ("intercept shorter than card", shrink_intercept, HeadShapeError, r"'intercept' has shape \(4,\).*expects \(5,\)"),
    ("card claims other dim", claim_other_encoder_dim, HeadShapeError, r"'coef' has shape \(5, 12\).*expects \(5, 2048\)"),
    ("nan weights", put_nan_in_coef, HeadShapeError, r"'coef' contains 1 non-finite values"),
    ("inf target mean", put_inf_in_target_mean, HeadShapeError, r"'target_mean' contains 1 non-finite values"),
    ("float64 weights", store_float64, HeadShapeError, r"dtype float64, expected float32"),
    ("missing tensor", drop_tensor, HeadShapeError, r"expected exactly \['coef', 'intercept', 'target_mean'\]"),
    ("metadata version differs", mismatch_metadata_version, HeadError, r"format_version '7' in its metadata"),
]


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [case[1:] for case in BROKEN_HEADS],
    ids=[case[0] for case in BROKEN_HEADS],
)
def test_broken_head_raises(saved, damage, error, message):
    damage(saved)

    with pytest.raises(error, match=message) as raised:
        Head.from_pretrained(saved)

    assert isinstance(raised.value, HeadError)
    assert str(saved) in str(raised.value)


def test_missing_folder_raises_not_found(tmp_path):
    with pytest.raises(HeadNotFoundError, match="not found"):
        Head.from_pretrained(tmp_path / "nothing-here")


def test_file_instead_of_folder_raises(saved):
    with pytest.raises(HeadNotFoundError, match="is a file; pass the head folder"):
        Head.from_pretrained(saved / CONFIG_NAME)


def test_local_folder_wins_over_hub_id(head, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    head.save_pretrained(tmp_path / "org" / "head")

    assert Head.from_pretrained("org/head").card.encoder.id == ENCODER["id"]


def test_revision_with_local_folder_raises(saved):
    with pytest.raises(ConfigError, match="revision"):
        Head.from_pretrained(saved, revision="v1")


# Compatibility with the encoder and target in use.


def test_compatible_with_own_encoder_and_target(saved):
    head = Head.from_pretrained(saved)

    head.check_compatible(encoder=ENCODER, target=TARGET)
    head.check_compatible(encoder=ProjectionEncoder(ENCODER["id"], P, weights_sha256=ENCODER["weights_sha256"]))
    head.check_compatible(encoder=ENCODER["id"])


def test_other_encoder_raises_mismatch(head):
    other = ProjectionEncoder("dinov2:vits14", 384)

    with pytest.raises(HeadMismatchError) as raised:
        head.check_compatible(encoder=other)

    assert str(raised.value) == (
        "head expects encoder timm:resnet50.a1_in1k (12-d) but got dinov2:vits14 (384-d); "
        "pull a head for dinov2:vits14 or fit one with `t2c align`"
    )


def test_other_target_raises_mismatch(head):
    with pytest.raises(HeadMismatchError, match=r"head expects target openclip:ViT-B-16/openai \(5-d\) but got offline:effnet-lite0-minilm \(1280-d\)"):
        head.check_compatible(target={"id": "offline:effnet-lite0-minilm", "dim": 1280})


def test_same_id_other_dim_raises_mismatch(head):
    with pytest.raises(HeadMismatchError, match=r"but got timm:resnet50\.a1_in1k \(13-d\)"):
        head.check_compatible(encoder={"id": ENCODER["id"], "dim": P + 1})


def test_other_weights_raise_mismatch(head):
    other_weights = ProjectionEncoder(ENCODER["id"], P, weights_sha256="b" * 64)

    with pytest.raises(HeadMismatchError) as raised:
        head.check_compatible(encoder=other_weights)

    assert "a" * 64 in str(raised.value)
    assert "b" * 64 in str(raised.value)


def test_unknown_weights_skip_sha_check(head):
    head.check_compatible(encoder=ProjectionEncoder(ENCODER["id"], P))


def test_card_schema_is_strict():
    fields = {
        "format_version": 1,
        "encoder": {"id": "e", "dim": 2},
        "target": {"id": "t", "dim": 2},
        "aligner": {"kind": "ridge"},
        "preprocessing": {},
        "fit_data": {"dataset": "d", "split": "s", "n_samples": 1},
        "t2c_version": "0.1.0",
        "created_at": "2024-05-01T12:00:00Z",
    }
    HeadCard.model_validate(fields)

    with pytest.raises(ValueError):
        HeadCard.model_validate({**fields, "encoder": {"id": "e", "dim": 2.0}})
    with pytest.raises(ValueError):
        HeadCard.model_validate({**fields, "weights_sha256": "not-a-sha"})
