"""Hub failures: each becomes a one-line HubError naming repo, revision and fix; transient ones
are retried without duplicate commits; every request has a timeout."""

import socket
import time

import httpx2
import pytest
from fake_hub import fake_hub_fixture, make_head  # noqa: F401 - provides the fixture `fake_hub`
from huggingface_hub import get_session

from t2c.errors import ConfigError, HubError, NotFoundError
from t2c.hub import pull_head, push_head
from t2c.hub_client import HubSettings, request_timeout
from t2c.hub_errors import (
    HubAuthError,
    HubConnectionError,
    HubNotFoundError,
    HubServerError,
    HubTimeoutError,
)

REPO = "t2c-test/head"


@pytest.fixture
def saved(tmp_path):
    return make_head(seed=1).save_pretrained(tmp_path / "head")


@pytest.fixture
def pushed(fake_hub, saved):
    return push_head(saved, REPO)


def check_one_line(error: HubError, *fragments: str) -> None:
    """Assert the message is one line and contains every fragment."""
    message = str(error)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


# Error mapping: pull.


def test_pull_missing_repo_raises_not_found(fake_hub):
    with pytest.raises(HubNotFoundError) as raised:
        pull_head("t2c-test/missing")

    assert isinstance(raised.value, NotFoundError)
    check_one_line(raised.value, "t2c-test/missing", "@main", "HTTP 404", fake_hub.url, "t2c push")


def test_pull_missing_revision_raises_not_found(fake_hub, pushed):
    with pytest.raises(HubNotFoundError) as raised:
        pull_head(f"{REPO}@v9")

    check_one_line(raised.value, "revision v9 not found", REPO, "pass an existing branch, tag or commit sha")


def test_pull_private_repo_without_token_raises_auth(fake_hub, saved, monkeypatch):
    push_head(saved, REPO, private=True)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")

    with pytest.raises(HubAuthError) as raised:
        pull_head(f"{REPO}@main")

    check_one_line(raised.value, "HTTP 401", f"{REPO}@main", "hf auth login", "HF_TOKEN", "read access")


def test_pull_server_error_raises_after_retries(fake_hub, pushed):
    fake_hub.fail("info", 500, times=100)
    before = fake_hub.count("info")

    with pytest.raises(HubServerError) as raised:
        pull_head(REPO, retries=2)

    check_one_line(raised.value, "HTTP 500", f"{REPO}@main", "3 attempts", "try again later")
    assert fake_hub.count("info") - before == 3


def test_pull_timeout_raises(fake_hub, pushed):
    fake_hub.stall("info", 5)
    started = time.monotonic()

    with pytest.raises(HubTimeoutError) as raised:
        pull_head(REPO, timeout_s=0.3, retries=1)

    assert time.monotonic() - started < 4
    check_one_line(raised.value, "timed out after 0.3 s", f"{REPO}@main", "2 attempts", "T2C_HUB_TIMEOUT")


def test_pull_tree_listing_gets_timeout(fake_hub, pushed):
    # huggingface_hub sends the tree listing with no timeout of its own and retries it after 1 s.
    fake_hub.stall("tree", 10, times=1)
    started = time.monotonic()

    pulled = pull_head(REPO, timeout_s=0.3, retries=0)

    assert time.monotonic() - started < 8
    assert fake_hub.count("tree") == 2
    assert pulled.commit_sha == pushed.commit_sha


