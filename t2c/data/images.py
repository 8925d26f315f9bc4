"""Robust image decoding: any common file becomes an "RGB" or "L" PIL image, or a precise error.

`open_image` decodes eagerly, so a corrupt or truncated file fails here with the file's name and
a reason, not later inside a batch. What it normalises:
- EXIF orientation is applied (a phone photo stored sideways comes out upright).
- Transparency (RGBA, LA, palette with a transparent colour) is composited onto white.
- CMYK, YCbCr, LAB and HSV become RGB; 1-bit becomes L.
- 16-bit and 32-bit integer grayscale (modes I;16*, I) become 8-bit L by value / 257, which maps
  0..65535 onto 0..255.
- 32-bit float grayscale (mode F) is read as 0..1 when all values are in [0, 1], else as 0..255,
  and clipped to that range.
Multi-frame files (GIF, TIFF, APNG) give their first frame.
"""

import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from t2c.errors import DataError, NotFoundError

log = logging.getLogger("t2c.data.images")

# Pillow's own warning threshold, Image.MAX_IMAGE_PIXELS (89,478,485 pixels, about 9459 x 9459,
# 256 MiB as 24-bit RGB). Images above `max_pixels` raise ImageDecodeError before pixel data is
# decoded. NOTE: Pillow itself still raises DecompressionBombError above 2 x Image.MAX_IMAGE_PIXELS,
# so a max_pixels above that also needs Image.MAX_IMAGE_PIXELS raised.
DEFAULT_MAX_PIXELS = 89_478_485

WHITE = 255

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}

# Leading bytes of the formats the folder data set reads, to name the format of damaged files.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class ImageDecodeError(DataError):
    """An image file is empty, truncated, corrupt, not an image, or too large to decode safely.

    `path` names the file (or "<bytes>"), `reason` is a short tag: "zero-byte", "non-image",
    "truncated", "corrupt", "decompression bomb" or "unsupported mode", and `detail` explains
    the failure and its fix.
    """

    def __init__(self, path: str, reason: str, detail: str):
        self.path = path
        self.reason = reason
        self.detail = detail
        super().__init__(f"cannot decode image {path} ({reason}): {detail}")

    def __reduce__(self):
        # Lets the error cross process boundaries (multiprocessing, Ray) with its three fields.
        return type(self), (self.path, self.reason, self.detail)


