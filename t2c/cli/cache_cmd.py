"""`t2c cache`: list, prune and verify the feature store (features under `$T2C_CACHE/features`)."""

import fnmatch
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from t2c.errors import FeatureStoreError
from t2c.features.entry import FeatureEntry, ShardProblem
from t2c.features.store import FeatureStore

SECONDS_PER_DAY = 86400


def format_bytes(size: int) -> str:
    """Return a byte count in binary units, such as "3.2 MiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def format_time(timestamp: float) -> str:
    """Return an epoch time as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def describe(entry: FeatureEntry) -> dict:
    """Return the fields `t2c cache ls` shows for one entry."""
    manifest = entry.manifest
    return {
        "folder": entry.path.name,
        "model": manifest.key.model,
        "dataset": manifest.key.dataset,
        "split": manifest.key.split,
        "backend": manifest.key.backend,
        "preprocess_digest": manifest.key.preprocess_digest,
        "dim": manifest.dim,
        "shards": len(manifest.shards),
        "shards_total": manifest.num_shards,
        "samples": sum(record.count for record in manifest.shards),
        "split_size": manifest.split_size,
        "bytes": entry.size_on_disk(),
        "last_used": format_time(entry.last_used()),
    }


def matches(entry: FeatureEntry, model: str | None, dataset: str | None, older_than: float | None) -> bool:
    """Return whether an entry passes every given filter (shell-style patterns, age in days)."""
    if model is not None and not fnmatch.fnmatchcase(entry.key.model, model):
        return False
    if dataset is not None and not fnmatch.fnmatchcase(entry.key.dataset, dataset):
        return False
    if older_than is not None and time.time() - entry.last_used() <= older_than * SECONDS_PER_DAY:
        return False
    return True


def open_entries(store: FeatureStore) -> tuple[list[FeatureEntry], list[tuple[Path, str]]]:
    """Open every entry folder; return the readable entries and (folder, error) for the rest."""
    entries = []
    unreadable = []
    for folder in store.entry_folders():
        try:
            entries.append(FeatureEntry.open(folder))
        except FeatureStoreError as error:
            unreadable.append((folder, str(error)))
    return entries, unreadable


@click.group("cache")
def cache():
    """List, prune and verify cached features (the feature store under $T2C_CACHE/features)."""


@cache.command("ls")
@click.option("--json", "json_output", is_flag=True, help="Print the entries as a JSON list.")
def list_entries(json_output: bool):
    """List feature-store entries with their size on disk and last use."""
    store = FeatureStore()
    entries, unreadable = open_entries(store)
    rows = [describe(entry) for entry in entries]

    if json_output:
        click.echo(json.dumps(rows, indent=2))
        return

    if unreadable:
        click.echo(f"{len(unreadable)} unreadable entries; run `t2c cache verify`", err=True)
    if not rows:
        click.echo(f"no cached features in {store.root}")
        return

    table = Table()
    for column in ("model", "dataset", "split", "shards", "samples", "size", "last used"):
        table.add_column(column, overflow="fold")  # wrap long ids instead of cutting them
    for row in rows:
        table.add_row(
            row["model"],
            row["dataset"],
            row["split"],
            f"{row['shards']}/{row['shards_total']}",
            f"{row['samples']}/{row['split_size']}",
            format_bytes(row["bytes"]),
            row["last_used"][:16].replace("T", " "),  # UTC, to the minute
        )
    Console().print(table)


@cache.command("prune")
@click.option("--model", "model_pattern", metavar="PATTERN", help="Remove entries whose model id matches, such as 'timm:*'.")
@click.option("--dataset", "dataset_pattern", metavar="PATTERN", help="Remove entries whose data set id matches, such as 'folder:*'.")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS", help="Remove entries last used more than DAYS days ago.")
@click.option("--all", "prune_all", is_flag=True, help="Remove every entry, unreadable ones included.")
@click.option("--dry-run", is_flag=True, help="Print what would be removed and remove nothing.")
@click.option("--json", "json_output", is_flag=True, help="Print the removed entries and bytes freed as JSON.")
def prune(model_pattern, dataset_pattern, older_than, prune_all, dry_run, json_output):
    """Remove feature-store entries that match every given filter."""
    filtered = model_pattern is not None or dataset_pattern is not None or older_than is not None
    if not filtered and not prune_all:
        raise click.UsageError("pass at least one of --model, --dataset, --older-than, or --all to remove everything")

    store = FeatureStore()
    entries, unreadable = open_entries(store)
    selected = [
        (entry.path, describe(entry))
        for entry in entries
        if matches(entry, model_pattern, dataset_pattern, older_than)
    ]
    if not filtered:
        # Only --all reaches entries whose manifest cannot be read, since no filter can match them.
        selected += [(folder, {"folder": folder.name, "unreadable": error}) for folder, error in unreadable]

    freed = 0
    removed = []
    for path, row in selected:
        size = sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
        if not dry_run:
            size = store.remove(path)
        freed += size
        removed.append({**row, "bytes": size})

    if json_output:
        click.echo(json.dumps({"dry_run": dry_run, "removed": removed, "bytes_freed": freed}, indent=2))
        return

    verb = "would remove" if dry_run else "removed"
    for row in removed:
        if "model" in row:
            description = f"{row['model']} on {row['dataset']} split {row['split']}"
        else:
            description = "unreadable entry"
        click.echo(f"{verb} {row['folder']} ({description}, {format_bytes(row['bytes'])})")
    summary = "would free" if dry_run else "freed"
    click.echo(f"{summary} {format_bytes(freed)} ({freed} bytes) in {len(removed)} entries")


@cache.command("verify")
@click.option("--json", "json_output", is_flag=True, help="Print the damaged shards as JSON.")
def verify(json_output: bool):
    """Check every shard's checksum and list the damaged ones; exit code 1 when any is damaged."""
    store = FeatureStore()
    entries, unreadable = open_entries(store)

    problems = [ShardProblem(folder, error) for folder, error in unreadable]
    shards = 0
    for entry in entries:
        problems.extend(entry.verify())
        shards += len(entry.manifest.shards)
        entry.remove_stray_temp_files()

    if json_output:
        rows = [{"path": str(problem.path), "problem": problem.problem} for problem in problems]
        click.echo(json.dumps({"entries": len(entries) + len(unreadable), "shards": shards, "damaged": rows}, indent=2))
    else:
        for problem in problems:
            click.echo(f"damaged: {problem.path}: {problem.problem}")
        click.echo(f"checked {len(entries) + len(unreadable)} entries and {shards} shards: {len(problems)} damaged")
        if problems:
            click.echo("delete damaged entries with `t2c cache prune` (or remove their folders) and extract again")

    if problems:
        # sys.exit rather than ctx.exit: click returns ctx.exit's code from main(standalone_mode=False)
        # instead of exiting with it.
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add the `cache` command group to the main `t2c` group."""
    cli.add_command(cache)
