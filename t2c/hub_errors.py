"""Hub errors: one `HubError` subclass per way a Hub request fails, and the translation from
huggingface_hub's and httpx2's exceptions into them.

Each message is one line naming the repo, the revision, the endpoint and the fix. The
translation follows how huggingface_hub 2.4 reports failures: HTTP errors as `HfHubHTTPError`
subclasses, network errors from API calls as raw `httpx2` exceptions, and failures while
locating files for a download as `LocalEntryNotFoundError` whose `__cause__` is the original error.
"""

from dataclasses import dataclass

import httpx2
from huggingface_hub.errors import (
    HfHubHTTPError,
    IncompleteSnapshotError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from t2c.errors import HeadError, HubError, NotFoundError, OfflineError

TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})  # worth another attempt


class HubAuthError(HubError):
    """The Hub rejected the request's credentials (HTTP 401 or 403)."""


class HubNotFoundError(HubError, NotFoundError):
    """A repo, revision or file does not exist on the Hub (HTTP 404)."""


class HubServerError(HubError):
    """The Hub responded with a server error or a rate limit (HTTP 408, 429 or 5xx) on every attempt."""


class HubTimeoutError(HubError, TimeoutError):
    """A Hub request timed out on every attempt."""


class HubConnectionError(HubError, ConnectionError):
    """The Hub endpoint could not be reached."""


class HubOfflineError(HubError, OfflineError):
    """A head is not in the local Hub cache and offline mode forbids downloading it."""


class HubIncompleteError(HubError, OfflineError):
    """The cached copy of a revision is missing files, as an interrupted download leaves it."""


class HubNotAHeadError(HubError, HeadError):
    """A Hub repo lacks a head's files, or what it serves fails a head's validation."""


@dataclass(frozen=True)
class HubRequest:
    """The action, repo, revision and endpoint of a failed Hub call, for error messages."""

    action: str  # "pushing to", "pulling"
    repo_id: str
    revision: str | None
    endpoint: str
    offline: bool = False  # HF_HUB_OFFLINE was set, so only the cache was consulted

    @property
    def target(self) -> str:
        """Return "org/name@rev" (the Hub's default branch "main" when no revision is given)."""
        return f"{self.repo_id}@{self.revision or 'main'}"


def status_code(error: BaseException) -> int | None:
    """Return the HTTP status of an `HfHubHTTPError`, else None."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def root_cause(error: BaseException) -> BaseException:
    """Return the error a `LocalEntryNotFoundError` wraps, or `error` itself.

    huggingface_hub raises `LocalEntryNotFoundError ... from <the HTTP or network error>` when a
    download cannot locate a file on the Hub and the cache does not have it either.
    """
    seen = 0
    while isinstance(error, LocalEntryNotFoundError) and error.__cause__ is not None and seen < 5:
        error = error.__cause__
        seen += 1
    return error


def is_transient(error: BaseException) -> bool:
    """Return whether another attempt may succeed: timeouts, dropped connections, 408, 429 and 5xx."""
    cause = root_cause(error)
    if isinstance(cause, (OfflineModeIsEnabled, IncompleteSnapshotError)):
        return False
    if isinstance(cause, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
        return True
    return isinstance(cause, HfHubHTTPError) and status_code(cause) in TRANSIENT_STATUS_CODES


def translate(error: BaseException, request: HubRequest, *, attempts: int, timeout_s: float) -> HubError:
    """Turn an exception from huggingface_hub or httpx2 into a one-line `HubError`."""
    where = f"{request.target} at {request.endpoint}"
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"

    if isinstance(error, IncompleteSnapshotError):
        return HubIncompleteError(
            f"the cached copy of {request.target} is incomplete (an interrupted download), and the Hub at "
            f"{request.endpoint} could not be asked for the rest; run `t2c pull {request.target}` with network access"
        )

    cause = root_cause(error)
    code = status_code(cause)

    if isinstance(cause, OfflineModeIsEnabled) or (request.offline and isinstance(error, LocalEntryNotFoundError)):
        return HubOfflineError(
            f"{request.target} is not in the local Hub cache and offline mode (HF_HUB_OFFLINE=1) forbids downloading it; "
            f"unset HF_HUB_OFFLINE and run `t2c pull {request.target}` once, or pass a local head folder"
        )

    if isinstance(cause, RevisionNotFoundError):
        return HubNotFoundError(
            f"revision {request.revision or 'main'} not found in Hub repo {request.repo_id} at {request.endpoint} "
            f"(HTTP {code}) while {request.action} it; pass an existing branch, tag or commit sha, such as {request.repo_id}@main"
        )

    if isinstance(cause, RemoteEntryNotFoundError):
        return HubNotAHeadError(
            f"Hub repo {where} lacks a file t2c needs (HTTP {code}); a t2c head has config.json and model.safetensors, "
            f"as `t2c push` uploads them"
        )

    if code in (401, 403):
        access = "write" if request.action.startswith("push") else "read"
        return HubAuthError(
            f"the Hub at {request.endpoint} rejected the credentials for {request.target} (HTTP {code}): the repo is private, "
            f"does not exist, or the token lacks {access} access; log in with `hf auth login` or set HF_TOKEN to a token "
            f"with {access} access to {request.repo_id.split('/')[0]}"
        )

    if isinstance(cause, RepositoryNotFoundError) or code == 404:
        return HubNotFoundError(
            f"Hub repo {request.repo_id} not found at {request.endpoint} (HTTP 404) while {request.action} {request.target}; "
            f"check the repo id and HF_ENDPOINT, or push a head there first with `t2c push HEAD_DIR {request.repo_id}`"
        )

    if isinstance(cause, httpx2.TimeoutException):
        return HubTimeoutError(
            f"request to the Hub at {request.endpoint} timed out after {timeout_s:g} s while {request.action} "
            f"{request.target} ({tries}); check the network, or raise the limit with T2C_HUB_TIMEOUT (seconds)"
        )

    if isinstance(cause, (httpx2.NetworkError, httpx2.RemoteProtocolError)):
        return HubConnectionError(
            f"cannot connect to the Hub at {request.endpoint} while {request.action} {request.target} "
            f"({type(cause).__name__}, {tries}); check the network and HF_ENDPOINT, or use a cached head with HF_HUB_OFFLINE=1"
        )

    if code is not None and code in TRANSIENT_STATUS_CODES:
        return HubServerError(
            f"the Hub at {request.endpoint} returned HTTP {code}{_server_detail(cause)} while {request.action} "
            f"{request.target} ({tries}); the Hub is down or rate-limiting, so try again later"
        )

    if code is not None:
        return HubError(
            f"the Hub at {request.endpoint} returned HTTP {code} while {request.action} {request.target}"
            f"{_server_detail(cause)}; check the repo id, the revision and the token"
        )

    return HubError(
        f"{request.action} {request.target} at {request.endpoint} failed: {type(cause).__name__}: "
        f"{_one_line(str(cause))}; run again with --debug for the traceback"
    )


def _server_detail(error: BaseException) -> str:
    message = getattr(error, "server_message", None)
    if not message:
        return ""
    return f" (server message: {_one_line(message)})"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return line
