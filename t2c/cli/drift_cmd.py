"""`t2c run drift`: which concepts differ between two image sets, with Welch's t-test per concept."""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.apps.drift import DEFAULT_ALPHA, DEFAULT_DATASET, DEFAULT_TOP, run_drift
from t2c.apps.multiple_testing import CORRECTIONS
from t2c.apps.samples import split_names
from t2c.cli.app_options import echo_json, head_options
from t2c.cli.options import runtime_options


def side_table(rows: list[dict], title: str) -> Table:
    """Build the table of one direction's top concepts."""
    table = Table(title=title)
    for column in ("concept", "Cohen's d", "mean diff", "Welch t", "p adjusted"):
        table.add_column(column, justify="left" if column == "concept" else "right")
    for row in rows:
        table.add_row(escape(row["concept"]), f"{row['cohens_d']:+.2f}", f"{row['mean_difference']:+.4f}", f"{row['t']:+.1f}", f"{row['p_adjusted']:.1e}")
    return table


def describe_side(side: dict) -> str:
    classes = f" [{', '.join(side['classes'])}]" if side["classes"] else ""
    return escape(f"{side['dataset']}/{side['split']}{classes} (n={side['n']})")


@click.command("drift")
@click.option("--a", "a", default=DEFAULT_DATASET, show_default=True, help="Set A: DATASET or DATASET/SPLIT (default split: evaluation).")
@click.option("--b", "b", default=None, help="Set B: DATASET or DATASET/SPLIT (default: the same as --a, for class filters).")
@click.option("--a-classes", default=None, help="Keep only these classes in A, comma-separated names or label indices.")
@click.option("--b-classes", default=None, help="Keep only these classes in B, comma-separated names or label indices.")
@click.option("--concepts", default=None,
              help="Concepts: a vocabulary (wordnet, wordnet-nouns, wordnet-adjectives), a file with one per line, or a comma list (default: wordnet).")
@click.option("--template", "templates", multiple=True, help="Prompt template for the concepts, such as 'a photo of {}.'; repeatable.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Read only the first N samples of each set's split (before class filters).")
@click.option("--correction", type=click.Choice(CORRECTIONS), default="fdr_bh", show_default=True,
              help="Multiple-testing correction: Benjamini–Hochberg (fdr_bh), Holm, or none.")
@click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True, help="Significance level for the corrected p-values.")
@click.option("--top", type=click.IntRange(min=1), default=DEFAULT_TOP, show_default=True, help="Concepts per direction in the tables and the chart.")
@click.option("--output", type=click.Path(file_okay=False), default=None, help="Folder for drift.json, drift.csv (all concepts) and drift.png.")
@head_options
@runtime_options
def drift_command(a, b, a_classes, b_classes, concepts, templates, limit, correction, alpha, top, output, aligned_options, runtime, as_json):
    """Rank the concepts whose similarity differs most between set A and set B."""
    results = run_drift(
        a, b, a_classes=split_names(a_classes), b_classes=split_names(b_classes), concepts=concepts,
        templates=list(templates) or None, limit=limit, correction=correction, alpha=alpha, top=top,
        runtime=runtime, output=output, **aligned_options,
    )
    if as_json:
        echo_json(results)
        return

    console = Console()
    console.print(f"A = {describe_side(results['a'])}\nB = {describe_side(results['b'])}")
    console.print(
        f"{results['concepts']['size']} concepts ({results['concepts']['name']}), {results['test']}, "
        f"{results['correction']} correction: {results['n_significant']} significant at {results['alpha']}"
    )
    console.print(side_table(results["higher_in_a"], "higher similarity in A"))
    console.print(side_table(results["higher_in_b"], "higher similarity in B"))
    for note in results["notes"]:
        console.print(escape(f"note: {note}"))
    if output:
        console.print(f"wrote {', '.join(results['files'].values())}")
