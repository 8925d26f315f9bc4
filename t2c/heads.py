"""Head: a fitted aligner plus its card, saved as `model.safetensors` + `config.json`.

A head maps features from encoder space (p-d) into target space (q-d) with
`aligned = features @ coef.T + intercept`. It also stores `target_mean`, the mean of the target
features it was fitted on, which zero-shot and search subtract before cosine scoring.

On disk a head is a folder with two files, both written through a temporary file and a rename:
- `model.safetensors`: float32 tensors `coef` (q, p), `intercept` (q,), `target_mean` (q,);
  the safetensors metadata stores `format_version`.
- `config.json`: the card (`t2c.card.HeadCard`), including the sha256 of `model.safetensors`.
No pickle is involved in either direction.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy
from pydantic import BaseModel, ValidationError

from t2c.card import FORMAT_VERSION, FitDataCard, HeadCard, describe_validation_error, parse_card
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError, HeadError, HeadMismatchError, NotFittedError, NotFoundError, ShapeError

log = logging.getLogger("t2c.heads")

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
TENSOR_NAMES = ("coef", "intercept", "target_mean")

# "org/name" as on the Hugging Face Hub: two path parts of letters, digits, "-", "_" and ".".
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class HeadNotFoundError(HeadError, NotFoundError):
    """A head folder, or one of its two files, does not exist."""


class HeadShapeError(HeadError, ShapeError):
    """A head's arrays have the wrong shape or dtype, disagree with its card, or are not finite."""


