"""Flags shared by the applications that score images against text: which encoder, target and head."""

import functools
import json

import click

from t2c.apps.outputs import json_ready


def head_options(command):
    """Add --encoder, --target, --head, --aligner, --fit-dataset, --train-samples, --no-zoo and --no-center.

    The wrapped command receives `aligned_options`, a dict of keyword arguments for the
    application's run function, instead of the raw flags.
    """

    @click.option("--encoder", default=None, help="Encoder id (default: the offline demo, offline:resnet50-opennsfw).")
    @click.option("--target", default=None, help="Target id (default: offline:effnet-lite0-minilm with no --encoder, else openclip:ViT-B-16/openai).")
    @click.option("--head", default=None, help="Use this head instead of fitting one: a folder, hub:org/name@rev or zoo:ID.")
    @click.option("--aligner", default="ridge", show_default=True, help="Aligner kind when a head is fitted: ridge, lstsq, procrustes, linear.")
    @click.option("--fit-dataset", default=None, help="Data set to fit the head on, labels unused (default: the data set searched).")
    @click.option("--train-samples", type=click.IntRange(min=1), default=10_000, show_default=True,
                  help="Fit the head on the first N samples of the fit split.")
    @click.option("--no-zoo", is_flag=True, help="Fit a head here even when the zoo has one for this encoder, target and aligner.")
    @click.option("--no-center", is_flag=True, help="Do not subtract the head's target mean from aligned features before cosine scoring.")
    @functools.wraps(command)
    def wrapper(*args, encoder, target, head, aligner, fit_dataset, train_samples, no_zoo, no_center, **kwargs):
        aligned_options = {
            "encoder": encoder,
            "target": target,
            "head": head,
            "aligner": aligner,
            "fit_dataset": fit_dataset,
            "train_samples": train_samples,
            "use_zoo": not no_zoo,
            "center": not no_center,
        }
        return command(*args, aligned_options=aligned_options, **kwargs)

    return wrapper


def echo_json(results: dict) -> None:
    """Print results as indented JSON, NaN written as null."""
    click.echo(json.dumps(json_ready(results), indent=2))
