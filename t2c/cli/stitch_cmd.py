"""`t2c run stitch`: align every ordered pair of encoders and print R² and agreement matrices."""

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.apps.samples import split_names
from t2c.apps.stitch import DEFAULT_DATASET, DEFAULT_ENCODERS, run_stitch
from t2c.cli.options import runtime_options


def format_value(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def matrix_table(results: dict, metric: str, title: str) -> Table:
    """Build a source x destination table of one metric."""
    table = Table(title=title)
    table.add_column("source \\ destination")
    for encoder in results["encoders"]:
        table.add_column(encoder, justify="right")
    for encoder, row in zip(results["encoders"], results["matrices"][metric], strict=True):
        table.add_row(encoder, *(format_value(value) for value in row))
    return table


def pairs_table(results: dict) -> Table:
    """Build one row per pair with agreement, its baseline and accuracy."""
    table = Table(title="destination's classifier on aligned features")
    for column in ("source", "destination", "agree@1", "agree@5", "majority baseline", "acc aligned", "acc destination"):
        table.add_column(column, justify="left" if column in ("source", "destination") else "right")
    for pair in results["pairs"]:
        if not pair.get("destination_has_classifier"):
            continue
        table.add_row(
            pair["source"], pair["destination"],
            format_value(pair["agreement_top1"]), format_value(pair["agreement_top5"]),
            format_value(pair["agreement_majority_baseline"]),
            format_value(pair["accuracy_aligned"]), format_value(pair["accuracy_destination"]),
        )
    return table


@click.command("stitch")
@click.option("--encoders", default=",".join(DEFAULT_ENCODERS), show_default=True,
              help="Comma-separated encoder ids; every ordered pair is aligned.")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True, help="Data set whose evaluation split measures the pairs.")
@click.option("--fit-dataset", default=None, help="Data set to fit the heads on, labels unused (default: --dataset).")
@click.option("--aligner", default="ridge", show_default=True, help="Aligner kind: ridge, lstsq, procrustes, linear.")
@click.option("--alpha", type=float, default=None, help="Ridge penalty; default picks it by 5-fold cross-validation.")
@click.option("--train-samples", type=click.IntRange(min=1), default=10_000, show_default=True, help="Fit on the first N samples of the fit split.")
@click.option("--eval-samples", type=click.IntRange(min=1), default=None, help="Evaluate on the first N samples of the evaluation split.")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Folder for stitch.json, stitch.csv (per pair), stitch_matrices.csv and stitch.png (heatmaps).")
@runtime_options
def stitch_command(encoders, dataset, fit_dataset, aligner, alpha, train_samples, eval_samples, output, runtime, as_json):
    """Align encoders into each other's feature space; report R² and agreement with the destination's classifier."""
    results = run_stitch(
        split_names(encoders), dataset, aligner,
        fit_dataset=fit_dataset, train_samples=train_samples, eval_samples=eval_samples,
        aligner_params={"alpha": alpha} if alpha is not None else None, runtime=runtime, output=output,
    )

    if as_json:
        click.echo(json.dumps(results, indent=2))
        return

    console = Console()
    where = f"{results['dataset']}/{results['eval_split']}"
    console.print(matrix_table(results, "r2_paper", f"held-out R² (paper), {results['aligner']} on {where}"))
    if any(pair.get("destination_has_classifier") for pair in results["pairs"]):
        console.print(matrix_table(results, "agreement_top1", "top-1 agreement with the destination's own predictions"))
        console.print(pairs_table(results))
    for note in results["notes"]:
        console.print(escape(f"note: {note}"))
    if output:
        console.print(f"wrote {', '.join(results['files'].values())}")
