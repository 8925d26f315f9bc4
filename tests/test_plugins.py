"""Tests of plugin loading through built-in plugin modules: hooks, failures, clashes, commands."""

import importlib
import importlib.metadata
import logging
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner

from t2c.plugins import get_plugins, load_plugins, reset_plugins, selected_distributions

GOOD = """
from t2c.hookspecs import hookimpl

class RecordingAligner:
    def __init__(self, **params):
        self.params = params

@hookimpl
def register_aligners(register):
    register("recording", RecordingAligner, description="stores its parameters")

@hookimpl
def register_executors(register):
    register("inline", RecordingAligner)
"""

SAME_NAME = """
from t2c.hookspecs import hookimpl

@hookimpl
def register_aligners(register):
    register("recording", dict)
    register("other", dict)
"""

HOOK_RAISES = """
from t2c.hookspecs import hookimpl

@hookimpl
def register_aligners(register):
    register("before-failure", dict)
    raise RuntimeError("aligner table unreadable")

@hookimpl
def register_executors(register):
    register("still-registered", dict)
"""

IMPORT_RAISES = """
raise ImportError("needs a package that is not installed")
"""

UNKNOWN_HOOK = """
from t2c.hookspecs import hookimpl

@hookimpl
def register_encoder(register):
    register("typo", dict)
"""

WRONG_ARGUMENT = """
from t2c.hookspecs import hookimpl

@hookimpl
def register_aligners(registry):
    registry("wrong", dict)
"""

INVALID_FACTORY = """
from t2c.hookspecs import hookimpl

@hookimpl
def register_aligners(register):
    register("not-callable", 42)
"""

HELLO_COMMAND = """
import click
from t2c.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    def hello():
        click.echo("hello from a plugin")
"""

REPLACES_COMMAND = """
import click
from t2c.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("status")
    def impostor():
        click.echo("impostor")

    @cli.command("extra")
    def extra():
        click.echo("extra")
"""

COMMANDS_RAISE = """
import click
from t2c.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("partial")
    def partial():
        click.echo("added before the failure")

    raise RuntimeError("command setup failed")
"""


