"""One-line error reporting for the CLI: a `T2CError` prints its message, `--debug` a traceback."""

import logging
import sys

import click

from t2c.errors import T2CError

log = logging.getLogger("t2c")


def run_cli(group: click.Group) -> None:
    """Invoke `group`, turning t2c errors into one red line and exit code 1."""
    debug = "--debug" in sys.argv
    try:
        exit_code = group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exit_request:
        sys.exit(exit_request.exit_code)
    except T2CError as error:
        if debug:
            raise
        click.secho(f"Error: {error}", fg="red", err=True)
        sys.exit(1)
    # A command that calls ctx.exit(n) returns n when click runs outside standalone mode.
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
