"""Hub calls: settings read at call time, a timeout on every request, and retries.

huggingface_hub 2.4 reads `HF_ENDPOINT`, `HF_HUB_CACHE` and `HF_HUB_OFFLINE` once, when it is
imported. t2c reads them again on every call and passes endpoint, cache folder and offline mode
explicitly, so changing the environment later (a test, a long-lived process) takes effect.

Environment:
    HF_ENDPOINT       Hub address (default https://huggingface.co).
    HF_HUB_CACHE      download cache (default $HF_HOME/hub, else huggingface_hub's default).
    HF_HUB_OFFLINE    1 serves heads from the cache only and sends no request.
    T2C_HUB_TIMEOUT   seconds one request may wait for a response (default 30).
    T2C_HUB_RETRIES   further attempts after a transient failure (default 3).
    T2C_HUB_BACKOFF   seconds before the first retry, doubled on each next one (default 1).
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi, constants, get_session, is_offline_mode

from t2c.errors import ConfigError
from t2c.hub_errors import HubRequest, is_transient, root_cause, status_code, translate

log = logging.getLogger("t2c.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 1.0
MAX_RETRY_AFTER_S = 60.0  # a server's Retry-After above this is capped
TRUE_VALUES = {"1", "on", "yes", "true"}  # as huggingface_hub parses boolean variables

Result = TypeVar("Result")


@dataclass(frozen=True)
class HubSettings:
    """Hub endpoint, cache folder, offline mode, timeout and retries; `from_env` fills unset fields."""

    endpoint: str
    cache_dir: Path
    offline: bool
    timeout_s: float
    retries: int
    backoff_s: float
    token: str | bool | None = None  # None: huggingface_hub's own lookup (HF_TOKEN, then the saved login)

    @classmethod
    def from_env(
        cls,
        *,
        endpoint: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        timeout_s: float | None = None,
        retries: int | None = None,
        token: str | bool | None = None,
    ) -> "HubSettings":
        """Build settings from the arguments given, then the environment, then the defaults."""
        endpoint = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        endpoint = endpoint.rstrip("/")
        if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
            raise ConfigError(f"Hub endpoint {endpoint!r} is not an http(s) URL; set HF_ENDPOINT to an address such as {DEFAULT_ENDPOINT}")

        return cls(
            endpoint=endpoint,
            cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else hub_cache_dir(),
            offline=offline_mode(),
            timeout_s=_positive(timeout_s, "timeout_s", "T2C_HUB_TIMEOUT", DEFAULT_TIMEOUT_S, float),
            retries=_positive(retries, "retries", "T2C_HUB_RETRIES", DEFAULT_RETRIES, int, allow_zero=True),
            backoff_s=_positive(None, "backoff_s", "T2C_HUB_BACKOFF", DEFAULT_BACKOFF_S, float, allow_zero=True),
            token=token,
        )

    def api(self) -> HfApi:
        """Return an `HfApi` on this endpoint, identifying t2c in the user agent."""
        return HfApi(endpoint=self.endpoint, token=self.token, library_name="t2c", library_version=_t2c_version())


def hub_cache_dir() -> Path:
    """Return the Hub download cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else huggingface_hub's default."""
    configured = os.environ.get("HF_HUB_CACHE")
    if configured:
        return Path(configured).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def offline_mode() -> bool:
    """Return whether HF_HUB_OFFLINE is set now or was set when huggingface_hub was imported."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in TRUE_VALUES or is_offline_mode()


@contextlib.contextmanager
def request_timeout(timeout_s: float) -> Iterator[None]:
    """Give every request sent through huggingface_hub's shared client a timeout inside the block.

    huggingface_hub 2.4 builds its shared httpx2 client with `timeout=None`, and sends
    `create_repo`, the preupload, the commit, `repo_info` and the tree listing with no timeout
    of their own, so a stalled server would block them forever. A request hook sets `timeout_s`
    for every phase (connect, read, write, pool) that has no limit. Limits a request sets itself,
    such as the 10 s of file downloads, stay. The hook is removed on exit.
    """
    # NOTE: after a connection error inside its own retry loop, huggingface_hub closes and
    # rebuilds the shared client, and the rebuilt client has no hook until the next t2c attempt.
    def fill_timeout(request: httpx2.Request) -> None:
        limits = dict(request.extensions.get("timeout") or {})
        for phase in ("connect", "read", "write", "pool"):
            if limits.get(phase) is None:
                limits[phase] = timeout_s
        request.extensions = {**request.extensions, "timeout": limits}

    session = get_session()
    hooks = dict(session.event_hooks)
    hooks["request"] = [*hooks.get("request", []), fill_timeout]
    session.event_hooks = hooks
    try:
        yield
    finally:
        hooks = dict(session.event_hooks)
        hooks["request"] = [hook for hook in hooks.get("request", []) if hook is not fill_timeout]
        session.event_hooks = hooks


def call_with_retries(
    call: Callable[[], Result],
    request: HubRequest,
    settings: HubSettings,
    *,
    retry_statuses: frozenset[int] = frozenset(),
) -> Result:
    """Run `call` with a request timeout, retrying transient failures; raise a `HubError` otherwise.

    Retries 408, 429, 5xx, timeouts, dropped connections and the HTTP statuses in `retry_statuses`
    up to `settings.retries` times, waiting `backoff_s`, then twice as long each time, or the
    server's Retry-After when it sends one. Only calls that are safe to repeat may come here.
    """
    attempt = 1
    while True:
        try:
            with request_timeout(settings.timeout_s):
                return call()
        except Exception as error:
            retryable = is_transient(error) or status_code(root_cause(error)) in retry_statuses
            if attempt > settings.retries or not retryable:
                raise translate(error, request, attempts=attempt, timeout_s=settings.timeout_s) from error

            delay = _retry_delay(error, settings.backoff_s, attempt)
            log.warning(
                "%s %s failed (%s); retry %d of %d in %.1f s",
                request.action, request.target, _describe(error), attempt, settings.retries, delay,
            )
            time.sleep(delay)
            attempt += 1


def _retry_delay(error: BaseException, backoff_s: float, attempt: int) -> float:
    response = getattr(root_cause(error), "response", None)
    retry_after = response.headers.get("Retry-After", "").strip() if response is not None else ""
    if retry_after.isdigit():
        return min(float(retry_after), MAX_RETRY_AFTER_S)
    return backoff_s * 2 ** (attempt - 1)


def _describe(error: BaseException) -> str:
    cause = root_cause(error)
    response = getattr(cause, "response", None)
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(cause).__name__


def _positive(value, argument: str, variable: str, default, kind, *, allow_zero: bool = False):
    """Return `value`, else the environment variable parsed as `kind`, else `default`; check the sign."""
    source = f"argument {argument}"
    if value is None:
        text = os.environ.get(variable)
        if not text:
            return default
        source = variable
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"{variable}={text!r} is not a number; set it to a {kind.__name__} such as {default}") from None

    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{source} is {value!r}, expected a number {bound}")
    return value


def _t2c_version() -> str:
    from t2c import __version__

    return __version__
