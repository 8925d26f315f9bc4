"""Preprocessing declared as data: one `PreprocessConfig` per model and data set.

The config is part of the feature-store key, so two runs share cached features only when they
decode images the same way.
"""

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Configs hashed before resize_mode existed resized the shorter side. The digest leaves this
# default out, so feature-store keys of those configs stay valid.
DEFAULT_RESIZE_MODE = "shortest"

# Configs hashed before `fill` existed padded with black, so the digest leaves this default out too.
DEFAULT_FILL = (0, 0, 0)

ByteValue = Annotated[int, Field(ge=0, le=255)]  # one 8-bit channel value


class PreprocessConfig(BaseModel):
    """How an image becomes the input array of a model.

    Steps run in this order: grayscale -> RGB, inversion, resize to `resize` as `resize_mode`
    sets, center crop to `crop` (padding with `fill` where the image is smaller), scale to
    `value_scale` (1.0 gives 0-1 floats, 255.0 gives 0-255), `(x - mean) / std` per channel in
    RGB order, channel reordering, then layout.

    `resize_mode` "shortest" scales the shorter side to `resize` and keeps the aspect ratio
    (torchvision's `Resize(int)`, open_clip's "shortest"). "squash" scales both sides to
    `resize` and ignores the aspect ratio: torchvision's `Resize((s, s))`, timm's crop_mode
    "squash", open_clip's resize_mode "squash" and transformers processors with a fixed
    `size={"height", "width"}`. "longest" scales the longer side to `resize` and keeps the
    aspect ratio, so the crop pads the shorter side: timm's crop_mode "border" (with `fill` the
    mean colour) and open_clip's resize_mode "longest" (with `fill` its fill_color).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    resize: int | None = Field(
        224, description="shorter side (or both sides, or the longer side, see resize_mode) after resizing, in pixels; None keeps the size"
    )
    resize_mode: Literal["shortest", "squash", "longest"] = Field(
        DEFAULT_RESIZE_MODE,
        description='"shortest" and "longest" keep the aspect ratio and fit that side, "squash" resizes to resize x resize',
    )
    interpolation: Literal["nearest", "bilinear", "bicubic", "lanczos"] = "bicubic"
    crop: int | None = Field(224, description="side of the center crop, in pixels; None skips cropping")
    fill: tuple[ByteValue, ByteValue, ByteValue] = Field(
        DEFAULT_FILL, description="RGB value, 0-255 per channel, of the pixels that the crop adds where the image is smaller than `crop`"
    )
    value_scale: float = Field(1.0, description="pixel range after conversion to float: 1.0 or 255.0")
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    grayscale_to_rgb: bool = True
    invert: bool = False

    def merged(self, overrides: dict | None) -> "PreprocessConfig":
        """Return a copy with a data set's overrides applied (for example `{"invert": True}`)."""
        if not overrides:
            return self
        return self.model_validate({**self.model_dump(), **overrides})

    def digest(self) -> str:
        """Return a short sha256 of the canonical JSON form, used in feature-store keys.

        `resize_mode` enters the hash only when it differs from "shortest", and `fill` only when
        it differs from black, so configs written before those fields existed keep their digest.
        """
        fields = self.model_dump(mode="json")
        if fields["resize_mode"] == DEFAULT_RESIZE_MODE:
            del fields["resize_mode"]
        if tuple(fields["fill"]) == DEFAULT_FILL:
            del fields["fill"]

        canonical = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
