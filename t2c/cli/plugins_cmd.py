"""`t2c plugins`: every loaded plugin with its version, hooks, registered names and problems."""

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.plugins import PluginInfo, get_plugins


def format_names(info: PluginInfo) -> str:
    """Return "encoders: a, b" lines, one per table the plugin registered names in."""
    return "\n".join(f"{kind}: {', '.join(names)}" for kind, names in info.names.items())


def format_status(info: PluginInfo) -> str:
    """Return "ok", or which problems the plugin has, as rich markup."""
    problems = []
    if info.errors:
        problems.append("error")
    if info.clashes:
        problems.append("clash")
    if not problems:
        return "[green]ok[/green]"
    return f"[red]{', '.join(problems)}[/red]"


def plugins_table(infos: list[PluginInfo]) -> Table:
    """Build the table `t2c plugins` prints, one row per plugin; hooks drop their "register_" prefix."""
    table = Table(title="t2c plugins")
    table.add_column("plugin", overflow="fold")
    table.add_column("version", no_wrap=True)
    table.add_column("hooks", overflow="fold")
    table.add_column("registered", overflow="fold")
    table.add_column("status", no_wrap=True)

    for info in infos:
        name = f"{escape(info.name)}\n[dim](built-in)[/dim]" if info.builtin else escape(info.name)
        hooks = "\n".join(hook.removeprefix("register_") for hook in info.hooks)
        table.add_row(name, escape(info.version or "–"), hooks, escape(format_names(info)), format_status(info))
    return table


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as a JSON list on stdout.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins, built-in ones included, with any load error or name clash."""
    infos = list(get_plugins().infos.values())

    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return

    console = Console()
    console.print(plugins_table(infos))

    troubled = [info for info in infos if info.has_problems]
    if not troubled:
        return
    console.print("\nProblems (t2c skipped what failed and kept the first registration of each clashing name):")
    for info in troubled:
        for problem in info.problems():
            console.print(f"  [bold]{escape(info.name)}[/bold]: [red]{escape(problem)}[/red]", highlight=False)


def register(cli: click.Group) -> None:
    """Add `t2c plugins` to the main group."""
    cli.add_command(plugins_command)
