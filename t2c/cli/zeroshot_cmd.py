"""`t2c run zeroshot`: fit or load a head, then classify a labelled split zero-shot."""

import json

import click
from rich.console import Console
from rich.table import Table

from t2c.apps.zeroshot import run_zeroshot
from t2c.cli.options import runtime_options, write_json
from t2c.targets.templates import read_lines


def format_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def results_table(results: dict) -> Table:
    """Build the table of aligned, target and chance scores."""
    title = (
        f"zero-shot {results['dataset']}/{results['eval_split']} ({results['n_eval']} images)\n"
        f"encoder {results['encoder']} -> target {results['target']}"
    )
    table = Table(title=title)
    for column in ("features", "aligner", "R² paper", "R² sklearn", "acc1", "acc5", "per-class recall"):
        table.add_column(column, justify="left" if column in ("features", "aligner") else "right")

    metrics, own = results["metrics"], results["target_metrics"]
    table.add_row(
        "aligned encoder",
        results["aligner"],
        format_score(results["r2_paper"]),
        format_score(results["r2_sklearn"]),
        format_score(metrics["acc1"]),
        format_score(metrics["acc5"]),
        format_score(metrics["mean_per_class_recall"]),
    )
    table.add_row(
        "target's own", "–", "1", "1",
        format_score(own["acc1"]), format_score(own["acc5"]), format_score(own["mean_per_class_recall"]),
    )
    table.add_row("chance", "–", "–", "–", format_score(results["chance"]), "–", "–")
    return table


@click.command("zeroshot")
@click.option("--encoder", default=None, help="Encoder id, e.g. offline:resnet50-opennsfw or timm:resnet50.a1_in1k.")
@click.option("--target", default=None, help="Target id (default: the offline demo target with no --encoder, else openclip:ViT-B-16/openai).")
@click.option("--dataset", default=None, help="Labelled data set to classify (default: fashion-mnist).")
@click.option("--aligner", default="ridge", show_default=True, help="Aligner kind: ridge, lstsq, procrustes, linear.")
@click.option("--alpha", type=float, default=None, help="Ridge penalty; default picks it by 5-fold cross-validation.")
@click.option("--head", default=None, help="Use a head instead of fitting one: a folder, hub:org/name@rev or zoo:ID.")
@click.option("--no-zoo", is_flag=True, help="Fit a head here even when the zoo has one for this encoder, target and aligner.")
@click.option("--fit-dataset", default=None, help="Data set to fit the head on, labels unused (default: --dataset).")
@click.option("--train-samples", type=click.IntRange(min=1), default=10_000, show_default=True, help="Fit on the first N samples of the fit split.")
@click.option("--eval-samples", type=click.IntRange(min=1), default=None, help="Classify only the first N samples of the evaluation split.")
@click.option("--classnames", "classnames_file", type=click.Path(dir_okay=False), default=None, help="File of class names, one per line, in label order.")
@click.option("--templates", default=None, help="Template set (openai-imagenet, simple-imagenet, basic) or a file with one '{}' template per line.")
@click.option("--no-center", is_flag=True, help="Do not subtract the head's target mean before cosine scoring.")
@click.option("--save-head", type=click.Path(file_okay=False), default=None, help="Save the fitted head to this folder.")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write CLIP_benchmark-shaped JSON results to this file.")
@runtime_options
def zeroshot_command(encoder, target, dataset, aligner, alpha, head, fit_dataset, train_samples, eval_samples,
                     classnames_file, templates, no_center, save_head, output, no_zoo, runtime, as_json):
    """Classify a data set zero-shot with an encoder aligned to a target."""
    classnames = read_lines(classnames_file, "class names") if classnames_file else None
    aligner_params = {"alpha": alpha} if alpha is not None else None

    results = run_zeroshot(
        encoder, target, dataset, aligner,
        head=head, fit_dataset=fit_dataset, train_samples=train_samples, eval_samples=eval_samples,
        classnames=classnames, templates=templates, center=not no_center,
        aligner_params=aligner_params, runtime=runtime, save_head=save_head, use_zoo=not no_zoo,
    )
    write_json(results, output)

    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        Console().print(results_table(results))