def test_pull_connection_refused_raises(fake_hub, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(HubConnectionError) as raised:
        pull_head(REPO, endpoint=endpoint, retries=1)

    check_one_line(raised.value, endpoint, f"{REPO}@main", "HF_ENDPOINT", "2 attempts")


# Error mapping: push.


def test_push_bad_token_raises_auth(fake_hub, saved, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")

    with pytest.raises(HubAuthError) as raised:
        push_head(saved, REPO)

    check_one_line(raised.value, "HTTP 401", f"{REPO}@main", "write access", "hf auth login")
    assert REPO not in fake_hub.repos


def test_push_server_error_raises_after_retries(fake_hub, saved):
    fake_hub.fail("create", 500, times=100)

    with pytest.raises(HubServerError) as raised:
        push_head(saved, REPO, retries=1)

    check_one_line(raised.value, "HTTP 500", "pushing to", f"{REPO}@main", "2 attempts")
    assert fake_hub.count("create") == 2


def test_push_timeout_raises(fake_hub, saved):
    fake_hub.stall("create", 5)

    with pytest.raises(HubTimeoutError) as raised:
        push_head(saved, REPO, timeout_s=0.3, retries=0)

    check_one_line(raised.value, "0.3 s", "pushing to", REPO)


def test_stalled_commit_applied_late_makes_no_duplicate(fake_hub, saved):
    # The first commit request times out on the client, which commits again. The stalled request
    # proceeds later and must be rejected, because its parent is no longer the branch head.
    fake_hub.stall("commit", 2, times=1)

    result = push_head(saved, REPO, timeout_s=0.3, retries=0)
    time.sleep(2.5)

    history = fake_hub.history(REPO)
    assert len(history) == 2
    assert history[0].sha == result.commit_sha
    assert fake_hub.count("commit") == 2


def test_push_creates_repo_and_branch(fake_hub, saved):
    result = push_head(saved, REPO, revision="v1")

    assert fake_hub.repos[REPO].branches["v1"] == result.commit_sha


# Retries.


@pytest.mark.parametrize(("route", "times"), [("create", 2), ("branch", 2), ("info", 2), ("commit", 1), ("preupload", 1)])
def test_push_retries_transient_errors(fake_hub, saved, route, times):
    fake_hub.fail(route, 503, times=times)

    result = push_head(saved, REPO, revision="v1")

    assert fake_hub.history(REPO, "v1")[0].sha == result.commit_sha
    assert len(fake_hub.history(REPO, "v1")) == 2  # the repo's initial commit and one head commit


@pytest.mark.parametrize("status", [500, 503])
def test_lost_commit_answer_makes_no_duplicate(fake_hub, saved, status):
    fake_hub.fail("commit", status, times=1, after_apply=True)

    result = push_head(saved, REPO)

    history = fake_hub.history(REPO)
    assert len(history) == 2
    assert history[0].sha == result.commit_sha
    assert fake_hub.count("commit") == 2  # the commit that landed, and its repeat the Hub refused


@pytest.mark.parametrize(("route", "times"), [("info", 2), ("tree", 1)])
def test_pull_retries_transient_errors(fake_hub, pushed, route, times):
    fake_hub.fail(route, 503, times=times)

    pulled = pull_head(REPO, retries=2)

    assert pulled.commit_sha == pushed.commit_sha


def test_retry_after_header_is_honoured(fake_hub, pushed, monkeypatch):
    monkeypatch.setenv("T2C_HUB_BACKOFF", "5")
    fake_hub.fail("info", 429, times=1, retry_after="0")
    started = time.monotonic()

    pull_head(REPO, retries=1)

    assert time.monotonic() - started < 4


def test_permanent_errors_are_not_retried(fake_hub):
    with pytest.raises(HubNotFoundError):
        pull_head("t2c-test/missing", retries=3)

    assert fake_hub.count("info") == 1


# Timeouts on the shared client.


def test_request_timeout_applies_and_is_removed(fake_hub):
    fake_hub.stall("info", 5)
    url = f"{fake_hub.url}/api/models/{REPO}"

    with request_timeout(0.2), pytest.raises(httpx2.ReadTimeout):
        get_session().get(url)

    assert all(hook.__name__ != "fill_timeout" for hook in get_session().event_hooks["request"])


def test_request_timeout_keeps_explicit_limits():
    request = httpx2.Request("GET", "http://127.0.0.1:9/", extensions={"timeout": {"connect": 10, "read": None, "write": None, "pool": None}})

    with request_timeout(2.5):
        for hook in get_session().event_hooks["request"]:
            if hook.__name__ == "fill_timeout":
                hook(request)

    assert request.extensions["timeout"] == {"connect": 10, "read": 2.5, "write": 2.5, "pool": 2.5}


# Settings.


@pytest.mark.parametrize(
    ("variable", "value"),
    [("T2C_HUB_TIMEOUT", "soon"), ("T2C_HUB_TIMEOUT", "0"), ("T2C_HUB_RETRIES", "-1"), ("HF_ENDPOINT", "ftp://127.0.0.1")],
)
def test_invalid_settings_raise(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable if variable.startswith("T2C") else "HF_ENDPOINT"):
        HubSettings.from_env()


def test_settings_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1/")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("T2C_HUB_RETRIES", "0")

    settings = HubSettings.from_env()

    assert settings.endpoint == "http://127.0.0.1:1"
    assert settings.cache_dir == tmp_path / "hub"
    assert settings.offline
    assert settings.retries == 0
