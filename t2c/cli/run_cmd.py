"""`t2c run APP`: a group whose sub-commands are the registered applications."""

import click

from t2c import registry


class ApplicationGroup(click.Group):
    """Lists and loads application commands from the plugin registry on demand."""

    def list_commands(self, ctx):
        return sorted(row["name"] for row in registry.list_entries("applications"))

    def get_command(self, ctx, name):
        try:
            application = registry.get_application(name)
        except registry.NotFoundError as error:
            raise click.UsageError(str(error)) from error
        return application.cli_command()


@click.group("run", cls=ApplicationGroup)
def run_group():
    """Run an application: zeroshot, stitch, search, drift, cbm, decode, or one a plugin adds (`t2c list apps`)."""


def register(cli: click.Group) -> None:
    """Add `t2c run` to the main group."""
    cli.add_command(run_group)
