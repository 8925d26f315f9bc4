"""Locations on disk: the cache root and its sub-folders."""

import os
from pathlib import Path


def cache_root() -> Path:
    """Return the cache root: `$T2C_CACHE`, else `~/.cache/t2c`."""
    configured = os.environ.get("T2C_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "t2c"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the cache root, such as `cache_dir("features")`."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
