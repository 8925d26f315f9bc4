"""`t2c zoo list|show|pull|verify|add`: the catalogue of published heads (registry/, or $T2C_ZOO_DIR)."""

import json
import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.cli.hub_cmd import head_table, quiet_if
from t2c.cli.options import configure_logging
from t2c.zoo import (
    ZooError,
    card_for_head,
    get_card,
    list_cards,
    local_folder,
    pull_zoo_head,
    verify_weights,
    write_card,
    zoo_dir,
)

ZOO_DIR_OPTION = click.option(
    "--zoo-dir", "zoo_dir_option", type=click.Path(file_okay=False), default=None,
    help="Catalogue folder (default: $T2C_ZOO_DIR, else registry/ of the t2c source tree, else the share/t2c/registry a wheel install wrote).",
)


KEY_METRICS = ("acc1", "r2_paper")  # metrics `zoo list` shows, matched by the name after the last "/"


def key_metrics(metrics: dict[str, float]) -> str:
    """Return the key metrics without their data-set prefix: "acc1=0.439 r2_paper=0.796"."""
    formatted = []
    for name, value in sorted(metrics.items()):
        short = name.rsplit("/", 1)[-1]
        if short in KEY_METRICS:
            formatted.append(f"{short}={value:.3g}")
    return " ".join(formatted)


@click.group("zoo")
def zoo():
    """List, inspect and pull the published heads of the zoo (use them with --head zoo:ID)."""


@zoo.command("list")
@ZOO_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the cards as a JSON list on stdout.")
def list_command(zoo_dir_option, as_json):
    """List every zoo head: id, encoder, target, aligner, metrics and where its weights are."""
    root = zoo_dir(zoo_dir_option)
    cards = list_cards(root)

    if as_json:
        click.echo(json.dumps([card.model_dump(mode="json") for card in cards], indent=2))
        return
    if not cards:
        click.echo(f"no zoo heads in {root}" if root is not None else "no zoo catalogue folder: t2c found neither registry/ nor share/t2c/registry; set T2C_ZOO_DIR")
        return

    # The list stays one line per head; `t2c zoo show ID` prints the whole card.
    table = Table(title=f"t2c zoo ({root})")
    table.add_column("id", no_wrap=True)
    for column in ("encoder -> target", "aligner", "fit data", "key metrics", "here"):
        table.add_column(column, overflow="fold")
    for card in cards:
        available = "yes" if local_folder(card, root) is not None else "no"
        pair = f"{card.encoder} -> {card.target}"
        fit = f"{card.fit_data.dataset}/{card.fit_data.split}, {card.fit_data.n_samples}"
        table.add_row(*(escape(cell) for cell in (card.id, pair, card.aligner, fit, key_metrics(card.metrics), available)))
    Console().print(table)


@zoo.command("show")
@click.argument("card_id", metavar="ID")
@ZOO_DIR_OPTION
def show_command(card_id, zoo_dir_option):
    """Print the card of zoo head ID as JSON."""
    card = get_card(card_id, zoo_dir_option)
    click.echo(card.model_dump_json(indent=2))


@zoo.command("pull")
@click.argument("card_id", metavar="ID")
@ZOO_DIR_OPTION
@click.option("--force-download", is_flag=True, help="Download Hub weights again even when the cache has them.")
@click.option("--json", "as_json", is_flag=True, help="Print the folder, source and the head's summary as JSON on stdout.")
@click.option("--debug", is_flag=True, help="Log debug details and show tracebacks.")
def pull_command(card_id, zoo_dir_option, force_download, as_json, debug):
    """Locate zoo head ID (installed package, folder or Hub), check it against its card, and print where it is."""
    configure_logging(debug)
    with quiet_if(as_json):
        loaded = pull_zoo_head(card_id, folder=zoo_dir_option, force_download=force_download)
    summary = loaded.head.summary()

    if as_json:
        click.echo(json.dumps({"id": loaded.card.id, "source": loaded.source, "folder": str(loaded.folder), "head": summary}, indent=2))
        return
    Console().print(head_table(f"zoo:{loaded.card.id}", summary))
    click.echo(f"zoo head {loaded.card.id} from {loaded.source}: {loaded.folder}")
    click.echo(f"  use it with: --head zoo:{loaded.card.id}")


@zoo.command("verify")
@ZOO_DIR_OPTION
def verify_command(zoo_dir_option):
    """Check every card against the schema and the sha256 of its weights on this machine; exit 1 on a mismatch."""
    root = zoo_dir(zoo_dir_option)
    cards = list_cards(root)
    problems = 0
    checked = 0

    for card in cards:
        folder = local_folder(card, root)
        if folder is None:
            click.echo(f"skipped {card.id}: weights not on this machine ({card.source()})")
            continue
        try:
            verify_weights(card, folder)
        except ZooError as error:
            problems += 1
            click.echo(f"mismatch: {error}")
            continue
        checked += 1
        click.echo(f"ok {card.id}: {folder}")

    click.echo(f"{len(cards)} cards, {checked} weights checked, {problems} mismatches")
    if problems:
        sys.exit(1)


@zoo.command("add")
@click.argument("head_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("card_id", metavar="ID")
@ZOO_DIR_OPTION
@click.option("--package", default=None, help="Python package that ships the head folder, such as t2c_plugin_offline.")
@click.option("--path", "head_path", default=None, help="Head folder inside --package (else relative to the catalogue), such as heads/ID.")
@click.option("--hub-repo", default=None, metavar="ORG/NAME", help="Hub repo the head was pushed to.")
@click.option("--hub-revision", default=None, metavar="SHA", help="Commit sha `t2c push` printed.")
@click.option("--description", default="", help="One line on what the head is for.")
@click.option("--license", "license_id", default=None, help="License of the head's weights, a Hub license id.")
def add_command(head_dir, card_id, zoo_dir_option, package, head_path, hub_repo, hub_revision, description, license_id):
    """Write (or overwrite) the card ID for the head in HEAD_DIR, with the sha256 of its weights."""
    card = card_for_head(
        head_dir, card_id, package=package, path=head_path, hub_repo=hub_repo, hub_revision=hub_revision,
        description=description, license=license_id,
    )
    path = write_card(card, zoo_dir_option)
    click.echo(f"wrote {path} (sha256 {card.sha256})")


def register(cli: click.Group) -> None:
    """Add the `zoo` command group to the main `t2c` group."""
    cli.add_command(zoo)
