"""Hook implementations: what this plugin registers with t2c.

Registering imports nothing heavy: models, weights and data load when a factory is called.
"""

from t2c.hookspecs import hookimpl


@hookimpl
def register_encoders(register):
    """Register the "offline" encoder family (EfficientNet-Lite0, open_nsfw ResNet-50, DINOv2-S)."""
    from t2c_plugin_offline import encoders

    register(
        encoders.FAMILY,
        encoders.create_encoder,
        description="encoders whose weights ship in pip packages: EfficientNet-Lite0, ResNet-50 (open_nsfw), DINOv2-ViT-S/14",
        default=encoders.DEFAULT_MODEL,
        models=encoders.list_models,
    )


@hookimpl
def register_targets(register):
    """Register the "offline" target family: effnet-lite0-minilm."""
    from t2c_plugin_offline import target

    register(
        target.FAMILY,
        target.create_target,
        description="EfficientNet-Lite0 image features with MiniLM text mapped onto its ImageNet classifier rows",
        default=target.MODEL,
        models=(target.MODEL,),
    )


@hookimpl
def register_datasets(register):
    """Register fashion-mnist, sklearn-digits and skimage-photos."""
    from t2c_plugin_offline.datasets.digits import SklearnDigits
    from t2c_plugin_offline.datasets.fashion_mnist import FashionMNIST
    from t2c_plugin_offline.datasets.photos import SkimagePhotos

    register("fashion-mnist", FashionMNIST, description="Fashion-MNIST from Debian's dataset-fashion-mnist: 60k train, 10k test, 10 classes")
    register("sklearn-digits", SklearnDigits, description="scikit-learn's 8x8 handwritten digits: 1,198 train, 599 test")
    register("skimage-photos", SkimagePhotos, description="17 scikit-image sample photos, one class each (split all)")
