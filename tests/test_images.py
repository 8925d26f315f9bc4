"""open_image: modes normalised to RGB or L, and each kind of bad file named with its reason."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from t2c.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, open_image
from t2c.errors import DataError, NotFoundError

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def noise_rgb(width=48, height=32) -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height, with no pixel data (enough for Image.open)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


# Decoding to RGB or L.


@pytest.mark.parametrize("format", ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"])
def test_rgb_formats_decode(tmp_path, format):
    path = tmp_path / f"photo.{format.lower()}"
    noise_rgb().save(path, format)

    image = open_image(path)

    assert image.mode == "RGB"
    assert image.size == (48, 32)


def test_lossless_rgb_keeps_pixels(tmp_path):
    original = noise_rgb()
    path = tmp_path / "photo.png"
    original.save(path)

    np.testing.assert_array_equal(np.asarray(open_image(path)), np.asarray(original))


def test_grayscale_stays_l():
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)

    image = open_image(encode(Image.fromarray(pixels), "PNG"))

    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_one_bit_becomes_l():
    image = open_image(encode(Image.new("1", (4, 4), 1), "PNG"))

    assert image.mode == "L"
    assert image.getpixel((0, 0)) == 255


@pytest.mark.parametrize("format", ["JPEG", "TIFF"])
def test_cmyk_becomes_rgb(format):
    cmyk_red = Image.new("CMYK", (8, 8), (0, 255, 255, 0))

    image = open_image(encode(cmyk_red, format))

    assert image.mode == "RGB"
    np.testing.assert_allclose(image.getpixel((4, 4)), RED, atol=3)


@pytest.mark.parametrize("format", ["PNG", "TIFF"])
def test_sixteen_bit_gray_scales_to_l(format):
    levels = np.array([[0, 257 * 100, 65535, 128]], dtype=np.uint16)
    encoded = encode(Image.fromarray(levels), format)
    assert Image.open(io.BytesIO(encoded)).mode == "I;16"

    image = open_image(encoded)

    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), [[0, 100, 255, 0]])


def test_thirty_two_bit_gray_scales_to_l():
    levels = np.array([[0, 257 * 200, 65535]], dtype=np.int32)
    encoded = encode(Image.fromarray(levels), "TIFF")
    assert Image.open(io.BytesIO(encoded)).mode == "I"

    image = open_image(encoded)

    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), [[0, 200, 255]])


def test_float_gray_in_unit_range_scales_to_l():
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)

    image = open_image(encode(Image.fromarray(values), "TIFF"))

    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), [[0, 128, 255]])


# Transparency is composited onto white.


def test_rgba_composites_onto_white():
    half_red = Image.new("RGBA", (4, 4), (255, 0, 0, 128))

    image = open_image(encode(half_red, "PNG"))

    assert image.mode == "RGB"
    np.testing.assert_allclose(image.getpixel((0, 0)), (255, 127, 127), atol=1)


def test_la_composites_onto_white():
    black_with_alpha = np.array([[[0, 0], [0, 255], [0, 128]]], dtype=np.uint8)  # (value, alpha) pairs
    encoded = encode(Image.frombytes("LA", (3, 1), black_with_alpha.tobytes()), "PNG")

    image = open_image(encoded)

    assert image.mode == "L"
    np.testing.assert_allclose(np.asarray(image)[0], [255, 0, 127], atol=1)


@pytest.mark.parametrize("format", ["PNG", "GIF"])
def test_palette_transparency_becomes_white(format):
    palette_image = Image.new("P", (4, 2), 0)
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, index 1 blue
    palette_image.paste(1, (2, 0, 4, 2))
    encoded = encode(palette_image, format, transparency=0)
    assert Image.open(io.BytesIO(encoded)).mode == "P"

    image = open_image(encoded)

    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.getpixel((3, 1)) == BLUE


def test_palette_without_transparency_becomes_rgb():
    palette_image = Image.new("RGB", (4, 4), BLUE).convert("P")

    image = open_image(encode(palette_image, "PNG"))

    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == BLUE


def test_gray_with_transparent_level_composites():
    gray = Image.fromarray(np.array([[0, 50]], dtype=np.uint8))

    image = open_image(encode(gray, "PNG", transparency=0))

    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), [[255, 50]])


def test_first_frame_of_animation():
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    encoded = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])

    image = open_image(encoded)

    assert image.getpixel((0, 0)) == RED


# EXIF orientation.


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_exif_orientation_applied(format):
    stored = Image.new("RGB", (40, 20), BLUE)
    stored.paste(RED, (0, 0, 20, 20))  # red left half, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: rotate 90 degrees clockwise to display
    encoded = encode(stored, format, exif=exif, quality=95) if format == "JPEG" else encode(stored, format, exif=exif)

    image = open_image(encoded)

    assert image.size == (20, 40)
    np.testing.assert_allclose(image.getpixel((10, 5)), RED, atol=8)
    np.testing.assert_allclose(image.getpixel((10, 35)), BLUE, atol=8)


def test_without_exif_keeps_orientation():
    image = open_image(encode(Image.new("RGB", (40, 20), RED), "PNG"))

    assert image.size == (40, 20)


# Bad files: each raises ImageDecodeError with its reason and the file's name.


def truncated_jpeg():
    data = encode(noise_rgb(), "JPEG")
    return data[: len(data) // 2]


def truncated_png():
    data = encode(noise_rgb(), "PNG")
    return data[: len(data) // 2]


def png_cut_in_header():
    return encode(noise_rgb(), "PNG")[:40]


def png_with_flipped_bytes():
    data = bytearray(encode(noise_rgb(), "PNG"))
    for index in range(len(data) // 3, len(data) // 3 + 40):
        data[index] ^= 0xFF
    return bytes(data)


def jpeg_with_damaged_tables():
    data = bytearray(encode(noise_rgb(), "JPEG"))
    tables = data.index(b"\xff\xc4") + 5  # inside the first Huffman table
    for index in range(tables, tables + 40):
        data[index] ^= 0xFF
    return bytes(data)


BAD_FILES = [
    ("zero bytes", lambda: b"", "zero-byte"),
    ("text file", lambda: b"label,path\ncat,1.jpg\n", "non-image"),
    ("truncated jpeg", truncated_jpeg, "truncated"),
    ("truncated png", truncated_png, "truncated"),
    ("png cut in header", png_cut_in_header, "corrupt"),
    ("png flipped bytes", png_with_flipped_bytes, "corrupt"),
    ("jpeg damaged tables", jpeg_with_damaged_tables, "corrupt"),
]


@pytest.mark.parametrize(("make", "reason"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_raises_with_reason(tmp_path, make, reason):
    path = tmp_path / "broken.img"
    path.write_bytes(make())

    with pytest.raises(ImageDecodeError) as raised:
        open_image(path)

    assert raised.value.reason == reason
    assert str(path) in str(raised.value)
    assert f"({reason})" in str(raised.value)
    assert isinstance(raised.value, DataError)


def test_pixels_over_limit_raise_bomb():
    with pytest.raises(ImageDecodeError, match=r"48 x 32 = 1536 pixels exceeds max_pixels=1000") as raised:
        open_image(encode(noise_rgb(), "PNG"), max_pixels=1000)

    assert raised.value.reason == "decompression bomb"


def test_default_limit_rejects_huge_header():
    side = int(DEFAULT_MAX_PIXELS**0.5) + 10

    with pytest.raises(ImageDecodeError) as raised:
        open_image(png_header_only(side, side))

    assert raised.value.reason == "decompression bomb"


def test_pillow_bomb_error_is_converted():
    # 20000 x 20000 exceeds twice Pillow's MAX_IMAGE_PIXELS, so Image.open itself raises.
    with pytest.raises(ImageDecodeError) as raised:
        open_image(png_header_only(20_000, 20_000), max_pixels=None)

    assert raised.value.reason == "decompression bomb"


def test_bytes_errors_use_given_name():
    with pytest.raises(ImageDecodeError, match=r"cannot decode image shard-3/0001\.jpg \(zero-byte\)"):
        open_image(b"", name="shard-3/0001.jpg")


def test_missing_path_raises_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="nothing.png not found"):
        open_image(tmp_path / "nothing.png")


def test_folder_path_raises_non_image(tmp_path):
    with pytest.raises(ImageDecodeError) as raised:
        open_image(tmp_path)

    assert raised.value.reason == "non-image"
