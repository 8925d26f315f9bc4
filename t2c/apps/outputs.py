"""Writing application results into an output folder: JSON and CSV next to the PNG figures."""

import csv
import json
import logging
import math
from pathlib import Path

from t2c.errors import ConfigError

log = logging.getLogger("t2c.apps.outputs")


def output_folder(output: str | Path) -> Path:
    """Return `output` as a folder, creating it; raise when it is an existing file."""
    folder = Path(output).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--output {folder} is a file, but this application writes a folder of results; pass a folder path")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def json_ready(value):
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def write_json(path: Path, payload: dict) -> Path:
    """Write `payload` as indented JSON (NaN written as null)."""
    path.write_text(json.dumps(json_ready(payload), indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s", path)
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write dict rows as CSV with the first row's keys as the header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    log.info("wrote %s", path)
    return path
