"""Bad image files in a `folder:PATH` data set, end to end through `t2c embed` and `t2c align`.

Every kind of file is generated for real: corrupt, truncated, zero-byte, non-image and
decompression-bomb files are skipped with their reason; CMYK, 16-bit, palette-with-alpha and
EXIF-rotated files decode. The CLI counts what it skipped, `--strict` stops at the first bad
file, and the decodable images keep their features.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2c.data.folder import FolderDataset
from t2c.data.images import ImageDecodeError, open_image
from t2c.features import FeatureStore, extract_features

pytest.importorskip("t2c_plugin_example", reason="needs t2c-plugin-example: pip install ./plugins/t2c-plugin-example")

ENCODER = "example:tiny-cnn"
TARGET = "example:bag-of-words"
BOMB_SIDE = 9500  # 9500 x 9500 = 90,250,000 pixels, above the default max_pixels of 89,478,485


def noise(seed: int, size=(40, 32)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def cmyk_jpeg() -> bytes:
    return encoded(noise(1).convert("CMYK"), "JPEG")


def sixteen_bit_png() -> bytes:
    levels = np.random.default_rng(2).integers(0, 65536, (32, 40), dtype=np.uint16)
    return encoded(Image.fromarray(levels), "PNG")


def palette_alpha_png() -> bytes:
    image = noise(3).convert("P")
    return encoded(image, "PNG", transparency=image.getpixel((0, 0)))


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: rotate 90 degrees clockwise to display
    return encoded(noise(4, (40, 20)), "JPEG", exif=exif)


def corrupt_png() -> bytes:
    data = bytearray(encoded(noise(5), "PNG"))
    for index in range(len(data) // 3, len(data) // 3 + 40):
        data[index] ^= 0xFF
    return bytes(data)


def truncated_jpeg() -> bytes:
    data = encoded(noise(6), "JPEG")
    return data[: len(data) // 2]


def bomb_png() -> bytes:
    # A valid PNG of a few kilobytes that would decode to 90 million pixels.
    return encoded(Image.new("1", (BOMB_SIDE, BOMB_SIDE)), "PNG")


# file name -> (bytes, expected mode and size after decoding, or the skip reason)
SPECIAL_FILES = {
    "cmyk.jpg": (cmyk_jpeg, ("RGB", (40, 32))),
    "gray16.png": (sixteen_bit_png, ("L", (40, 32))),
    "palette_alpha.png": (palette_alpha_png, ("RGB", (40, 32))),
    "exif_rotated.jpg": (exif_rotated_jpeg, ("RGB", (20, 40))),
    "corrupt.png": (corrupt_png, "corrupt"),
    "truncated.jpg": (truncated_jpeg, "truncated"),
    "zero_byte.png": (lambda: b"", "zero-byte"),
    "not_an_image.jpg": (lambda: b"name,label\ncat.jpg,cat\n", "non-image"),
    "bomb.png": (bomb_png, "decompression bomb"),
}
BAD_TRAIN = sorted(f"train/{name}" for name, (_, expected) in SPECIAL_FILES.items() if isinstance(expected, str))
BAD_TEST = ["test/not_an_image.png", "test/truncated.png"]
GOOD_TRAIN = 16
GOOD_TEST = 8


def write_folder(root: Path, with_bad_files: bool = True) -> Path:
    """Write train/ and test/ image folders: good photos, special kinds and (optionally) bad files."""
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)

    for index in range(GOOD_TRAIN):
        format = "PNG" if index % 2 else "JPEG"
        (root / "train" / f"good_{index:02d}.{format.lower()}").write_bytes(encoded(noise(100 + index), format))
    for index in range(GOOD_TEST):
        (root / "test" / f"good_{index:02d}.png").write_bytes(encoded(noise(200 + index), "PNG"))

    for name, (make, expected) in SPECIAL_FILES.items():
        if with_bad_files or not isinstance(expected, str):
            (root / "train" / name).write_bytes(make())
    if with_bad_files:
        (root / "test" / "not_an_image.png").write_text("not an image\n")
        (root / "test" / "truncated.png").write_bytes(encoded(noise(7), "PNG")[:300])
    return root


def t2c(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """Run the `t2c` command with a private cache and only the example plugin loaded."""
    environment = {**os.environ, "T2C_CACHE": str(cache), "T2C_LOAD_PLUGINS": "t2c-plugin-example"}
    command = [sys.executable, "-c", "from t2c.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("images") / "photos")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def embedded(folder, cache, tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("embed") / "train.npy"
    result = t2c("embed", "--encoder", ENCODER, "--dataset", f"folder:{folder}", "--split", "train",
                 "--output", str(output), cache=cache)
    return {"result": result, "output": output}


# Each kind of file, decoded directly.


@pytest.mark.parametrize("name", sorted(SPECIAL_FILES))
def test_each_kind_decodes_or_names_reason(folder, name):
    expected = SPECIAL_FILES[name][1]
    path = folder / "train" / name

    if isinstance(expected, str):
        with pytest.raises(ImageDecodeError) as raised:
            open_image(path)
        assert raised.value.reason == expected
        assert str(path) in str(raised.value)
    else:
        image = open_image(path)
        assert (image.mode, image.size) == expected


def test_palette_alpha_composited_onto_white(folder):
    stored = Image.open(folder / "train" / "palette_alpha.png")
    transparent = np.asarray(stored) == stored.info["transparency"]

    decoded = np.asarray(open_image(folder / "train" / "palette_alpha.png"))

    assert transparent.any()
    assert (decoded[transparent] == 255).all()


# `t2c embed` skips and counts; nothing decodable is lost.


def test_embed_succeeds_with_bad_files(embedded):
    result = embedded["result"]

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_embed_keys_are_the_decodable_files(embedded, folder):
    keys = json.loads(embedded["output"].with_suffix(".keys.json").read_text())
    features = np.load(embedded["output"], allow_pickle=False)
    every_key = [f"train/{path.name}" for path in sorted((folder / "train").iterdir())]

    assert keys == [key for key in every_key if key not in BAD_TRAIN]
    assert features.shape == (len(keys), 64)
    assert np.isfinite(features).all()


def test_embed_prints_skip_summary(embedded):
    stderr = embedded["result"].stderr
    total = GOOD_TRAIN + len(SPECIAL_FILES)

    assert f"skipped 5 of {total} images: 1 corrupt, 1 decompression bomb, 1 non-image, 1 truncated, 1 zero-byte" in stderr
    for key in BAD_TRAIN:
        assert f"skipped {key} (" in stderr


def test_decodable_features_match_clean_folder(embedded, tmp_path):
    from t2c_plugin_example.encoder import tiny_cnn

    clean = FolderDataset(write_folder(tmp_path / "clean", with_bad_files=False))
    keys, features = extract_features(tiny_cnn(), clean, "train", store=FeatureStore(tmp_path / "store")).load()

    assert json.loads(embedded["output"].with_suffix(".keys.json").read_text()) == keys
    # Skips change which images share a batch, which may change the last bits of a conv.
    np.testing.assert_allclose(np.load(embedded["output"]), features, rtol=1e-4, atol=1e-5)


# `--strict` stops at the first bad file.


def test_strict_stops_at_first_bad_file(folder, tmp_path):
    output = tmp_path / "strict.npy"

    result = t2c("embed", "--encoder", ENCODER, "--dataset", f"folder:{folder}", "--split", "train", "--strict",
                 "--output", str(output), cache=tmp_path / "cache")

    assert result.returncode == 1
    assert f"Error: cannot decode image {folder / 'train' / 'bomb.png'} (decompression bomb)" in result.stderr
    assert "--strict" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_strict_stops_on_cached_skip(embedded, folder, cache, tmp_path):
    result = t2c("embed", "--encoder", ENCODER, "--dataset", f"folder:{folder}", "--split", "train", "--strict",
                 "--output", str(tmp_path / "strict.npy"), cache=cache)

    assert result.returncode == 1
    assert "Error: cannot decode image train/bomb.png (decompression bomb)" in result.stderr
    assert "an earlier run without --strict" in result.stderr


# `t2c align` fits on the decodable images of both splits.


def test_align_fits_around_bad_files(folder, tmp_path):
    head = tmp_path / "head"

    result = t2c("align", "--encoder", ENCODER, "--target", TARGET, "--dataset", f"folder:{folder}", "--alpha", "1.0",
                 "--output", str(head), cache=tmp_path / "cache")

    assert result.returncode == 0, result.stderr
    card = json.loads((head / "config.json").read_text())
    assert np.isfinite(card["metrics"][f"folder:{folder.resolve().as_posix()}/test/r2_paper"])
    assert f"skipped 5 of {GOOD_TRAIN + len(SPECIAL_FILES)} images" in result.stderr
    assert f"skipped 2 of {GOOD_TEST + 2} images: 1 non-image, 1 truncated" in result.stderr
