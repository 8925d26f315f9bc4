"""Registration of the ecosystem families, `t2c list`, offline detection and the missing-library error."""

import json
from urllib.error import HTTPError, URLError

import pytest
from click.testing import CliRunner

from ecosystem_fixtures import *  # noqa: F403 (fixtures: offline is autouse)
from t2c.cli.list_cmd import list_command
from t2c.encoders.torch_base import import_library
from t2c.encoders.weight_files import hf_cache_dir, is_connection_error, offline_mode
from t2c.errors import NotFoundError
from t2c.plugins import load_plugins

ENCODER_FAMILIES = {  # family -> (default model, a listed model)
    "timm": ("resnet50.a1_in1k", "resnet50.a1_in1k"),
    "torchvision": ("resnet50/IMAGENET1K_V2", "resnet50/IMAGENET1K_V2"),
    "openclip": ("ViT-B-16/openai", "ViT-B-16/openai"),
    "hf": ("facebook/dinov2-small", None),
}


@pytest.fixture
def builtins():
    return load_plugins(distributions=[], builtin_modules=("t2c.builtins.encoders", "t2c.builtins.targets", "t2c.builtins.datasets"))


@pytest.mark.parametrize("family", ENCODER_FAMILIES)
def test_encoder_family_registered(builtins, family):
    default, listed = ENCODER_FAMILIES[family]

    entry = builtins.registry.get("encoders", family)

    assert entry.default == default
    assert f"{family}:" in entry.description
    if listed:
        assert listed in entry.model_names()


def test_openclip_target_registered(builtins):
    entry = builtins.registry.get("targets", "openclip")

    assert entry.default == "ViT-B-16/openai"
    assert "ViT-B-16/openai" in entry.model_names()


def test_dataset_families_registered(builtins):
    names = [row["name"] for row in builtins.registry.list_entries("datasets")]

    assert "torchvision" in names
    assert "hf" in names


def test_builtins_load_cleanly(builtins):
    for module in ("t2c.builtins.encoders", "t2c.builtins.targets"):
        assert builtins.infos[module].errors == []


def test_list_encoders_shows_how_to_name_models(monkeypatch):
    monkeypatch.setenv("T2C_LOAD_PLUGINS", "")

    result = CliRunner().invoke(list_command, ["encoders", "--json"], catch_exceptions=False)
    rows = {row["name"]: row for row in json.loads(result.output)}

    assert result.exit_code == 0
    assert rows["timm"]["usage"] == "timm:<model>"
    assert "timm:resnet50.a1_in1k" in rows["timm"]["description"]
    assert "torchvision:resnet50/IMAGENET1K_V2" in rows["torchvision"]["description"]
    assert "openclip:ViT-B-16/openai" in rows["openclip"]["description"]
    assert "pooling=" in rows["hf"]["description"]


def test_offline_mode_read_at_call_time(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert not offline_mode()

    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert offline_mode()


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_cache_dir() == tmp_path / "cache"

    monkeypatch.delenv("HF_HUB_CACHE")
    assert hf_cache_dir() == tmp_path / "home" / "hub"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (URLError("no route to host"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError("timed out"), True),
        (HTTPError("https://example.org/w.pth", 404, "Not Found", None, None), False),
        (ValueError("bad checkpoint"), False),
    ],
)
def test_connection_errors_classified(error, expected):
    assert is_connection_error(error) is expected


def test_connection_error_found_in_cause():
    try:
        try:
            raise URLError("no route to host")
        except URLError as cause:
            raise OSError("could not load the weights") from cause
    except OSError as error:
        assert is_connection_error(error)


def test_missing_library_names_extra():
    with pytest.raises(NotFoundError, match=r"pip install 't2c\[ecosystem\]'"):
        import_library("t2c_no_such_library", "timm")
