"""A minimal t2c plugin: an encoder family, a target family and a data set, all called "example".

Every `t2c` command imports this module through the entry point, so it imports only
`t2c.hookspecs` and `t2c.registry`. The factories import torch and the model code when a
model is built.
"""

from t2c.hookspecs import hookimpl
from t2c.registry import not_found_error

ENCODER_MODELS = ("tiny-cnn",)
TARGET_MODELS = ("bag-of-words",)


def load_encoder(name: str, **options):
    """Build the encoder "example:<name>"; the plugin's models take no options."""
    _reject_options(f"example:{name}", options)
    if name not in ENCODER_MODELS:
        raise not_found_error("example encoder model", name, ENCODER_MODELS, "Run `t2c list encoders example`.")

    from t2c_plugin_example.encoder import tiny_cnn

    return tiny_cnn()


def load_target(name: str, **options):
    """Build the target "example:<name>"; the plugin's models take no options."""
    _reject_options(f"example:{name}", options)
    if name not in TARGET_MODELS:
        raise not_found_error("example target model", name, TARGET_MODELS, "Run `t2c list targets example`.")

    from t2c_plugin_example.target import BagOfWordsTarget

    return BagOfWordsTarget()


def load_shapes(**options):
    """Build the "example-shapes" data set; `image_size` (pixels, default 64) is its one option."""
    from t2c_plugin_example.shapes import ExampleShapes

    return ExampleShapes(**options)


@hookimpl
def register_encoders(register):
    register(
        "example",
        load_encoder,
        description="toy conv net with seeded random weights (3x32x32 -> 64-d), for tests and demos",
        default="tiny-cnn",
        models=ENCODER_MODELS,
    )


@hookimpl
def register_targets(register):
    register(
        "example",
        load_target,
        description="toy target: seeded conv net images and hashed bag-of-words texts in 32-d",
        default="bag-of-words",
        models=TARGET_MODELS,
    )


@hookimpl
def register_datasets(register):
    register(
        "example-shapes",
        load_shapes,
        description="synthetic circles, squares and triangles (train 300, test 90), generated on the fly",
    )


def _reject_options(model_id: str, options: dict) -> None:
    if options:
        from t2c.errors import ConfigError

        raise ConfigError(f"{model_id} takes no options but got {', '.join(sorted(options))}; leave them out")
