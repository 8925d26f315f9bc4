"""`t2c align`: fit a head from an encoder into a target on unlabelled images and save it."""

import json

import click
from rich.console import Console

from t2c import pipeline
from t2c.cli.options import runtime_options


@click.command("align")
@click.option("--encoder", required=True, help="Encoder id (source space), e.g. offline:resnet50-opennsfw.")
@click.option("--target", required=True, help="Target id, or any encoder id to align into (destination space).")
@click.option("--dataset", required=True, help="Data set whose images the head is fitted on; labels are not used.")
@click.option("--split", default=None, help="Split to fit on (default: the data set's fit split).")
@click.option("--aligner", default="ridge", show_default=True, help="Aligner kind: ridge, lstsq, procrustes, linear.")
@click.option("--alpha", type=float, default=None, help="Ridge penalty; default picks it by 5-fold cross-validation.")
@click.option("--train-samples", type=click.IntRange(min=1), default=pipeline.DEFAULT_FIT_SAMPLES, show_default=True, help="Fit on the first N samples.")
@click.option("--eval-samples", type=click.IntRange(min=1), default=None, help="Held-out samples for R² (default: the whole evaluation split).")
@click.option("--no-eval", is_flag=True, help="Skip held-out R² on the data set's evaluation split.")
@click.option("--output", type=click.Path(file_okay=False), required=True, help="Folder to save the head to.")
@runtime_options
def align_command(encoder, target, dataset, split, aligner, alpha, train_samples, eval_samples, no_eval, output, runtime, as_json):
    """Fit and save a head mapping ENCODER features into TARGET's image space."""
    params = {"alpha": alpha} if alpha is not None else None
    summary = pipeline.align(
        encoder, target, dataset, aligner, split=split, limit=train_samples, aligner_params=params,
        evaluate=not no_eval, eval_limit=eval_samples, output=output, runtime=runtime,
    )

    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    console = Console()
    console.print(f"saved head {summary['encoder']} -> {summary['target']} ({summary['aligner']}) to {output}")
    for name, value in summary["metrics"].items():
        console.print(f"  {name}: {value:.4f}")
