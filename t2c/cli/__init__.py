"""The `t2c` command line: a click group; each command lives in its own module."""

import click

from t2c.cli.errors import run_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="t2c")
def cli():
    """Align frozen vision encoders to a vision-language model and use them with text."""


def main():
    """Run the `t2c` command with plugin commands attached."""
    run_cli(cli)