def open_image(
    source: str | os.PathLike | bytes,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """Decode an image file or its bytes into a loaded PIL image of mode "RGB" or "L".

    Args:
        source: a path, or the file's bytes.
        max_pixels: width x height above which the image is rejected as a decompression bomb;
            None disables this check (Pillow's own limit still applies).
        name: how errors name the image when `source` is bytes (default "<bytes>").

    Raises:
        NotFoundError: the path does not exist.
        ImageDecodeError: the file is empty, truncated, corrupt, not an image, or too large.
    """
    data, label = _read_source(source, name)

    if not data:
        raise ImageDecodeError(label, "zero-byte", "the file is empty; re-copy or remove it")

    image = _open_lazily(data, label)
    _check_pixel_count(image, label, max_pixels)

    try:
        image.load()
    except Exception as error:
        # Pillow's format plugins raise many exception types (OSError, SyntaxError, ValueError,
        # EOFError, struct.error, zlib.error, IndexError, ...) on damaged data.
        raise _damaged(label, error) from None

    image = _apply_orientation(image, label)
    return _normalise_mode(image, label)


def _read_source(source: str | os.PathLike | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<bytes>"

    path = Path(source)
    label = name or str(path)
    try:
        return path.read_bytes(), label
    except FileNotFoundError:
        raise NotFoundError(f"image file {label} not found; check the path") from None
    except IsADirectoryError:
        raise ImageDecodeError(label, "non-image", "the path is a folder, expected an image file") from None
    except OSError as error:
        raise DataError(f"cannot read image file {label}: {error}; check its permissions and the disk") from None


def _open_lazily(data: bytes, label: str) -> Image.Image:
    """Identify the format and read the header; pixel data is decoded later by load()."""
    try:
        with warnings.catch_warnings():
            # The size check against max_pixels replaces Pillow's warning.
            # NOTE: catch_warnings changes process-wide warning filters, so under threads another
            # thread's DecompressionBombWarning may be hidden for this moment; the error still applies.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(
            label, "decompression bomb", f"{error}; skip this file, or raise PIL.Image.MAX_IMAGE_PIXELS if it is trusted"
        ) from None
    except UnidentifiedImageError:
        raise _unidentified(data, label) from None
    except Exception as error:
        # A damaged header makes a format plugin fail while reading it (see open_image).
        raise _damaged(label, error) from None


def _damaged(label: str, error: Exception) -> ImageDecodeError:
    if isinstance(error, Image.DecompressionBombError):
        # Some formats check the size of each frame or tile only while decoding it.
        return ImageDecodeError(label, "decompression bomb", f"{error}; skip this file, or raise PIL.Image.MAX_IMAGE_PIXELS if it is trusted")

    message = f"{type(error).__name__}: {error}"
    reason = "truncated" if "truncated" in message.lower() else "corrupt"
    return ImageDecodeError(label, reason, f"{message}; re-copy the file or remove it")


def _unidentified(data: bytes, label: str) -> ImageDecodeError:
    """Tell a damaged image (a known signature Pillow cannot read) from a file that is no image."""
    format_name = _format_from_signature(data)
    if format_name is not None:
        return ImageDecodeError(
            label,
            "corrupt",
            f"the file starts like a {format_name} file ({len(data)} bytes) but Pillow cannot read its header, "
            "so it is truncated or damaged; re-copy the file or remove it",
        )
    return ImageDecodeError(
        label, "non-image", f"Pillow recognises no image format in its first bytes {data[:8]!r}; remove the file"
    )


def _format_from_signature(data: bytes) -> str | None:
    for signature, format_name in _SIGNATURES:
        if data.startswith(signature):
            return format_name
    # WebP: "RIFF", 4 bytes of file size, then "WEBP".
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def _check_pixel_count(image: Image.Image, label: str, max_pixels: int | None) -> None:
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(
            label,
            "decompression bomb",
            f"{width} x {height} = {width * height} pixels exceeds max_pixels={max_pixels}; "
            "raise max_pixels if the file is trusted, or skip it",
        )


def _apply_orientation(image: Image.Image, label: str) -> Image.Image:
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception as error:
        # Damaged EXIF metadata should not lose an otherwise good image; keep it as stored.
        log.warning("ignoring unreadable EXIF orientation of %s: %s: %s", label, type(error).__name__, error)
    return image


def _normalise_mode(image: Image.Image, label: str) -> Image.Image:
    """Convert any decoded mode to "RGB" or "L" (see the module docstring for the rules)."""
    mode = image.mode
    has_transparency = "transparency" in image.info

    if mode in ("RGB", "L") and not has_transparency:
        return image
    if mode == "1":
        return image.convert("L")

    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_l(image)
    if mode == "F":
        return _float_to_l(image)

    if mode in _ALPHA_MODES or has_transparency:
        return _composite_on_white(image)

    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise ImageDecodeError(label, "unsupported mode", f"mode {mode} cannot be converted to RGB ({error})") from None


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.float32)
    scaled = np.clip(np.rint(values / 257.0), 0, 255)
    return Image.fromarray(scaled.astype(np.uint8))


def _float_to_l(image: Image.Image) -> Image.Image:
    values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
    if values.size and values.min() >= 0.0 and values.max() <= 1.0:
        values = values * 255.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _composite_on_white(image: Image.Image) -> Image.Image:
    """Blend an image with transparency onto a white background; gray stays "L", colour becomes "RGB"."""
    gray = image.mode in ("LA", "La", "L")
    if gray:
        with_alpha = image.convert("LA")
        background = Image.new("L", image.size, WHITE)
        background.paste(with_alpha.getchannel("L"), mask=with_alpha.getchannel("A"))
        return background

    with_alpha = image.convert("RGBA")
    background = Image.new("RGB", image.size, (WHITE, WHITE, WHITE))
    background.paste(with_alpha.convert("RGB"), mask=with_alpha.getchannel("A"))
    return background

