"""Registration through the "t2c" entry point, as an installed distribution."""

import pytest

from t2c.plugins import load_plugins

DISTRIBUTION = "t2c-plugin-offline"


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(distributions=(DISTRIBUTION,), builtin_modules=())


def test_plugin_loads_without_problems(plugins):
    info = plugins.infos[DISTRIBUTION]
    assert info.problems() == []
    assert sorted(info.hooks) == ["register_datasets", "register_encoders", "register_targets"]


def test_plugin_registers_names(plugins):
    registry = plugins.registry
    assert [entry.name for entry in registry.entries("encoders")] == ["offline"]
    assert [entry.name for entry in registry.entries("targets")] == ["offline"]
    assert {entry.name for entry in registry.entries("datasets")} == {"fashion-mnist", "sklearn-digits", "skimage-photos"}


def test_encoder_family_lists_models(plugins):
    entry = plugins.registry.get("encoders", "offline")
    assert entry.default == "resnet50-opennsfw"
    assert entry.model_names() == ["dinov2-vits14-imgfocus", "effnet-lite0", "resnet50-opennsfw"]


def test_bare_family_loads_default(plugins):
    encoder = plugins.registry.load_model("encoders", "offline")
    assert encoder.id == "offline:resnet50-opennsfw"


def test_dataset_loads_by_name(plugins):
    dataset = plugins.registry.load_dataset("sklearn-digits")
    assert dataset.id == "sklearn-digits"
