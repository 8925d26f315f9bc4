"""Tests of the plugin tables: registration, id resolution, data set ids, listing and errors."""

import logging

import pytest

from t2c.errors import ConfigError, NotFoundError, PluginError
from t2c.plugins import reset_plugins
from t2c.registry import Registry, get_aligner, not_found_error


def build_model(name, **options):
    """A family factory that returns what it received."""
    return {"name": name, "options": options}


def build_dataset(*arguments, **options):
    """A data set factory that returns what it received."""
    return {"arguments": arguments, "options": options}


class NoOpAligner:
    """Aligner that stores its parameters and fits nothing."""

    def __init__(self, **params):
        self.params = params


@pytest.fixture
def registry():
    registry = Registry()
    registry.add("encoders", "timm", build_model, plugin="plugin-a", description="timm models", default="resnet50", models=["resnet50", "vit_small"])
    registry.add("encoders", "nodefault", build_model, plugin="plugin-a")
    registry.add("datasets", "fashion-mnist", build_dataset, plugin="plugin-a")
    registry.add("datasets", "folder", build_dataset, plugin="plugin-a")
    registry.add("datasets", "hf:mnist", build_dataset, plugin="plugin-b")
    registry.add("aligners", "noop", NoOpAligner, plugin="plugin-b")
    return registry


def test_add_records_entry(registry):
    entry = registry.get("encoders", "timm")

    assert entry.factory is build_model
    assert entry.plugin == "plugin-a"
    assert entry.description == "timm models"
    assert entry.default == "resnet50"
    assert entry.models == ("resnet50", "vit_small")


def test_add_keeps_first_registration(registry):
    earlier = registry.add("encoders", "timm", NoOpAligner, plugin="plugin-b")

    assert earlier is not None
    assert earlier.plugin == "plugin-a"
    assert registry.get("encoders", "timm").factory is build_model


def test_add_returns_none_for_new_name(registry):
    assert registry.add("encoders", "fresh", build_model, plugin="plugin-c") is None


def test_description_falls_back_to_docstring(registry):
    assert registry.get("aligners", "noop").description == "Aligner that stores its parameters and fits nothing."


def test_applications_accept_records():
    registry = Registry()
    record = {"run": "a record, not a factory"}

    registry.add("applications", "zeroshot", record, plugin="plugin-a")

    assert registry.get("apps", "zeroshot").factory is record


@pytest.mark.parametrize(
    ("kind", "name", "factory", "info", "message"),
    [
        ("encoders", "", build_model, {}, "non-empty string"),
        ("encoders", " timm", build_model, {}, "surrounding spaces"),
        ("encoders", 3, build_model, {}, "non-empty string"),
        ("encoders", "timm:resnet50", build_model, {}, "contains a colon"),
        ("aligners", "ridge", "not callable", {}, "not callable"),
        ("encoders", "timm", build_model, {"desc": "x"}, "unknown keyword(s) desc"),
        ("encoders", "timm", build_model, {"models": "resnet50"}, "expected a list of model names"),
        ("encoders", "timm", build_model, {"models": 3}, "expected a list of model names"),
        ("encoders", "timm", build_model, {"default": 1}, "expected a model name string"),
        ("encoders", "timm", build_model, {"description": ["x"]}, "expected a string"),
    ],
)
def test_add_rejects_invalid_registration(kind, name, factory, info, message):
    with pytest.raises(PluginError) as raised:
        Registry().add(kind, name, factory, plugin="plugin-x", **info)

    assert message in str(raised.value)
    assert "plugin-x" in str(raised.value)


def test_add_rejects_unknown_kind():
    with pytest.raises(ConfigError, match="unknown plugin kind 'encoder'"):
        Registry().add("encoder", "timm", build_model, plugin="plugin-x")


def test_get_suggests_close_name(registry):
    with pytest.raises(NotFoundError) as raised:
        registry.get("encoders", "tim")

    message = str(raised.value)
    assert "encoder family 'tim' not found" in message
    assert "did you mean 'timm'?" in message
    assert "`t2c list encoders`" in message
    assert "install a plugin" in message


def test_get_hint_uses_list_name_of_apps():
    with pytest.raises(NotFoundError, match="`t2c list apps`"):
        Registry().get("applications", "zeroshot")


def test_get_names_broken_plugins(registry):
    registry.broken_plugins = ["t2c-plugin-broken"]

    with pytest.raises(NotFoundError, match="Plugins that failed to load: t2c-plugin-broken"):
        registry.get("encoders", "dinov2")


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("timm:vit_small", ("timm", "vit_small", "timm:vit_small")),
        ("timm:org/name:with-colon", ("timm", "org/name:with-colon", "timm:org/name:with-colon")),
        ("timm", ("timm", "resnet50", "timm:resnet50")),
        ("nodefault", ("nodefault", "", "nodefault")),
    ],
)
def test_resolve_id(registry, model_id, expected):
    assert registry.resolve_id("encoders", model_id) == expected


