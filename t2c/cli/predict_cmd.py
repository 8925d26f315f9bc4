"""`t2c predict IMAGE...`: top-k labels per image from class names or a label list."""

import json

import click
from rich.console import Console
from rich.table import Table

from t2c.apps.predict import predict_images
from t2c.cli.options import runtime_options, write_json
from t2c.errors import ConfigError
from t2c.targets.templates import read_lines


def parse_labels(classnames_file: str | None, labels: str | None) -> list[str]:
    """Return class names from --classnames FILE or --labels "a,b,c" (exactly one of them)."""
    if bool(classnames_file) == bool(labels):
        raise ConfigError("give exactly one of --classnames FILE or --labels 'cat,dog,car'")
    if classnames_file:
        return read_lines(classnames_file, "class names")
    names = [name.strip() for name in labels.split(",") if name.strip()]
    if len(names) < 2:
        raise ConfigError(f"--labels {labels!r} names fewer than two classes; separate labels with commas")
    return names


@click.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--head", required=True, help="Head: a folder (from `t2c align`), hub:org/name@rev or zoo:ID.")
@click.option("--classnames", "classnames_file", type=click.Path(dir_okay=False), default=None, help="File of class names, one per line.")
@click.option("--labels", default=None, help='Comma-separated class names, e.g. "cat,dog,car".')
@click.option("--encoder", default=None, help="Encoder id (default: the head's).")
@click.option("--target", default=None, help="Target id (default: the head's).")
@click.option("--templates", default=None, help="Template set or file (default: the target's).")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True, help="Labels shown per image.")
@click.option("--no-center", is_flag=True, help="Do not subtract the head's target mean before cosine scoring.")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Also write the JSON result to this file.")
@runtime_options
def predict_command(images, head, classnames_file, labels, encoder, target, templates, top_k, no_center, output, runtime, as_json):
    """Label images zero-shot with an aligned encoder."""
    classnames = parse_labels(classnames_file, labels)
    result = predict_images(
        list(images), classnames, head=head, encoder=encoder, target=target,
        templates=templates, top_k=top_k, center=not no_center, runtime=runtime,
    )
    write_json(result, output)

    if as_json:
        click.echo(json.dumps(result, indent=2))
        return

    console = Console()
    table = Table(title=f"{result['encoder']} -> {result['target']}")
    table.add_column("image")
    table.add_column("top labels (cosine score)")
    for prediction in result["predictions"]:
        top = ", ".join(f"{item['label']} ({item['score']:.3f})" for item in prediction["top"])
        table.add_row(prediction["image"], top)
    console.print(table)
    if result["note"]:
        console.print(result["note"], style="yellow")


def register(cli: click.Group) -> None:
    """Add `t2c predict` to the main group."""
    cli.add_command(predict_command)
