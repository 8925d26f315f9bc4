"""`t2c list KIND [PATTERN...]`: the names registered in one plugin table."""

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.registry import KINDS, LIST_NAMES, MODEL_KINDS, canonical_kind, list_entries

LIST_CHOICES = [LIST_NAMES.get(kind, kind) for kind in KINDS]
MAX_SHOWN_MODELS = 6  # model names shown per family in the table; --json lists all


def format_models(models: list[str] | None) -> str:
    """Return the first few model names and how many more there are."""
    if not models:
        return ""
    text = ", ".join(models[:MAX_SHOWN_MODELS])
    if len(models) > MAX_SHOWN_MODELS:
        text += f", … ({len(models) - MAX_SHOWN_MODELS} more)"
    return text


def entries_table(kind: str, rows: list[dict]) -> Table:
    """Build the table of one registry table's rows."""
    is_family = kind in MODEL_KINDS
    table = Table(title=f"t2c {LIST_NAMES.get(kind, kind)}")
    table.add_column("name", no_wrap=True)
    if is_family:
        table.add_column("id", no_wrap=True)
        table.add_column("default", no_wrap=True)
        table.add_column("models", overflow="fold")
    table.add_column("plugin")
    table.add_column("description", overflow="fold")

    for row in rows:
        cells = [row["name"]]
        if is_family:
            default = row["default"]
            cells += [row["usage"], f"{row['name']}:{default}" if default else "–", format_models(row["models"])]
        cells += [row["plugin"], row["description"]]
        table.add_row(*(escape(cell) for cell in cells))
    return table


@click.command("list")
@click.argument("kind", type=click.Choice(LIST_CHOICES))
@click.argument("patterns", nargs=-1, metavar="[PATTERN]...")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list on stdout.")
def list_command(kind: str, patterns: tuple[str, ...], as_json: bool) -> None:
    """List registered encoders, targets, aligners, data sets, apps, executors or decoders.

    PATTERN filters names shell-style, ignoring case: `t2c list encoders 'tim*'`.
    """
    table_name = canonical_kind(kind)
    rows = list_entries(table_name, patterns)

    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return

    if not rows:
        matching = f" matching {' '.join(patterns)}" if patterns else ""
        click.echo(f"No {kind}{matching} registered; `t2c plugins` shows the loaded plugins and their errors.")
        return

    Console().print(entries_table(table_name, rows))
    if table_name in MODEL_KINDS:
        click.echo("Name a model as family:model; a bare family uses its default.")


def register(cli: click.Group) -> None:
    """Add `t2c list` to the main group."""
    cli.add_command(list_command)
