"""The head card: the JSON description stored beside a head's weights as `config.json`.

The card is strict (unknown fields and wrong types are errors), so a damaged or foreign
`config.json` fails loudly instead of loading with silent defaults. The arrays of a head
(coef, intercept, target_mean) live in `model.safetensors`, never in the card.
"""

import json
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from t2c.errors import HeadError

FORMAT_VERSION = 1  # the card and safetensors layout this t2c writes and reads

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class _StrictModel(BaseModel):
    # strict=True keeps JSON "2048" (a string) from passing as the integer 2048.
    model_config = ConfigDict(extra="forbid", strict=True)


def _check_sha256(value: str | None) -> str | None:
    if value is not None and not SHA256_PATTERN.match(value):
        raise ValueError(f"expected 64 lowercase hex digits or null, got {value!r}")
    return value


class EncoderCard(_StrictModel):
    """The encoder a head maps from: its id, feature dimension and weights' sha256."""

    id: str = Field(min_length=1)
    dim: int = Field(gt=0, description="features per image in encoder space")
    weights_sha256: str | None = Field(None, description="sha256 of the encoder's weights; null when unknown")

    _check_weights = field_validator("weights_sha256")(_check_sha256)


class TargetCard(_StrictModel):
    """The target a head maps into: its id and the dimension of target space."""

    id: str = Field(min_length=1)
    dim: int = Field(gt=0, description="dimension of target space")


class AlignerCard(_StrictModel):
    """The aligner kind ("ridge", "lstsq", ...) and the hyperparameters it was fitted with."""

    kind: str = Field(min_length=1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class FitDataCard(_StrictModel):
    """The data a head was fitted on: data set id, split and number of images."""

    dataset: str = Field(min_length=1)
    split: str = Field(min_length=1)
    n_samples: int = Field(ge=0)


class HeadCard(_StrictModel):
    """Everything about a head except its arrays; saved as `config.json`."""

    format_version: int = Field(ge=1)
    encoder: EncoderCard
    target: TargetCard
    aligner: AlignerCard
    preprocessing: dict[str, Any] = Field(description="the encoder's PreprocessConfig as a dict")
    fit_data: FitDataCard
    metrics: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    t2c_version: str
    created_at: str = Field(description="ISO 8601 time in UTC, such as 2024-05-01T12:00:00Z")
    weights_sha256: str | None = Field(
        None, description="sha256 of model.safetensors; null until save_pretrained writes the weights"
    )

    _check_weights = field_validator("weights_sha256")(_check_sha256)

    @field_validator("created_at")
    @classmethod
    def _check_created_at(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value!r}") from None

        if moment.utcoffset() != timedelta(0):
            raise ValueError(f"expected a time in UTC (suffix Z or +00:00), got {value!r}")
        return value


def parse_card(text: str | bytes, source: str) -> HeadCard:
    """Parse and validate the text of a `config.json`; `source` names the file in errors.

    Raises:
        HeadError: the text is not JSON, has no known format_version, or breaks the schema.
    """
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        # RecursionError: arrays or objects nested thousands deep exceed the parser's depth limit.
        raise HeadError(f"head config {source} is not valid JSON ({error}); re-save the head with save_pretrained") from None

    if not isinstance(raw, dict):
        raise HeadError(f"head config {source} must be a JSON object, got {type(raw).__name__}; re-save the head with save_pretrained")

    _check_format_version(raw.get("format_version"), source)

    try:
        return HeadCard.model_validate(raw)
    except ValidationError as error:
        raise HeadError(
            f"invalid head config {source}: {describe_validation_error(error)}; "
            "fix these fields or re-save the head with save_pretrained"
        ) from None


def _check_format_version(version: object, source: str) -> None:
    # Checked before the schema, so a card from a newer t2c raises an upgrade message instead
    # of a list of the fields this version does not know.
    if version is None:
        raise HeadError(f"head config {source} has no format_version; expected {FORMAT_VERSION}; re-save the head with save_pretrained")

    if isinstance(version, bool) or not isinstance(version, int):
        raise HeadError(f"head config {source}: field 'format_version' must be an integer, got {version!r}")

    if version > FORMAT_VERSION:
        raise HeadError(
            f"head config {source} has format_version {version}, but this t2c reads up to format_version "
            f"{FORMAT_VERSION}; upgrade t2c (pip install -U t2c) to load this head"
        )

    if version < 1:
        raise HeadError(f"head config {source} has format_version {version}; expected {FORMAT_VERSION}")


def describe_validation_error(error: ValidationError) -> str:
    """Return one line listing each field a card breaks, such as "unknown field 'encoder.layer'"."""
    return "; ".join(_describe_problem(problem) for problem in error.errors())


def _describe_problem(problem: dict) -> str:
    field = ".".join(str(part) for part in problem["loc"]) or "(top level)"

    if problem["type"] == "extra_forbidden":
        return f"unknown field '{field}'"
    if problem["type"] == "missing":
        return f"missing field '{field}'"

    if problem["type"] == "value_error":
        # Our validators put the value into their message already.
        return f"field '{field}': {problem['ctx']['error']}"

    input_repr = repr(problem.get("input"))
    if len(input_repr) > 60:
        input_repr = input_repr[:57] + "..."
    return f"field '{field}': {problem['msg']}, got {input_repr}"
