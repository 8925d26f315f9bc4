"""Stop with an install hint when the plugin is not installed, since every test needs its entry point."""

import importlib.metadata

import pytest


def pytest_configure(config):
    try:
        importlib.metadata.distribution("t2c-plugin-example")
    except importlib.metadata.PackageNotFoundError:
        raise pytest.UsageError(
            "t2c-plugin-example is not installed; run `pip install -e plugins/t2c-plugin-example` "
            "from the repository root, then rerun the tests"
        ) from None
