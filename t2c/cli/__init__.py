"""The `t2c` command line: a click group; each command lives in its own module."""

import click

from t2c.cli.errors import run_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="t2c")
def cli():
    """Align frozen vision encoders to a vision-language model and use them with text."""


def build_cli() -> click.Group:
    """Attach the built-in commands and those plugins add through `register_commands`."""
    from t2c.cli import cache_cmd, embed_cmd, hub_cmd, list_cmd, plugins_cmd, predict_cmd, run_cmd, zoo_cmd
    from t2c.plugins import add_plugin_commands

    for module in (plugins_cmd, list_cmd, cache_cmd, embed_cmd, run_cmd, predict_cmd, hub_cmd, zoo_cmd):
        module.register(cli)
    add_plugin_commands(cli)
    return cli


def main():
    """Run the `t2c` command."""
    run_cli(build_cli())
