"""Fuzzing `open_image` with mutated bytes of valid PNG, JPEG, GIF, WebP and TIFF files.

Whatever the bytes, `open_image` returns a loaded "RGB" or "L" image or raises a `T2CError`,
such as `ImageDecodeError` for a damaged file. Any other exception is a crash.
"""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from t2c.data.images import open_image
from t2c.errors import T2CError


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def seed_files() -> dict[str, bytes]:
    """Small valid files of each format, in the modes that take different decoding paths."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    gray16 = Image.fromarray(rng.integers(0, 65536, (12, 16), dtype=np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [rgb.convert("P"), rgb.rotate(90).convert("P")]
    return {
        "png rgba": encoded(rgb.convert("RGBA"), "PNG"),
        "png 16-bit": encoded(gray16, "PNG"),
        "jpeg exif": encoded(rgb, "JPEG", exif=exif),
        "jpeg cmyk": encoded(rgb.convert("CMYK"), "JPEG"),
        "gif animated": encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], transparency=0),
        "webp": encoded(rgb, "WEBP"),
        "webp lossless alpha": encoded(rgb.convert("RGBA"), "WEBP", lossless=True),
        "tiff deflate": encoded(rgb, "TIFF", compression="tiff_deflate"),
        "tiff 16-bit": encoded(gray16, "TIFF"),
    }


SEEDS = seed_files()

# One edit of a file: (kind, position, bytes). Positions below 64 hit headers, where most parsing happens.
EDITS = st.tuples(
    st.sampled_from(["overwrite", "delete", "insert", "truncate"]),
    st.one_of(st.integers(0, 63), st.integers(0, 1 << 16)),
    st.binary(min_size=1, max_size=8),
)


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
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


def test_seed_files_decode():
    for name, data in SEEDS.items():
        assert open_image(data, name=name).mode in ("RGB", "L"), name


@pytest.mark.parametrize("seed", sorted(SEEDS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(EDITS, min_size=1, max_size=6))
def test_mutated_file_decodes_or_raises(seed, edits):
    data = mutate(SEEDS[seed], edits)

    try:
        image = open_image(data, name="fuzzed")
    except T2CError:
        return

    assert image.mode in ("RGB", "L")
    assert image.width > 0
    assert image.height > 0
    assert len(image.tobytes()) == image.width * image.height * len(image.getbands())