class Head:
    """A fitted aligner from encoder space into target space, plus its card.

    Args:
        coef: (q, p) float32, maps encoder space (p-d) to target space (q-d).
        intercept: (q,) float32, in target space.
        target_mean: (q,) float32, mean of the target features the head was fitted on.
        card: the head's `HeadCard` (or a dict that validates as one); its encoder.dim must be p
            and its target.dim must be q.
    """

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, target_mean: np.ndarray, card: HeadCard | dict):
        if not isinstance(card, HeadCard):
            card = _validate_card(card)

        tensors = {"coef": coef, "intercept": intercept, "target_mean": target_mean}
        tensors = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in tensors.items()}
        _check_tensors(tensors, card, source="Head(...)")

        self.coef = tensors["coef"]
        self.intercept = tensors["intercept"]
        self.target_mean = tensors["target_mean"]
        self.card = card

    @classmethod
    def from_aligner(
        cls,
        aligner,
        *,
        encoder,
        target,
        preprocessing: PreprocessConfig | dict,
        fit_data: FitDataCard | dict,
        target_mean: np.ndarray,
        metrics: dict[str, float] | None = None,
    ) -> "Head":
        """Build a head from a fitted aligner.

        Args:
            aligner: has `coef_` (q, p), `intercept_` (q,), `kind` and `hyperparameters_` (dict).
            encoder: an `Encoder`, or a dict with id, dim and optionally weights_sha256.
            target: a `Target`, or a dict with id and dim.
            preprocessing: the encoder's `PreprocessConfig` (or its dict) used to extract the fit features.
            fit_data: {dataset, split, n_samples} of the fit.
            target_mean: (q,) mean of the target features the aligner was fitted on.
            metrics: numbers to keep on the card, such as r2_paper, r2_sklearn, acc1.
        """
        if not hasattr(aligner, "coef_") or not hasattr(aligner, "intercept_"):
            raise NotFittedError(
                f"{type(aligner).__name__} has no coef_ / intercept_; call fit (or partial_fit) before building a head"
            )

        encoder_fields = _describe(encoder, "encoder")
        target_fields = _describe(target, "target")
        if isinstance(preprocessing, PreprocessConfig):
            preprocessing = preprocessing.model_dump(mode="json")
        if isinstance(fit_data, BaseModel):
            fit_data = fit_data.model_dump()

        missing = [key for key in ("dataset", "split", "n_samples") if key not in fit_data]
        if missing:
            raise ConfigError(f"fit_data {fit_data!r} is missing {', '.join(missing)}; pass {{dataset, split, n_samples}}")

        card_fields = {
            "format_version": FORMAT_VERSION,
            "encoder": {
                "id": encoder_fields["id"],
                "dim": _as_int(encoder_fields.get("dim"), "encoder dim"),
                "weights_sha256": encoder_fields.get("weights_sha256") or None,
            },
            "target": {"id": target_fields["id"], "dim": _as_int(target_fields.get("dim"), "target dim")},
            "aligner": {
                "kind": str(getattr(aligner, "kind", type(aligner).__name__)),
                "hyperparameters": _json_safe(dict(getattr(aligner, "hyperparameters_", {}))),
            },
            "preprocessing": _json_safe(dict(preprocessing)),
            "fit_data": {
                "dataset": str(fit_data["dataset"]),
                "split": str(fit_data["split"]),
                "n_samples": _as_int(fit_data["n_samples"], "fit_data n_samples"),
            },
            "metrics": {str(name): float(value) for name, value in (metrics or {}).items()},
            "t2c_version": _t2c_version(),
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for section in ("aligner", "preprocessing"):
            try:
                json.dumps(card_fields[section], allow_nan=False)
            except (TypeError, ValueError) as error:
                raise ConfigError(
                    f"head card section '{section}' contains a value that JSON cannot represent ({error}); "
                    "hyperparameters and preprocessing must be finite numbers, strings, booleans, lists or dicts"
                ) from None

        return cls(aligner.coef_, aligner.intercept_, target_mean, _validate_card(card_fields))

    # Using the head.

    @property
    def encoder_id(self) -> str:
        return self.card.encoder.id

    @property
    def target_id(self) -> str:
        return self.card.target.id

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Map features into target space.

        Args:
            features: (n, p) encoder-space features.

        Returns:
            (n, q) float32 aligned features in target space (not centered, not normalised).
        """
        features = np.asarray(features)
        p = self.card.encoder.dim
        if features.ndim != 2 or features.shape[1] != p:
            raise ShapeError(
                f"features have shape {features.shape}, but head {self.encoder_id} -> {self.target_id} "
                f"expects (n, {p}); pass features from encoder {self.encoder_id}"
            )
        return features.astype(np.float32, copy=False) @ self.coef.T + self.intercept

    def center(self, aligned: np.ndarray) -> np.ndarray:
        """Subtract `target_mean` from (n, q) aligned features in target space; returns float32."""
        aligned = np.asarray(aligned)
        q = self.card.target.dim
        if aligned.ndim not in (1, 2) or aligned.shape[-1] != q:
            raise ShapeError(f"aligned features have shape {aligned.shape}, expected (n, {q}) in target space of {self.target_id}")
        return aligned.astype(np.float32, copy=False) - self.target_mean

    def preprocess_config(self) -> PreprocessConfig:
        """Return the encoder's preprocessing the head was fitted with."""
        try:
            return PreprocessConfig.model_validate(self.card.preprocessing)
        except ValidationError as error:
            raise HeadError(
                f"head {self.encoder_id} -> {self.target_id} has preprocessing this t2c cannot read: {error}; "
                "upgrade t2c or refit the head"
            ) from None

    def check_compatible(self, encoder=None, target=None) -> None:
        """Raise `HeadMismatchError` unless `encoder` and `target` are the ones this head was fitted for.

        Each argument is an `Encoder`/`Target`, a dict from `describe()`, an id string, or None to skip it.
        Encoder weights are compared by sha256 when both the head and the encoder know it.
        """
        if encoder is not None:
            self._check_side("encoder", self.card.encoder.model_dump(), _describe(encoder, "encoder"))
        if target is not None:
            self._check_side("target", self.card.target.model_dump(), _describe(target, "target"))

    def _check_side(self, side: str, expected: dict, actual: dict) -> None:
        actual_dim = actual.get("dim")
        same_id = actual["id"] == expected["id"]
        same_dim = actual_dim is None or int(actual_dim) == expected["dim"]

        if not (same_id and same_dim):
            actual_text = actual["id"] if actual_dim is None else f"{actual['id']} ({actual_dim}-d)"
            raise HeadMismatchError(
                f"head expects {side} {expected['id']} ({expected['dim']}-d) but got {actual_text}; "
                f"pull a head for {actual['id']} or fit one with `t2c align`"
            )

        expected_sha = expected.get("weights_sha256")
        actual_sha = actual.get("weights_sha256") or None
        if expected_sha and actual_sha and expected_sha != actual_sha:
            raise HeadMismatchError(
                f"head expects {side} {expected['id']} with weights sha256 {expected_sha} but the loaded "
                f"weights have sha256 {actual_sha}; load the weights the head was fitted with, or refit it with `t2c align`"
            )

    def summary(self) -> dict:
        """Return a flat dict of the card's main facts, for CLI tables and JSON output."""
        card = self.card
        return {
            "encoder": card.encoder.id,
            "encoder_dim": card.encoder.dim,
            "target": card.target.id,
            "target_dim": card.target.dim,
            "aligner": card.aligner.kind,
            "hyperparameters": dict(card.aligner.hyperparameters),
            "fit_dataset": card.fit_data.dataset,
            "fit_split": card.fit_data.split,
            "fit_samples": card.fit_data.n_samples,
            "metrics": dict(card.metrics),
            "format_version": card.format_version,
            "t2c_version": card.t2c_version,
            "created_at": card.created_at,
            "weights_sha256": card.weights_sha256,
        }

    def __repr__(self) -> str:
        return (
            f"Head({self.encoder_id} ({self.card.encoder.dim}-d) -> {self.target_id} ({self.card.target.dim}-d), "
            f"aligner={self.card.aligner.kind!r})"
        )

    # Saving and loading.

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write `model.safetensors`, then `config.json` carrying its sha256, into `folder`.

        Each file is written to a temporary file in the same folder and renamed over the old one,
        so a crash never leaves a half-written file under either name. Returns the folder.
        """
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)

        # Callers may have edited the card in place (card.metrics.update(...)), so validate it
        # again: pydantic would write a NaN metric as null, which loading then rejects.
        _validate_card(self.card.model_dump())

        tensors = {"coef": self.coef, "intercept": self.intercept, "target_mean": self.target_mean}
        weights = safetensors.numpy.save(tensors, metadata={"format_version": str(FORMAT_VERSION)})
        weights_sha256 = hashlib.sha256(weights).hexdigest()
        _write_atomic(folder / WEIGHTS_NAME, weights)

        self.card = self.card.model_copy(update={"format_version": FORMAT_VERSION, "weights_sha256": weights_sha256})
        _write_atomic(folder / CONFIG_NAME, (self.card.model_dump_json(indent=2) + "\n").encode())

        log.info("saved head %s -> %s to %s (sha256 %s)", self.encoder_id, self.target_id, folder, weights_sha256)
        return folder

    def push_to_hub(
        self,
        repo_id: str,
        private: bool = False,
        revision: str | None = None,
        commit_message: str | None = None,
        **options,
    ):
        """Upload this head to a Hub model repo; returns `t2c.hub.PushResult` (branch and commit sha).

        `options` go to `t2c.hub.push_head`: license, token, endpoint, timeout_s, retries.
        """
        from t2c.hub import push_head  # t2c.hub imports this module, so import it late

        return push_head(self, repo_id, private=private, revision=revision, commit_message=commit_message, **options)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, revision: str | None = None) -> "Head":
        """Load and validate a head from a local folder or a Hub id ("org/name", pulled at `revision`).

        Checks that both files exist, the card matches the schema and a known format_version,
        the sha256 of `model.safetensors` equals the card's, shapes match the card's dims and
        every value is finite. Each failure raises a `HeadError` naming the file and the fix.
        """
        folder = resolve_head_folder(name_or_path, revision=revision)
        config_path = folder / CONFIG_NAME
        weights_path = folder / WEIGHTS_NAME

        for path in (config_path, weights_path):
            if not path.is_file():
                raise HeadNotFoundError(
                    f"head folder {folder} has no {path.name}; a head folder contains {CONFIG_NAME} and {WEIGHTS_NAME} "
                    "as written by save_pretrained; re-save or pull the head again"
                )

        card = parse_card(config_path.read_bytes(), source=str(config_path))
        weights = weights_path.read_bytes()
        tensors = _parse_weights(weights, weights_path, card)

        actual_sha256 = hashlib.sha256(weights).hexdigest()
        if card.weights_sha256 is None:
            raise HeadError(f"head config {config_path} has no weights_sha256; re-save the head with save_pretrained")
        if actual_sha256 != card.weights_sha256:
            raise HeadError(
                f"{weights_path} has sha256 {actual_sha256}, but {CONFIG_NAME} expects {card.weights_sha256}; "
                "the file was modified or damaged; pull or re-save the head"
            )

        _check_tensors(tensors, card, source=str(weights_path))
        log.info("loaded head %s -> %s from %s", card.encoder.id, card.target.id, folder)
        return cls(tensors["coef"], tensors["intercept"], tensors["target_mean"], card)


def resolve_head_folder(name_or_path: str | os.PathLike, *, revision: str | None = None) -> Path:
    """Return the local folder of a head given its path or Hub id ("org/name").

    An existing local path wins. A string shaped like a Hub id that is not a local path is pulled
    from the Hub into its cache by `_resolve_hub_id`. Anything else raises `HeadNotFoundError`.
    """
    path = Path(name_or_path).expanduser()

    if path.exists():
        if not path.is_dir():
            raise HeadNotFoundError(
                f"{path} is a file; pass the head folder that contains {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
        if revision is not None:
            raise ConfigError(f"revision={revision!r} applies to Hub ids only, but {path} is a local folder; drop the revision")
        return path

    if isinstance(name_or_path, str) and HUB_ID_PATTERN.match(name_or_path):
        return _resolve_hub_id(name_or_path, revision)

    raise HeadNotFoundError(f"head folder {path} not found; pass a folder written by save_pretrained")


def _resolve_hub_id(repo_id: str, revision: str | None) -> Path:
    """Pull a Hub head into huggingface_hub's cache, validated, and return its snapshot folder.

    Honours HF_ENDPOINT and HF_HUB_OFFLINE (cache only); failures raise `t2c.errors.HubError` subclasses.
    """
    from t2c.hub import hub_head_folder  # t2c.hub imports this module, so import it late

    return hub_head_folder(repo_id, revision)


# Validation shared by the constructor and from_pretrained.


def _parse_weights(weights: bytes, path: Path, card: HeadCard) -> dict[str, np.ndarray]:
    """Parse safetensors bytes into float32 arrays named coef, intercept, target_mean."""
    try:
        tensors = safetensors.numpy.load(weights)
    except safetensors.SafetensorError as error:
        raise HeadError(
            f"{path} is truncated or not a safetensors file ({error}); pull or re-save the head"
        ) from None
    except KeyError as error:
        # safetensors.numpy (0.8) raises KeyError for dtypes numpy lacks, such as BF16.
        raise HeadShapeError(f"{path} contains a tensor of dtype {error}, expected float32; re-save the head") from None

    stored_version = _read_safetensors_metadata(weights).get("format_version")
    if stored_version != str(card.format_version):
        raise HeadError(
            f"{path} has format_version {stored_version!r} in its metadata, but {CONFIG_NAME} has "
            f"{card.format_version}; the two files come from different heads; pull or re-save the head"
        )

    names = sorted(tensors)
    if names != sorted(TENSOR_NAMES):
        raise HeadShapeError(f"{path} contains tensors {names}, expected exactly {sorted(TENSOR_NAMES)}; pull or re-save the head")

    for name, array in tensors.items():
        if array.dtype != np.float32:
            raise HeadShapeError(f"{path} tensor '{name}' has dtype {array.dtype}, expected float32; re-save the head")
    return tensors


def _read_safetensors_metadata(weights: bytes) -> dict[str, str]:
    # A safetensors file starts with an 8-byte little-endian header length, then a JSON header
    # whose "__metadata__" entry contains the string-to-string metadata. Called after
    # safetensors.numpy.load accepted the bytes, so the header is well formed.
    header_length = int.from_bytes(weights[:8], "little")
    header = json.loads(weights[8 : 8 + header_length])
    return header.get("__metadata__") or {}


def _check_tensors(tensors: dict[str, np.ndarray], card: HeadCard, source: str) -> None:
    """Check shapes against the card's dims and that every value is finite."""
    p = card.encoder.dim
    q = card.target.dim
    expected_shapes = {"coef": (q, p), "intercept": (q,), "target_mean": (q,)}

    for name, expected in expected_shapes.items():
        shape = tensors[name].shape
        if shape != expected:
            raise HeadShapeError(
                f"{source}: '{name}' has shape {shape}, but the card ({card.encoder.id} {p}-d -> "
                f"{card.target.id} {q}-d) expects {expected}; refit the head or fix the card's dims"
            )

    for name in TENSOR_NAMES:
        bad = int(np.size(tensors[name]) - np.count_nonzero(np.isfinite(tensors[name])))
        if bad:
            raise HeadShapeError(f"{source}: '{name}' contains {bad} non-finite values (NaN or inf); refit the head")


def _validate_card(fields: dict) -> HeadCard:
    try:
        return HeadCard.model_validate(fields)
    except ValidationError as error:
        raise ConfigError(f"invalid head card: {describe_validation_error(error)}") from None


# Small helpers.


def _describe(component, side: str) -> dict:
    """Return {id, dim, ...} for an Encoder/Target, a describe() dict or an id string."""
    if isinstance(component, str):
        return {"id": component}
    if hasattr(component, "describe"):
        component = component.describe()
    if isinstance(component, dict) and "id" in component:
        return component
    raise ConfigError(
        f"{side} must be an object with describe(), a dict with 'id' and 'dim', or an id string; got {component!r}"
    )


def _as_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _json_safe(value):
    """Convert numpy scalars and arrays, tuples and paths inside `value` to plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _t2c_version() -> str:
    try:
        return metadata.version("t2c")
    except metadata.PackageNotFoundError:
        return "unknown"  # running from a source tree that was never installed


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
