"""`t2c run search`: rank a data set's images by a text query, with require / exclude concept logic."""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.apps.search import DEFAULT_DATASET, DEFAULT_EXCLUDE_STD, DEFAULT_REQUIRE_STD, run_search
from t2c.cli.app_options import echo_json, head_options
from t2c.cli.options import runtime_options


def hits_table(results: dict) -> Table:
    """Build the table of ranked hits with their constraint similarities."""
    table = Table(title=f"{results['n_kept']} of {results['n_searched']} images kept; top {len(results['hits'])} by {results['ranked_by']}")
    constraint_names = [f"{item['kind']} {item['text']}" for item in results["constraints"]]
    for column in ("rank", "key", "label", "score", *(escape(name) for name in constraint_names)):
        table.add_column(column, justify="right" if column not in ("key", "label") else "left")
    for hit in results["hits"]:
        table.add_row(
            str(hit["rank"]), escape(hit["key"]), "" if hit["label"] is None else escape(str(hit["label"])), f"{hit['score']:.3f}",
            *(f"{hit['constraint_similarities'][name]:.3f}" for name in constraint_names),
        )
    return table


def constraints_table(results: dict) -> Table:
    """Build the table of each constraint's threshold and how many images pass it."""
    table = Table(title="concept logic: threshold = mean + k * std of the similarities over all searched images")
    for column in ("constraint", "k", "mean", "std", "threshold", "pass alone", "remaining"):
        table.add_column(column, justify="left" if column == "constraint" else "right")
    for item in results["constraints"]:
        table.add_row(
            escape(f"{item['kind']} {item['text']}"), f"{item['k']:g}", f"{item['mean']:.3f}", f"{item['std']:.3f}",
            f"{item['threshold']:.3f}", str(item["n_pass"]), str(item["n_remaining"]),
        )
    return table


@click.command("search")
@click.argument("query", required=False)
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True,
              help="DATASET or DATASET/SPLIT to search (default split: the evaluation split).")
@click.option("--require", multiple=True, metavar="TEXT[@K]",
              help=f"Keep images whose similarity to TEXT is above mean + K std (K default {DEFAULT_REQUIRE_STD:g}); repeatable.")
@click.option("--exclude", multiple=True, metavar="TEXT[@K]",
              help=f"Drop images whose similarity to TEXT is above mean + K std (K default {DEFAULT_EXCLUDE_STD:g}); repeatable.")
@click.option("--top-k", type=click.IntRange(min=1), default=16, show_default=True, help="Hits to return and draw.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Search only the first N images of the split.")
@click.option("--templates", default=None,
              help="Template set name, file, or one literal template such as '{}' (default: the data set's templates).")
@click.option("--output", type=click.Path(file_okay=False), default=None, help="Folder for search.json and search.png (grid of the hits).")
@head_options
@runtime_options
def search_command(query, dataset, require, exclude, top_k, limit, templates, output, aligned_options, runtime, as_json):
    """Rank images by similarity to QUERY, keeping those that satisfy every --require and --exclude.

    Without QUERY, images are ranked by the mean z-score of the --require concepts.
    """
    results = run_search(
        query, dataset, require=list(require), exclude=list(exclude), top_k=top_k, limit=limit,
        templates=templates, runtime=runtime, output=output, **aligned_options,
    )
    if as_json:
        echo_json(results)
        return

    console = Console()
    if results["constraints"]:
        console.print(constraints_table(results))
    console.print(hits_table(results))
    if results["top_k_label_counts"]:
        counts = ", ".join(f"{name} {count}" for name, count in results["top_k_label_counts"].items())
        console.print(escape(f"labels of the hits: {counts}"))
    if output:
        console.print(f"wrote {', '.join(results['files'].values())}")
