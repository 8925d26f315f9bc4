"""`t2c embed`: export raw or aligned features of a split as .npy with the sample keys."""

import json
from pathlib import Path

import click
import numpy as np

from t2c import pipeline
from t2c.cli.options import runtime_options
from t2c.hub import resolve_head


@click.command("embed")
@click.option("--encoder", required=True, help="Encoder id.")
@click.option("--dataset", required=True, help="Data set id.")
@click.option("--split", default=None, help="Split (default: the data set's evaluation split).")
@click.option("--head", default=None, help="Head (folder, hub:org/name@rev or zoo:ID): export aligned features (target space) instead of raw ones.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N samples.")
@click.option("--output", type=click.Path(dir_okay=False), required=True, help="Output .npy file; keys go to <name>.keys.json beside it.")
@runtime_options
def embed_command(encoder, dataset, split, head, limit, output, runtime, as_json):
    """Export features of a data set split."""
    loaded_head = resolve_head(head) if head else None
    keys, values = pipeline.embed(encoder, dataset, split, head=loaded_head, limit=limit, runtime=runtime)

    path = Path(output)
    if path.suffix != ".npy":
        path = path.with_name(path.name + ".npy")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, values.astype(np.float32), allow_pickle=False)
    keys_path = path.with_suffix(".keys.json")
    keys_path.write_text(json.dumps(keys), encoding="utf-8")

    summary = {"features": str(path), "keys": str(keys_path), "shape": list(values.shape), "space": "target" if head else "encoder"}
    click.echo(json.dumps(summary, indent=2) if as_json else f"wrote {values.shape[0]} x {values.shape[1]} {summary['space']}-space features to {path} and keys to {keys_path}")


def register(cli: click.Group) -> None:
    """Add `t2c align` and `t2c embed` to the main group."""
    from t2c.cli.align_cmd import align_command

    cli.add_command(align_command)
    cli.add_command(embed_command)
