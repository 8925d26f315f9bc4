"""Local caches of `hf:<name>` data sets, offline mode for them, and the error when one is missing.

Two caches contain a Hub data set:
- the Hub cache (`HF_HUB_CACHE`, else `HF_HOME/hub`): the repo's files in a snapshot folder
  `datasets--org--name/snapshots/<commit>/`, written by `hf download --repo-type dataset` and by
  an online `datasets.load_dataset`;
- the datasets cache (`HF_DATASETS_CACHE`, else `HF_HOME/datasets`): Arrow files that
  `datasets.load_dataset` prepared from those files.
Both folders are read from the environment at every call, like the encoders' caches.
"""

import os
import re
from pathlib import Path

from t2c.encoders.weight_files import (
    TRUE_VALUES,
    hf_cache_dir,
    huggingface_cache,
    offline_variable,
)
from t2c.errors import OfflineError

DATASETS_OFFLINE_VARIABLE = "HF_DATASETS_OFFLINE"  # the datasets library's own switch, besides HF_HUB_OFFLINE
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")


def datasets_offline_variable() -> str | None:
    """Return the variable that forbids downloading data sets (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE or HF_DATASETS_OFFLINE), or None."""
    variable = offline_variable()
    if variable is not None:
        return variable
    if os.environ.get(DATASETS_OFFLINE_VARIABLE, "").strip().lower() in TRUE_VALUES:
        return DATASETS_OFFLINE_VARIABLE
    return None


def datasets_cache_dir() -> Path:
    """Return the datasets cache: $HF_DATASETS_CACHE, else $HF_HOME/datasets, else ~/.cache/huggingface/datasets."""
    return huggingface_cache("HF_DATASETS_CACHE", "datasets")


def hub_cache_entry(name: str) -> str:
    """Return the Hub cache folder name of a data set repo: "datasets--org--name"."""
    return "datasets--" + name.replace("/", "--")


def hub_snapshot(name: str, revision: str | None) -> Path | None:
    """Return the Hub cache snapshot folder of data set repo `name` at `revision` (default "main"), or None.

    A revision is a branch or tag (resolved through the cache's refs/ folder) or a 40-hex commit.
    """
    entry = hf_cache_dir() / hub_cache_entry(name)
    revision = revision or "main"

    if COMMIT_SHA.fullmatch(revision):
        commit = revision
    else:
        ref = entry / "refs" / revision
        if not ref.is_file():
            return None
        commit = ref.read_text().strip()

    snapshot = entry / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def fetch_command(name: str, revision: str | None) -> str:
    """Return the shell command that puts data set repo `name` into the Hub cache."""
    command = f"hf download --repo-type dataset {name}"
    if revision:
        command += f" --revision {revision}"
    return command


def offline_dataset_error(dataset_id: str, name: str, revision: str | None, cause: BaseException | None = None) -> OfflineError:
    """Build the error for a Hub data set that is in neither cache and cannot be downloaded.

    Args:
        dataset_id: the t2c id ("hf:uoft-cs/cifar10").
        name: the Hub repo ("uoft-cs/cifar10").
        revision: the requested branch, tag or commit, or None for "main".
        cause: the datasets library's error when a download was attempted and failed.
    """
    variable = datasets_offline_variable() or "HF_HUB_OFFLINE"
    if cause is None:
        reason = f"offline mode is on ({variable}=1)"
    else:
        reason = f"the download failed ({type(cause).__name__}: {error_summary(cause)})"

    hub = hf_cache_dir()
    return OfflineError(
        f"data set {dataset_id} is not cached and {reason}; looked for {hub_cache_entry(name)} in the Hub cache {hub} "
        f"and for prepared Arrow files in the datasets cache {datasets_cache_dir()}. Fetch it on a machine with "
        f"network with `{fetch_command(name, revision)}`, then copy {hub_cache_entry(name)} from that machine's Hub "
        f"cache into {hub}, or unset {variable} where the network is reachable"
    )


def error_summary(error: BaseException, max_lines: int = 3) -> str:
    """Return the first `max_lines` lines of an error's message joined into one, or its type name when the message is empty."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return " ".join(lines[:max_lines]) if lines else type(error).__name__
