"""`t2c push HEAD_DIR org/name` and `t2c pull org/name[@rev]`: heads on a Hugging Face Hub.

The Hub address is HF_ENDPOINT (default https://huggingface.co), the token is HF_TOKEN or the one
`hf auth login` saved, and downloads go to HF_HUB_CACHE. HF_HUB_OFFLINE=1 pulls from the cache only.
"""

import contextlib
import json

import click
from huggingface_hub.utils import disable_progress_bars
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from t2c.cli.options import configure_logging
from t2c.hub import pull_head, push_head
from t2c.modelcard import DEFAULT_LICENSE


def quiet_if(as_json: bool) -> contextlib.AbstractContextManager:
    """Hide huggingface_hub's progress bars while JSON output is requested."""
    return disable_progress_bars() if as_json else contextlib.nullcontext()


def head_table(title: str, summary: dict) -> Table:
    """Build a two-column table of a head's main facts."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("encoder", escape(f"{summary['encoder']} ({summary['encoder_dim']}-d)"))
    table.add_row("target", escape(f"{summary['target']} ({summary['target_dim']}-d)"))
    table.add_row("aligner", escape(summary["aligner"]))
    table.add_row("fit data", escape(f"{summary['fit_dataset']} {summary['fit_split']} ({summary['fit_samples']} images)"))
    for name, value in sorted(summary["metrics"].items()):
        table.add_row(escape(name), f"{value:.4g}")
    table.add_row("weights sha256", summary["weights_sha256"] or "")
    return table


@click.command("push")
@click.argument("head_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id", metavar="ORG/NAME")
@click.option("--private", is_flag=True, help="Create the repo private (an existing repo keeps its visibility).")
@click.option("--revision", metavar="BRANCH", default=None, help="Branch to commit to, created from main when missing (default: main).")
@click.option("--message", "commit_message", default=None, help="Commit message (default names encoder, target and aligner).")
@click.option("--license", "license_id", default=DEFAULT_LICENSE, show_default=True, help="License of the head for the model card, a Hub license id such as mit or apache-2.0.")
@click.option("--json", "as_json", is_flag=True, help="Print repo, branch and commit as JSON on stdout.")
@click.option("--debug", is_flag=True, help="Log debug details and show tracebacks.")
def push_command(head_dir, repo_id, private, revision, commit_message, license_id, as_json, debug):
    """Upload the head in HEAD_DIR (config.json + model.safetensors) to the Hub repo ORG/NAME.

    Validates the head, writes a model card (README.md) from its card, and commits the three
    files. Prints the commit sha: pull exactly that head later with `t2c pull ORG/NAME@SHA`.
    """
    configure_logging(debug)
    with quiet_if(as_json):
        result = push_head(head_dir, repo_id, private=private, revision=revision, commit_message=commit_message, license=license_id)

    if as_json:
        click.echo(json.dumps({"repo_id": result.repo_id, "revision": result.revision, "commit_sha": result.commit_sha, "commit_url": result.commit_url}, indent=2))
        return

    click.echo(f"pushed {head_dir} to {result.repo_id}@{result.revision}: commit {result.commit_sha}")
    click.echo(f"  {result.commit_url}")
    click.echo(f"  pin it with: t2c pull {result.repo_id}@{result.commit_sha}")


@click.command("pull")
@click.argument("spec", metavar="ORG/NAME[@REV]")
@click.option("--revision", default=None, help="Branch, tag or commit sha, if SPEC has no @REV (default: main).")
@click.option("--force-download", is_flag=True, help="Download again even when the cache has the files.")
@click.option("--json", "as_json", is_flag=True, help="Print folder, commit and the head's card summary as JSON on stdout.")
@click.option("--debug", is_flag=True, help="Log debug details and show tracebacks.")
def pull_command(spec, revision, force_download, as_json, debug):
    """Download a head from the Hub into the local cache and validate it.

    Use the head afterwards with `--head hub:ORG/NAME@REV`; with HF_HUB_OFFLINE=1 it then loads
    from the cache with no request.
    """
    configure_logging(debug)
    with quiet_if(as_json):
        pulled = pull_head(spec, revision, force_download=force_download)
    summary = pulled.head.summary()

    if as_json:
        payload = {"repo_id": pulled.repo_id, "revision": pulled.revision, "commit_sha": pulled.commit_sha, "folder": str(pulled.folder), "head": summary}
        click.echo(json.dumps(payload, indent=2))
        return

    Console().print(head_table(f"{pulled.repo_id}@{pulled.revision or 'main'}", summary))
    click.echo(f"pulled {pulled.repo_id} commit {pulled.commit_sha} into {pulled.folder}")
    click.echo(f"  use it with: --head hub:{pulled.repo_id}@{pulled.commit_sha}")


def register(cli: click.Group) -> None:
    """Add `push` and `pull` to the main `t2c` group."""
    cli.add_command(push_command)
    cli.add_command(pull_command)
