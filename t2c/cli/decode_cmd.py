"""`t2c run decode`: decode class means, class directions or probe weights of an encoder into words."""

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.apps.decode import DEFAULT_DATASET, VECTOR_KINDS, read_vectors, run_decode
from t2c.apps.decoders import DEFAULT_TOP_K
from t2c.cli.app_options import echo_json, head_options
from t2c.cli.options import runtime_options
from t2c.errors import ConfigError


def decoded_table(results: dict) -> Table:
    """Build one row per decoded vector with its nearest words."""
    table = Table(title=f"nearest of {results['vocabulary']['size']} words ({results['vocabulary']['name']}) in {results['target']}")
    table.add_column("vector")
    table.add_column("class name rank", justify="right")
    table.add_column("nearest words (cosine)")
    generated = any("generated" in entry for entry in results["decoded"])
    if generated:
        table.add_column(f"{results['decoder']} text")
    for entry in results["decoded"]:
        words = ", ".join(f"{item['word']} {item['score']:.2f}" for item in entry["words"])
        rank = entry.get("class_name_rank")
        row = [escape(entry["label"]), "–" if rank is None else str(rank), escape(words)]
        if generated:
            row.append(escape(entry.get("generated", "")))
        table.add_row(*row)
    return table


def parse_decoder_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """Parse repeated `--decoder-option KEY=VALUE` flags into a dict."""
    options = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ConfigError(f"--decoder-option {pair!r} is invalid; write KEY=VALUE, for example path=/models/clipcap")
        options[key] = value
    return options


@click.command("decode")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True, help="DATASET or DATASET/SPLIT whose images give class means, directions and the probe.")
@click.option("--class", "classes", multiple=True, help="Decode the mean feature of this class; repeatable. With nothing to decode, every class is.")
@click.option("--direction", "directions", multiple=True, metavar="FROM:TO",
              help="Decode mean(TO) - mean(FROM); each side is a comma list of classes, such as 'sneaker:ankle boot'; repeatable.")
@click.option("--probe-class", "probe_classes", multiple=True, help="Decode this class's row of a linear probe fitted on the split; repeatable.")
@click.option("--vector", "vector_file", type=click.Path(dir_okay=False), default=None, help="Decode vectors of encoder space from a .npy or .json file.")
@click.option("--vector-kind", type=click.Choice(VECTOR_KINDS), default="point", show_default=True,
              help="What the --vector rows are: points (features), directions, or linear weights.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Read only the first N samples of the split.")
@click.option("--vocabulary", default=None,
              help="Candidate words: wordnet, wordnet-nouns, wordnet-adjectives, a file with one per line, or a comma list (default: wordnet).")
@click.option("--template", "templates", multiple=True, help="Prompt template for the words, such as 'a photo of {}.'; repeatable.")
@click.option("--top-k", type=click.IntRange(min=1), default=DEFAULT_TOP_K, show_default=True, help="Words per vector.")
@click.option("--decoder", default=None, help="Also run a generative decoder registered by a plugin, such as clipcap.")
@click.option("--decoder-option", "decoder_options", multiple=True, metavar="KEY=VALUE", help="Option for the decoder, such as path=DIR; repeatable.")
@click.option("--output", type=click.Path(file_okay=False), default=None, help="Folder for decode.json.")
@head_options
@runtime_options
def decode_command(dataset, classes, directions, probe_classes, vector_file, vector_kind, limit, vocabulary, templates, top_k,
                   decoder, decoder_options, output, aligned_options, runtime, as_json):
    """Decode vectors of an encoder's feature space into the nearest words of a vocabulary."""
    results = run_decode(
        dataset, classes=list(classes), directions=list(directions), probe_classes=list(probe_classes),
        vectors=read_vectors(vector_file, vector_kind) if vector_file else None, limit=limit,
        vocabulary=vocabulary, templates=list(templates) or None, top_k=top_k,
        decoder=decoder, decoder_options=parse_decoder_options(decoder_options), runtime=runtime, output=output, **aligned_options,
    )
    if as_json:
        echo_json(results)
        return

    console = Console()
    console.print(decoded_table(results))
    if output:
        console.print(f"wrote {', '.join(results['files'].values())}")