@pytest.mark.parametrize(
    ("kind", "model_id", "error", "message"),
    [
        ("encoders", "timm:", ConfigError, "empty model name"),
        ("encoders", "", ConfigError, "family:model"),
        ("encoders", None, ConfigError, "family:model"),
        ("encoders", "openclip:ViT-B-16", NotFoundError, "encoder family 'openclip' not found"),
        ("aligners", "ridge", ConfigError, "plain names"),
    ],
)
def test_resolve_id_rejects(registry, kind, model_id, error, message):
    with pytest.raises(error, match=message):
        registry.resolve_id(kind, model_id)


def test_load_model_passes_name_and_options(registry):
    built = registry.load_model("encoders", "timm:vit_small", pretrained=False)

    assert built == {"name": "vit_small", "options": {"pretrained": False}}


def test_load_model_logs_default(registry, caplog):
    with caplog.at_level(logging.INFO, logger="t2c.registry"):
        built = registry.load_model("encoders", "timm")

    assert built["name"] == "resnet50"
    assert "'timm' resolved to 'timm:resnet50'" in caplog.text


def test_load_model_without_default_passes_empty_name(registry):
    assert registry.load_model("encoders", "nodefault")["name"] == ""


@pytest.mark.parametrize(
    ("dataset_id", "arguments"),
    [
        ("fashion-mnist", ()),
        ("folder:/data/x", ("/data/x",)),
        ("folder:C:/data", ("C:/data",)),
        ("hf:mnist", ()),  # an exact name wins over the family before the colon
    ],
)
def test_load_dataset(registry, dataset_id, arguments):
    assert registry.load_dataset(dataset_id, limit=3) == {"arguments": arguments, "options": {"limit": 3}}


@pytest.mark.parametrize(
    ("dataset_id", "error", "message"),
    [
        ("fashion-mnis", NotFoundError, "did you mean 'fashion-mnist'"),
        ("foldr:/data/x", NotFoundError, "data set family 'foldr' not found; did you mean 'folder'"),
        ("folder:", ConfigError, "nothing after the colon"),
        ("", ConfigError, "invalid"),
    ],
)
def test_load_dataset_rejects(registry, dataset_id, error, message):
    with pytest.raises(error, match=message):
        registry.load_dataset(dataset_id)


def test_list_entries_rows(registry):
    rows = registry.list_entries("encoders")

    assert [row["name"] for row in rows] == ["nodefault", "timm"]
    assert rows[1] == {
        "name": "timm",
        "plugin": "plugin-a",
        "description": "timm models",
        "default": "resnet50",
        "models": ["resnet50", "vit_small"],
        "usage": "timm:<model>",
    }


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        (None, ["fashion-mnist", "folder", "hf:mnist"]),
        ("f*", ["fashion-mnist", "folder"]),
        ("F*", ["fashion-mnist", "folder"]),
        (["*mnist", "fold?r"], ["fashion-mnist", "folder", "hf:mnist"]),
        ("hf:*", ["hf:mnist"]),
        ("nothing*", []),
    ],
)
def test_list_entries_filters(registry, pattern, names):
    assert [row["name"] for row in registry.list_entries("datasets", pattern)] == names


def test_list_entries_calls_model_lister():
    registry = Registry()
    registry.add("targets", "openclip", build_model, plugin="plugin-a", models=lambda: iter(["ViT-B-16/openai"]))

    assert registry.list_entries("targets")[0]["models"] == ["ViT-B-16/openai"]


def test_list_entries_survives_failing_lister(caplog):
    registry = Registry()

    def fail():
        raise RuntimeError("cache unreadable")

    registry.add("targets", "openclip", build_model, plugin="plugin-a", models=fail)

    assert registry.list_entries("targets")[0]["models"] is None
    assert "cache unreadable" in caplog.text


def test_list_entries_rejects_unknown_kind(registry):
    with pytest.raises(ConfigError, match="expected one of encoders"):
        registry.list_entries("models")


def test_not_found_error_without_choices():
    error = not_found_error("decoder", "words", [])

    assert str(error) == "decoder 'words' not found; none is registered"


def test_not_found_error_lists_few_choices():
    error = not_found_error("executor", "remote", ["local", "ray"], "Install t2c-plugin-ray.")

    assert str(error) == "executor 'remote' not found; available: local, ray Install t2c-plugin-ray."



@pytest.fixture
def core_only(monkeypatch):
    """Load the built-in plugins and no external plugin."""
    monkeypatch.setenv("T2C_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    reset_plugins()


def test_get_aligner_builds_builtin(core_only):
    aligner = get_aligner("ridge", alpha=1.0)

    assert type(aligner).__name__ == "RidgeAligner"
    assert aligner.get_params()["alpha"] == 1.0


def test_get_aligner_suggests_builtin(core_only):
    with pytest.raises(NotFoundError, match="aligner 'ridg' not found; did you mean 'ridge'"):
        get_aligner("ridg")
