"""Weights files in local caches: find them, download them only when allowed, or raise `OfflineError`.

The timm, open_clip and transformers loaders resolve their weights here and hand the library a
local path (or `local_files_only=True`). So one place decides between the cache, a download and
an `OfflineError` that names the model, the cache folder and the command that fetches the files
ahead of time. Offline mode is read from the environment at every call, so setting
`HF_HUB_OFFLINE=1` after huggingface_hub was imported still keeps every loader off the network.
"""

import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.error import HTTPError, URLError

from t2c.errors import NotFoundError, OfflineError

log = logging.getLogger("t2c.encoders.weight_files")

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")  # either set to 1 forbids downloads
TRUE_VALUES = frozenset({"1", "on", "yes", "true"})  # huggingface_hub's reading of these variables
CAUSE_DEPTH = 8  # links of __cause__ / __context__ followed when classifying an error


def offline_variable() -> str | None:
    """Return the first of HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE that is set to 1, or None."""
    for variable in OFFLINE_VARIABLES:
        if os.environ.get(variable, "").strip().lower() in TRUE_VALUES:
            return variable
    return None


def offline_mode() -> bool:
    """Return whether downloads are forbidden: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set to 1.

    t2c applies this to every download it controls, including torchvision's and timm's URL
    downloads, which huggingface_hub's variable does not cover by itself.
    """
    return offline_variable() is not None


def huggingface_cache(variable: str, subfolder: str) -> Path:
    """Return a Hugging Face cache folder: $`variable`, else $HF_HOME/`subfolder`, else ~/.cache/huggingface/`subfolder`."""
    cache = os.environ.get(variable)
    if cache:
        return Path(cache).expanduser()

    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / subfolder
    return Path.home() / ".cache" / "huggingface" / subfolder


def hf_cache_dir() -> Path:
    """Return the Hugging Face Hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    return huggingface_cache("HF_HUB_CACHE", "hub")


def torch_checkpoint_dir() -> Path:
    """Return the folder torch.hub downloads weights to: $TORCH_HOME/hub/checkpoints (~/.cache/torch by default)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_entry(repo_id: str) -> str:
    """Return the cache folder name of a model repo: "models--org--name"."""
    return "models--" + repo_id.replace("/", "--")


def is_connection_error(error: BaseException) -> bool:
    """Return whether `error`, or an error it was raised from, means the network could not be used.

    Counts offline mode, huggingface_hub's "not cached and no connection" error, refused or timed
    out connections and failed DNS lookups. An HTTP error status (404, 401) means the server was
    reached, so it does not count.
    """
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    transport_errors: tuple[type[BaseException], ...] = ()
    try:
        import httpx2  # huggingface_hub 2.x's HTTP client

        transport_errors = (httpx2.TransportError,)
    except ImportError:
        pass

    seen = 0
    current: BaseException | None = error
    while current is not None and seen < CAUSE_DEPTH:
        if isinstance(current, (LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError, TimeoutError, socket.gaierror)):
            return True
        if isinstance(current, URLError) and not isinstance(current, HTTPError):
            return True
        if transport_errors and isinstance(current, transport_errors):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def offline_error(model_id: str, looked_for: str, cache_dir: Path, fetch: str, cause: BaseException | None = None) -> OfflineError:
    """Build the one-line error for weights that are neither cached nor downloadable.

    Args:
        model_id: the t2c id ("timm:resnet50.a1_in1k").
        looked_for: the files or cache entry searched ("models--timm--resnet50.a1_in1k (model.safetensors)").
        cache_dir: the cache folder searched.
        fetch: a shell command that fetches the weights on a machine with network.
        cause: the library's error when a download was attempted and failed.
    """
    variable = offline_variable() or "HF_HUB_OFFLINE"
    if cause is None:
        reason = f"offline mode is on ({variable}=1)"
    else:
        reason = f"the download failed ({type(cause).__name__}: {_first_line(cause)})"

    return OfflineError(
        f"weights of {model_id} are not cached and {reason}; looked for {looked_for} in {cache_dir}. "
        f"Fetch them on a machine with network with `{fetch}`, then copy them from that machine's cache "
        f"into {cache_dir}, or unset {variable} where the network is reachable"
    )


def hf_file(repo_id: str, filenames: Sequence[str], *, model_id: str, fetch: str, revision: str | None = None) -> Path:
    """Return the local path of the first of `filenames` in Hub repo `repo_id`, from the cache or downloaded.

    In offline mode only the cache is read. Files are tried in order, so a list such as
    ("model.safetensors", "pytorch_model.bin") prefers the first that the repo has.

    Raises:
        OfflineError: no candidate is cached, and offline mode or a network failure prevents the download.
        NotFoundError: the Hub has the repo (or revision) but none of `filenames`, or no such repo.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    cache_dir = hf_cache_dir()
    local_only = offline_mode()
    network_error: BaseException | None = None

    for filename in filenames:
        try:
            path = hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir, local_files_only=local_only)
        except RemoteEntryNotFoundError:
            continue
        except (RepositoryNotFoundError, RevisionNotFoundError) as error:
            raise NotFoundError(
                f"Hub repo {repo_id} (revision {revision or 'main'}) for {model_id} not found ({_first_line(error)}); "
                "check the model name, or log in with `hf auth login` if the repo is gated or private"
            ) from error
        except Exception as error:  # huggingface_hub and httpx2 raise many types when the network fails
            if not is_connection_error(error):
                raise
            network_error = error
            continue

        log.info("weights of %s: %s", model_id, path)
        return Path(path)

    looked_for = f"{hf_cache_entry(repo_id)} ({' or '.join(filenames)})"
    if local_only or network_error is not None:
        cause = None if local_only else network_error
        raise offline_error(model_id, looked_for, cache_dir, fetch, cause) from network_error

    raise NotFoundError(
        f"Hub repo {repo_id} for {model_id} has none of {', '.join(filenames)}; "
        "the repo may not hold weights for this library"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
