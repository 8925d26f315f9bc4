"""to_pixels against torchvision's transforms and hand-computed values."""

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from t2c.encoders.pixels import to_pixels
from t2c.encoders.preprocess import PreprocessConfig
from t2c.errors import ConfigError, ShapeError

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def cat() -> Image.Image:
    return Image.fromarray(skimage.data.chelsea())  # 300 x 451 RGB


def torchvision_pixels(image: Image.Image, resize, crop, interpolation: str) -> np.ndarray:
    """Run torchvision's Resize (an int resizes the shorter side, a pair both), CenterCrop and Normalize."""
    steps = []
    if resize is not None:
        steps.append(transforms.Resize(resize, interpolation=InterpolationMode(interpolation)))
    if crop is not None:
        steps.append(transforms.CenterCrop(crop))
    steps += [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    with torch.no_grad():
        return transforms.Compose(steps)(image).unsqueeze(0).numpy()


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("resize, crop", [(256, 224), (224, 224), (None, 224), (200, None), (97, 64)])
def test_matches_torchvision(cat, interpolation, resize, crop):
    config = PreprocessConfig(resize=resize, crop=crop, interpolation=interpolation, mean=MEAN, std=STD)

    ours = to_pixels([cat], config)
    reference = torchvision_pixels(cat, resize, crop, interpolation)

    assert ours.dtype == np.float32
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("resize, crop", [(64, None), (64, 64), (72, 64), (48, 64)])
def test_squash_matches_torchvision_pair_resize(cat, interpolation, resize, crop):
    config = PreprocessConfig(resize=resize, resize_mode="squash", crop=crop, interpolation=interpolation, mean=MEAN, std=STD)

    ours = to_pixels([cat], config)
    reference = torchvision_pixels(cat, (resize, resize), crop, interpolation)

    assert ours.shape == (1, 3, crop or resize, crop or resize)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_squash_differs_from_shortest_on_non_square(cat):
    shortest = to_pixels([cat], PreprocessConfig(resize=64, crop=64))
    squashed = to_pixels([cat], PreprocessConfig(resize=64, resize_mode="squash", crop=64))

    assert np.abs(shortest - squashed).max() > 0.5


def test_squash_batches_mixed_sizes_without_crop():
    config = PreprocessConfig(resize=32, resize_mode="squash", crop=None)
    images = [Image.new("RGB", (40, 40)), Image.new("RGB", (80, 40))]

    assert to_pixels(images, config).shape == (2, 3, 32, 32)


def test_default_digest_unchanged_by_resize_mode():
    # Digests computed before PreprocessConfig had resize_mode; cached features are keyed by them.
    assert PreprocessConfig().digest() == "00113971efff4135"
    assert PreprocessConfig(resize_mode="shortest").digest() == "00113971efff4135"
    custom = PreprocessConfig(resize=256, crop=224, interpolation="bilinear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), invert=True)
    assert custom.digest() == "2fed5e2973eb14f0"


def test_squash_changes_digest():
    assert PreprocessConfig(resize_mode="squash").digest() != PreprocessConfig().digest()


def test_default_digest_unchanged_by_fill():
    # Digests computed before PreprocessConfig had resize_mode "longest" and fill.
    assert PreprocessConfig().digest() == "00113971efff4135"
    assert PreprocessConfig(fill=(0, 0, 0)).digest() == "00113971efff4135"
    assert PreprocessConfig(resize_mode="squash").digest() == "fd9978eddbf3eae3"
    assert PreprocessConfig(resize=None, crop=None).digest() == "367454aaaaf6e40e"


def test_longest_and_fill_change_digest():
    digests = {
        PreprocessConfig().digest(),
        PreprocessConfig(resize_mode="longest").digest(),
        PreprocessConfig(fill=(124, 116, 104)).digest(),
        PreprocessConfig(resize_mode="longest", fill=(124, 116, 104)).digest(),
    }

    assert len(digests) == 4


def test_unknown_resize_mode_rejected():
    with pytest.raises(ValueError, match="resize_mode"):
        PreprocessConfig(resize_mode="fit")


@pytest.mark.parametrize("fill", [(256, 0, 0), (0, -1, 0), (0, 0), (0.5, 0, 0)])
def test_invalid_fill_rejected(fill):
    with pytest.raises(ValueError, match="fill"):
        PreprocessConfig(fill=fill)


def keep_ratio_pixels(image: Image.Image, resize: int, crop, fill, interpolation: str) -> np.ndarray:
    """Run timm's ResizeKeepRatio(longest=1) and CenterCropOrPad(fill), then ToTensor and Normalize."""
    timm_transforms = pytest.importorskip("timm.data.transforms")

    steps = [timm_transforms.ResizeKeepRatio(resize, longest=1.0, interpolation=interpolation)]
    if crop is not None:
        steps.append(timm_transforms.CenterCropOrPad(crop, fill=list(fill)))
    steps += [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    with torch.no_grad():
        return transforms.Compose(steps)(image).unsqueeze(0).numpy()


# On the 451 x 300 photo: (64, 64) pads the shorter side 43 -> 64 (21 pixels, split 10 + 11);
# (73, 64) crops the longer side 73 -> 64 and pads the shorter side 49 -> 64; (50, 64) pads both
# sides; (64, None) only resizes, to 64 x 43.
LONGEST_CASES = [(64, 64, (0, 0, 0)), (73, 64, (124, 116, 104)), (50, 64, (255, 0, 128)), (64, None, (0, 0, 0))]


@pytest.mark.parametrize("portrait", [False, True], ids=["landscape", "portrait"])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("resize, crop, fill", LONGEST_CASES)
def test_longest_matches_resize_keep_ratio(cat, portrait, interpolation, resize, crop, fill):
    image = cat.transpose(Image.Transpose.ROTATE_90) if portrait else cat
    config = PreprocessConfig(resize=resize, resize_mode="longest", crop=crop, fill=fill, interpolation=interpolation, mean=MEAN, std=STD)

    ours = to_pixels([image], config)
    reference = keep_ratio_pixels(image, resize, crop, fill, interpolation)

    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_longest_pads_with_fill_by_hand():
    array = np.random.default_rng(4).integers(0, 256, (3, 6, 3), dtype=np.uint8)
    config = PreprocessConfig(
        resize=6, resize_mode="longest", crop=8, fill=(7, 8, 9), value_scale=255.0, mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC"
    )

    pixels = to_pixels([Image.fromarray(array)], config)[0]

    # 3 x 6 pads to 8 x 8: rows 2 above and 3 below, columns 1 on each side.
    expected = np.empty((8, 8, 3), dtype=np.float32)
    expected[...] = (7, 8, 9)
    expected[2:5, 1:7] = array
    np.testing.assert_array_equal(pixels, expected)


def test_shortest_pads_with_fill():
    small = Image.new("RGB", (10, 10), (200, 200, 200))
    config = PreprocessConfig(resize=None, crop=12, fill=(1, 2, 3), value_scale=255.0, mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC")

    pixels = to_pixels([small], config)[0]

    np.testing.assert_array_equal(pixels[0, 0], [1, 2, 3])
    np.testing.assert_array_equal(pixels[6, 6], [200, 200, 200])


def test_longest_keeps_one_pixel_of_thin_image():
    # timm and open_clip raise on this image because the shorter side rounds to 0 pixels.
    thin = Image.new("RGB", (1000, 1), (50, 60, 70))
    config = PreprocessConfig(resize=32, resize_mode="longest", crop=32, value_scale=255.0, mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC")

    pixels = to_pixels([thin], config)[0]

    # The 32 x 1 resized image pads 15 rows above and 16 below.
    assert pixels.shape == (32, 32, 3)
    np.testing.assert_array_equal(pixels[15, 5], [50, 60, 70])
    np.testing.assert_array_equal(pixels[14, 5], [0, 0, 0])
    np.testing.assert_array_equal(pixels[16, 5], [0, 0, 0])


def test_longest_batches_mixed_aspect_ratios():
    config = PreprocessConfig(resize=32, resize_mode="longest", crop=32)
    images = [Image.new("RGB", (40, 40)), Image.new("RGB", (80, 40)), Image.new("RGB", (30, 90))]

    assert to_pixels(images, config).shape == (3, 3, 32, 32)


def test_grayscale_matches_torchvision():
    camera = Image.fromarray(skimage.data.camera())  # 512 x 512, mode "L"
    config = PreprocessConfig(resize=128, crop=112, interpolation="bilinear")

    ours = to_pixels([camera], config)
    reference = torchvision_pixels(camera.convert("RGB"), 128, 112, "bilinear")

    assert ours.shape == (1, 3, 112, 112)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_crop_larger_than_image_pads_like_torchvision():
    small = Image.fromarray(np.random.default_rng(0).integers(0, 256, (21, 30, 3), dtype=np.uint8))
    config = PreprocessConfig(resize=None, crop=40, mean=MEAN, std=STD)

    ours = to_pixels([small], config)
    reference = torchvision_pixels(small, None, 40, "bilinear")

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_bgr_nhwc_0_255_by_hand():
    array = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    config = PreprocessConfig(
        resize=None,
        crop=None,
        value_scale=255.0,
        mean=(123.0, 117.0, 104.0),
        std=(1.0, 1.0, 1.0),
        channel_order="BGR",
        layout="NHWC",
    )

    pixels = to_pixels([Image.fromarray(array)], config)

    expected = (array.astype(np.float32) - np.float32([123, 117, 104]))[..., ::-1]
    assert pixels.shape == (1, 5, 7, 3)
    assert pixels.flags.c_contiguous
    np.testing.assert_array_equal(pixels[0], expected)


def test_bgr_nchw_0_1_by_hand():
    array = np.random.default_rng(2).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    config = PreprocessConfig(resize=None, crop=None, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.125), channel_order="BGR")

    pixels = to_pixels([Image.fromarray(array)], config)

    rgb = (array.astype(np.float32) / 255 - 0.5) / np.float32([0.5, 0.25, 0.125])
    expected = rgb[..., ::-1].transpose(2, 0, 1)
    assert pixels.shape == (1, 3, 4, 6)
    np.testing.assert_allclose(pixels[0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("channel_order", ["RGB", "BGR"])
@pytest.mark.parametrize("value_scale", [1.0, 255.0])
def test_normalize_bit_exact(layout, channel_order, value_scale):
    array = np.random.default_rng(4).integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    config = PreprocessConfig(
        resize=None, crop=None, value_scale=value_scale, mean=(0.3, 120.5, 0.7), std=(0.2, 0.9, 3.0),
        channel_order=channel_order, layout=layout,
    )

    pixels = to_pixels([Image.fromarray(image) for image in array], config)

    # The same float32 steps, element-wise with broadcasting, then reordered and laid out.
    values = array.astype(np.float32)
    if value_scale != 255.0:
        values = values / np.float32(255.0 / value_scale)
    values = (values - np.float32(config.mean)) / np.float32(config.std)
    if channel_order == "BGR":
        values = values[..., ::-1]
    if layout == "NCHW":
        values = values.transpose(0, 3, 1, 2)
    assert pixels.dtype == np.float32
    assert pixels.flags.c_contiguous
    np.testing.assert_array_equal(pixels, values)


def test_inversion_by_hand():
    array = np.random.default_rng(3).integers(0, 256, (6, 6), dtype=np.uint8)
    config = PreprocessConfig(
        resize=None, crop=None, value_scale=255.0, mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC", invert=True
    )

    pixels = to_pixels([Image.fromarray(array)], config)

    expected = np.repeat((255 - array.astype(np.float32))[..., None], 3, axis=2)
    np.testing.assert_array_equal(pixels[0], expected)


def test_rgba_and_palette_become_rgb():
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 128))
    palette = rgba.convert("RGB").convert("P")
    config = PreprocessConfig(resize=None, crop=None, value_scale=255.0, mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC")

    pixels = to_pixels([rgba, palette], config)

    assert pixels.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(pixels[0, 0, 0], [10, 20, 30])


def test_batch_keeps_image_order(cat):
    config = PreprocessConfig(resize=64, crop=64)
    flipped = cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    batch = to_pixels([cat, flipped], config)

    np.testing.assert_array_equal(batch[0], to_pixels([cat], config)[0])
    np.testing.assert_array_equal(batch[1], to_pixels([flipped], config)[0])


def test_grayscale_rejected_without_conversion():
    config = PreprocessConfig(grayscale_to_rgb=False)

    with pytest.raises(ConfigError, match="grayscale_to_rgb"):
        to_pixels([Image.new("L", (32, 32))], config)


def test_mixed_sizes_without_crop_rejected():
    config = PreprocessConfig(resize=32, crop=None)
    images = [Image.new("RGB", (40, 40)), Image.new("RGB", (80, 40))]

    with pytest.raises(ShapeError, match="different sizes"):
        to_pixels(images, config)


def test_empty_batch_rejected():
    with pytest.raises(ShapeError, match="at least one image"):
        to_pixels([], PreprocessConfig())
