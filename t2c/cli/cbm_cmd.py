"""`t2c run cbm`: fit a concept bottleneck without concept labels and compare it with a linear probe."""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.apps.cbm import DEFAULT_C, DEFAULT_DATASET, DEFAULT_MAX_ITER, run_cbm
from t2c.cli.app_options import echo_json, head_options
from t2c.cli.options import runtime_options


def metrics_table(results: dict) -> Table:
    """Build the table of bottleneck, probe and dense-head accuracy."""
    metrics, sparsity = results["metrics"], results["sparsity"]
    table = Table(title=f"{results['dataset']}: train {results['train']['n']}, test {results['test']['n']} images")
    table.add_column("model")
    table.add_column("test accuracy", justify="right")
    table.add_column("features", justify="right")
    table.add_row("concept bottleneck (sparse)", f"{metrics['accuracy']:.3f}",
                  f"{sparsity['concepts_used']} of {sparsity['concepts_total']} concepts, {sparsity['mean_concepts_per_class']:.1f} per class")
    table.add_row("dense head on concept scores", f"{metrics['dense_concept_accuracy']:.3f}", f"{sparsity['concepts_total']} concepts")
    table.add_row("linear probe on raw features", f"{metrics['linear_probe_accuracy']:.3f}", "encoder features")
    table.add_row("chance", f"{metrics['chance']:.3f}", "")
    return table


def concepts_table(results: dict) -> Table:
    """Build the table of the largest positive concept weights per class."""
    table = Table(title="top concepts per class (weight on standardised concept score)")
    table.add_column("class")
    table.add_column("concepts")
    for classname, items in results["top_concepts"].items():
        table.add_row(escape(classname), escape(", ".join(f"{item['concept']} {item['weight']:.2f}" for item in items)))
    return table


@click.command("cbm")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True, help="Labelled data set: trains on its fit split, tests on its evaluation split.")
@click.option("--concepts", default=None,
              help="Concepts: a vocabulary (wordnet, wordnet-nouns, wordnet-adjectives), a file with one per line, or a comma list (default: wordnet).")
@click.option("--template", "templates", multiple=True, help="Prompt template for the concepts, such as 'a photo of {}.'; repeatable.")
@click.option("--eval-samples", type=click.IntRange(min=1), default=None, help="Test on the first N samples of the evaluation split.")
@click.option("--C", "C", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_C, show_default=True,
              help="Inverse penalty strength of the sparse head; smaller keeps fewer concepts.")
@click.option("--l1-ratio", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="1 for an L1 (lasso) penalty; below 1 mixes in L2 (elastic net).")
@click.option("--max-iter", type=click.IntRange(min=1), default=DEFAULT_MAX_ITER, show_default=True, help="saga iterations.")
@click.option("--output", type=click.Path(file_okay=False), default=None, help="Folder for cbm.json and the saved bottleneck (output/bottleneck).")
@head_options
@runtime_options
def cbm_command(dataset, concepts, templates, eval_samples, C, l1_ratio, max_iter, output, aligned_options, runtime, as_json):
    """Fit a sparse linear head on concept scores (a concept bottleneck) and compare it with a linear probe.

    The head and the bottleneck train on the first --train-samples labelled images of the fit split.
    """
    results = run_cbm(
        dataset, concepts=concepts, templates=list(templates) or None, eval_samples=eval_samples,
        C=C, l1_ratio=l1_ratio, max_iter=max_iter, runtime=runtime, output=output, **aligned_options,
    )
    if as_json:
        echo_json(results)
        return

    console = Console()
    console.print(metrics_table(results))
    console.print(concepts_table(results))
    if output:
        console.print(f"wrote {', '.join(results['files'].values())}")
