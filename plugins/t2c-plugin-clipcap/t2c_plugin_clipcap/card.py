"""The decoder card: `decoder.json` beside the mapper weights and the GPT-2 folder."""

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from t2c.card import describe_validation_error
from t2c.errors import HeadError

FORMAT_VERSION = 1


class DecoderCard(BaseModel):
    """Everything about a ClipCap decoder except its weights."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format_version: int = Field(ge=1, le=FORMAT_VERSION)
    kind: str = Field("clipcap", pattern="^clipcap$")
    target_id: str | None = Field(None, description="the target whose space the mapper reads; null accepts any target of target_dim")
    target_dim: int = Field(gt=0, description="length of the input vectors (dimension of target space)")
    prefix_length: int = Field(gt=0, description="number of GPT-2 input embeddings the mapper produces")
    hidden_dim: int = Field(gt=0, description="width of the mapper's hidden layer")
    normalize_input: bool = Field(description="scale input vectors to unit length before the mapper")
    stop_text: str | None = Field(".", description="generation stops after the token that decodes to this text; null: only at end of text")
    mapper_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$")
    notes: str = ""


def parse_card(path: Path) -> DecoderCard:
    """Read and validate `decoder.json`; raise `HeadError` naming the file and the broken fields."""
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HeadError(f"decoder card {path} cannot be read as JSON ({error}); save the decoder again") from None
    try:
        return DecoderCard.model_validate(raw)
    except ValidationError as error:
        raise HeadError(f"invalid decoder card {path}: {describe_validation_error(error)}; save the decoder again") from None
