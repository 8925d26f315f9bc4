"""The `Application` record that plugins register through `register_applications`."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Application:
    """A task built from encoder + head + target, reachable as `t2c run NAME` and from Python.

    `run` is the Python entry point returning a JSON-ready dict. `command` names the click
    command as "module:attribute"; it is imported only when the CLI needs it, so listing
    applications stays cheap.
    """

    name: str
    run: Callable[..., dict]
    command: str
    description: str = ""

    def cli_command(self):
        """Import and return the click command of this application."""
        module_name, attribute = self.command.split(":")
        return getattr(importlib.import_module(module_name), attribute)
