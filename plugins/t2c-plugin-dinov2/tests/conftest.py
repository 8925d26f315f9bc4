"""Fixtures of the DINOv2 plugin tests; they stop with an install hint when the plugin is not installed."""

import importlib.metadata
from pathlib import Path

import pytest

from dinov2_fixtures import install_snapshot, point_at, write_tiny_dinov2


def pytest_configure(config):
    try:
        importlib.metadata.distribution("t2c-plugin-dinov2")
    except importlib.metadata.PackageNotFoundError:
        raise pytest.UsageError(
            "t2c-plugin-dinov2 is not installed; run `pip install -e plugins/t2c-plugin-dinov2` "
            "from the repository root, then rerun the tests"
        ) from None


@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory) -> Path:
    """A Hub cache with tiny facebook/dinov2-small and facebook/dinov2-with-registers-small."""
    hub = tmp_path_factory.mktemp("hub")
    write_tiny_dinov2(install_snapshot(hub, "facebook/dinov2-small"), registers=0, seed=0)
    write_tiny_dinov2(install_snapshot(hub, "facebook/dinov2-with-registers-small"), registers=4, seed=1)
    return hub


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch, tiny_hub):
    """Load only this plugin's external plugin set, offline, against the tiny cache."""
    from t2c.plugins import reset_plugins

    point_at(monkeypatch, tiny_hub)
    monkeypatch.setenv("T2C_LOAD_PLUGINS", "t2c-plugin-dinov2")
    reset_plugins()
    yield tiny_hub
    reset_plugins()