@pytest.fixture
def write_module(tmp_path, monkeypatch):
    """Return a function that writes a module onto sys.path and returns its name."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    written = []

    def write(name, source):
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        written.append(name)
        return name

    yield write

    for name in written:
        sys.modules.pop(name, None)


def test_builtin_plugin_registers(write_module):
    module = write_module("t2c_test_builtin_good", GOOD)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    info = plugins.infos[module]
    assert info.builtin
    assert info.hooks == ["register_aligners", "register_executors"]
    assert info.names == {"aligners": ["recording"], "executors": ["inline"]}
    assert info.errors == []
    assert plugins.registry.get("aligners", "recording").plugin == module


def test_builtin_version_is_t2c_version(write_module):
    module = write_module("t2c_test_builtin_version", GOOD)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    assert plugins.infos[module].version == importlib.metadata.version("t2c")


def test_missing_builtin_reported(write_module):
    good = write_module("t2c_test_builtin_present", GOOD)

    plugins = load_plugins(distributions=(), builtin_modules=["t2c.builtins.not_written_yet", good])

    missing = plugins.infos["t2c.builtins.not_written_yet"]
    assert missing.builtin
    assert "import failed: ModuleNotFoundError" in missing.errors[0]
    assert plugins.registry.get("aligners", "recording").plugin == good


def test_import_error_reported(write_module):
    module = write_module("t2c_test_builtin_import_raises", IMPORT_RAISES)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    assert plugins.infos[module].errors == ["import failed: ImportError: needs a package that is not installed"]
    assert plugins.registry.broken_plugins == [module]


def test_hook_error_keeps_other_hooks(write_module):
    failing = write_module("t2c_test_builtin_hook_raises", HOOK_RAISES)
    good = write_module("t2c_test_builtin_after_failure", GOOD)

    plugins = load_plugins(distributions=(), builtin_modules=[failing, good])

    info = plugins.infos[failing]
    assert info.errors == ["hook register_aligners failed: RuntimeError: aligner table unreadable"]
    assert info.names == {"aligners": ["before-failure"], "executors": ["still-registered"]}
    assert plugins.registry.get("aligners", "recording").plugin == good


def test_clash_keeps_first(write_module):
    first = write_module("t2c_test_builtin_first", GOOD)
    second = write_module("t2c_test_builtin_second", SAME_NAME)

    plugins = load_plugins(distributions=(), builtin_modules=[first, second])

    assert plugins.registry.get("aligners", "recording").plugin == first
    assert plugins.registry.get("aligners", "other").plugin == second
    assert plugins.infos[second].names == {"aligners": ["other"]}
    for module in (first, second):
        clash = plugins.infos[module].clashes[0]
        assert (clash.kind, clash.name, clash.kept, clash.skipped) == ("aligners", "recording", first, second)


def test_unknown_hook_reported(write_module):
    module = write_module("t2c_test_builtin_unknown_hook", UNKNOWN_HOOK)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    assert plugins.infos[module].errors == [
        "implements unknown hook 'register_encoder', which t2c never calls; did you mean 'register_encoders'?"
    ]


def test_wrong_hook_argument_reported(write_module):
    module = write_module("t2c_test_builtin_wrong_argument", WRONG_ARGUMENT)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    error = plugins.infos[module].errors[0]
    assert error.startswith("registration failed: PluginValidationError")
    assert "registry" in error
    assert plugins.registry.entries("aligners") == []


def test_invalid_registration_reported(write_module):
    module = write_module("t2c_test_builtin_invalid_factory", INVALID_FACTORY)

    plugins = load_plugins(distributions=(), builtin_modules=[module])

    error = plugins.infos[module].errors[0]
    assert error.startswith("hook register_aligners failed: PluginError")
    assert "not callable" in error


def test_problems_warned_once(write_module, caplog):
    failing = write_module("t2c_test_builtin_warned", IMPORT_RAISES)
    first = write_module("t2c_test_builtin_warned_first", GOOD)
    second = write_module("t2c_test_builtin_warned_second", SAME_NAME)

    with caplog.at_level(logging.WARNING, logger="t2c.plugins"):
        load_plugins(distributions=(), builtin_modules=[failing, first, second])

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "3 t2c plugin(s) failed to load or clashed" in message
    assert failing in message
    assert "aligners 'recording' registered by" in message


def test_no_warning_without_problems(write_module, caplog):
    module = write_module("t2c_test_builtin_quiet", GOOD)

    with caplog.at_level(logging.WARNING, logger="t2c.plugins"):
        load_plugins(distributions=(), builtin_modules=[module])

    assert caplog.records == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", frozenset()),
        (" , ", frozenset()),
        ("t2c-plugin-example", frozenset({"t2c-plugin-example"})),
        (" T2C_Plugin.Example , t2c-plugin-ray,", frozenset({"t2c-plugin-example", "t2c-plugin-ray"})),
    ],
)
def test_selected_distributions(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("T2C_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("T2C_LOAD_PLUGINS", value)

    assert selected_distributions() == expected


@pytest.fixture
def core_only(monkeypatch):
    """Load the built-in plugins and no external plugin."""
    monkeypatch.setenv("T2C_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    reset_plugins()


def test_get_plugins_cached_until_reset(core_only):
    first = get_plugins()
    assert get_plugins() is first

    reset_plugins()
    assert get_plugins() is not first


def test_empty_selection_loads_only_builtins(core_only):
    infos = get_plugins().infos.values()

    assert all(info.builtin for info in infos)


def make_group():
    @click.group()
    def cli():
        """A test group."""

    @cli.command()
    def status():
        click.echo("core status")

    return cli


def test_plugin_adds_command(write_module):
    module = write_module("t2c_test_builtin_hello", HELLO_COMMAND)
    plugins = load_plugins(distributions=(), builtin_modules=[module])
    cli = make_group()

    plugins.add_commands(cli)
    result = CliRunner().invoke(cli, ["hello"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from a plugin\n"
    assert plugins.infos[module].names == {"commands": ["hello"]}
    assert "register_commands" in plugins.infos[module].hooks


def test_command_clash_keeps_core_command(write_module):
    module = write_module("t2c_test_builtin_impostor", REPLACES_COMMAND)
    plugins = load_plugins(distributions=(), builtin_modules=[module])
    cli = make_group()

    plugins.add_commands(cli)

    assert CliRunner().invoke(cli, ["status"]).stdout == "core status\n"
    assert CliRunner().invoke(cli, ["extra"]).stdout == "extra\n"
    clash = plugins.infos[module].clashes[0]
    assert (clash.kind, clash.name, clash.kept, clash.skipped) == ("commands", "status", "t2c", module)
    assert plugins.infos[module].names == {"commands": ["extra"]}


def test_command_clash_between_plugins(write_module):
    first = write_module("t2c_test_builtin_extra_first", REPLACES_COMMAND)
    second = write_module("t2c_test_builtin_extra_second", REPLACES_COMMAND)
    plugins = load_plugins(distributions=(), builtin_modules=[first, second])
    cli = make_group()

    plugins.add_commands(cli)

    extra_clashes = [clash for clash in plugins.infos[second].clashes if clash.name == "extra"]
    assert extra_clashes[0].kept == first
    assert extra_clashes[0] in plugins.infos[first].clashes


def test_failing_commands_hook_reported(write_module, caplog):
    failing = write_module("t2c_test_builtin_commands_raise", COMMANDS_RAISE)
    good = write_module("t2c_test_builtin_hello_after", HELLO_COMMAND)
    plugins = load_plugins(distributions=(), builtin_modules=[failing, good])
    cli = make_group()

    plugins.add_commands(cli)

    assert plugins.infos[failing].errors == ["hook register_commands failed: RuntimeError: command setup failed"]
    assert "command setup failed" in caplog.text
    assert CliRunner().invoke(cli, ["partial"]).stdout == "added before the failure\n"
    assert CliRunner().invoke(cli, ["hello"]).stdout == "hello from a plugin\n"
