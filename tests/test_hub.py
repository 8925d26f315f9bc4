"""Push and pull heads against the loopback Hub: round trips, pinned revisions, branches, the
offline cache, head specs, and what a pull refuses to use."""

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fake_hub import TOKEN, FakeHub, fake_hub_fixture, make_head  # noqa: F401 - provides the fixture `fake_hub`
from huggingface_hub import HfApi

from t2c.errors import ConfigError, HeadError, HubError, OfflineError
from t2c.heads import CONFIG_NAME, WEIGHTS_NAME, Head
from t2c.hub import parse_hub_spec, pull_head, push_head, resolve_head
from t2c.hub_errors import HubIncompleteError, HubNotAHeadError, HubOfflineError

REPO = "t2c-test/resnet50-to-clip"


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Return the bytes of a head folder's two files."""
    return {name: (folder / name).read_bytes() for name in (CONFIG_NAME, WEIGHTS_NAME)}


def go_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def saved(tmp_path):
    return make_head(seed=1).save_pretrained(tmp_path / "head-v1")


@pytest.fixture
def saved_v2(tmp_path):
    return make_head(seed=2).save_pretrained(tmp_path / "head-v2")


# Specs.


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("org/name", ("org/name", None)),
        ("org/name@main", ("org/name", "main")),
        ("hub:org/name@v1", ("org/name", "v1")),
        ("org/name@" + "a" * 40, ("org/name", "a" * 40)),
    ],
)
def test_parse_hub_spec(spec, expected):
    assert parse_hub_spec(spec) == expected


@pytest.mark.parametrize("spec", ["name-only", "org/name@", "org/na me", "/org/name"])
def test_parse_hub_spec_rejects(spec):
    with pytest.raises(ConfigError):
        parse_hub_spec(spec)


# Round trips.


def test_push_then_pull_is_byte_identical(fake_hub, saved):
    result = push_head(saved, REPO)
    pulled = pull_head(REPO)

    assert pulled.commit_sha == result.commit_sha
    assert len(result.commit_sha) == 40
    assert folder_bytes(pulled.folder) == folder_bytes(saved)
    assert {name: fake_hub.files(REPO)[name] for name in (CONFIG_NAME, WEIGHTS_NAME)} == folder_bytes(saved)


def test_pull_goes_through_hub_cache(fake_hub, saved, tmp_path):
    push_head(saved, REPO)
    pulled = pull_head(REPO)

    cache = Path(os.environ["HF_HUB_CACHE"])
    assert pulled.folder == cache / "models--t2c-test--resnet50-to-clip" / "snapshots" / pulled.commit_sha
    assert (cache / "models--t2c-test--resnet50-to-clip" / "refs" / "main").read_text() == pulled.commit_sha


def test_push_to_hub_from_head(fake_hub):
    head = make_head(seed=3)

    result = head.push_to_hub(REPO, commit_message="first head")
    loaded = Head.from_pretrained(REPO)

    assert fake_hub.history(REPO)[0].message == "first head"
    assert result.revision == "main"
    np.testing.assert_array_equal(loaded.coef, head.coef)
    np.testing.assert_array_equal(loaded.target_mean, head.target_mean)


def test_push_uploads_three_files(fake_hub, saved):
    (saved / "notes.txt").write_text("not part of a head")

    push_head(saved, REPO)

    assert sorted(fake_hub.files(REPO)) == sorted([".gitattributes", CONFIG_NAME, "README.md", WEIGHTS_NAME])


def test_unchanged_push_makes_no_commit(fake_hub, saved):
    first = push_head(saved, REPO)
    second = push_head(saved, REPO)

    assert second.commit_sha == first.commit_sha
    assert len(fake_hub.history(REPO)) == 2  # the repo's initial commit and the head


def test_private_push_creates_private_repo(fake_hub, saved):
    push_head(saved, REPO, private=True)

    assert fake_hub.repos[REPO].private


def test_push_rejects_invalid_head(fake_hub, saved):
    (saved / WEIGHTS_NAME).write_bytes((saved / WEIGHTS_NAME).read_bytes()[:-8])

    with pytest.raises(HeadError):
        push_head(saved, REPO)

    assert fake_hub.count("commit") == 0


def test_push_refuses_commit_sha_revision(fake_hub, saved):
    with pytest.raises(ConfigError, match="branch name"):
        push_head(saved, REPO, revision="0" * 40)


def test_push_refuses_offline(fake_hub, saved, monkeypatch):
    go_offline(monkeypatch)

    with pytest.raises(HubOfflineError, match="HF_HUB_OFFLINE"):
        push_head(saved, REPO)

    assert fake_hub.count() == 0


# Revisions.


def test_pinned_revision_pulls_old_head(fake_hub, saved, saved_v2):
    first = push_head(saved, REPO)
    second = push_head(saved_v2, REPO)

    old = pull_head(f"{REPO}@{first.commit_sha}")
    new = pull_head(REPO)

    assert first.commit_sha != second.commit_sha
    assert folder_bytes(old.folder) == folder_bytes(saved)
    assert folder_bytes(new.folder) == folder_bytes(saved_v2)


def test_from_pretrained_with_revision(fake_hub, saved, saved_v2):
    first = push_head(saved, REPO)
    push_head(saved_v2, REPO)

    head = Head.from_pretrained(REPO, revision=first.commit_sha)

    np.testing.assert_array_equal(head.coef, Head.from_pretrained(saved).coef)


def test_push_to_branch(fake_hub, saved, saved_v2):
    main = push_head(saved, REPO)
    branch = push_head(saved_v2, REPO, revision="experiment")

    assert branch.revision == "experiment"
    assert fake_hub.repos[REPO].branches["main"] == main.commit_sha
    assert fake_hub.repos[REPO].branches["experiment"] == branch.commit_sha
    assert folder_bytes(pull_head(f"{REPO}@experiment").folder) == folder_bytes(saved_v2)


def test_revision_twice_raises(fake_hub):
    with pytest.raises(ConfigError, match="two revisions"):
        pull_head(f"{REPO}@main", revision="v1")


# The offline cache.


def test_offline_pull_sends_no_request(fake_hub, saved, monkeypatch):
    push_head(saved, REPO)
    online = pull_head(REPO)
    requests_before = fake_hub.count()

    go_offline(monkeypatch)
    offline = pull_head(REPO)

    assert fake_hub.count() == requests_before
    assert offline.folder == online.folder
    assert folder_bytes(offline.folder) == folder_bytes(saved)


def test_offline_pull_works_with_server_stopped(fake_hub, saved, saved_v2, monkeypatch):
    first = push_head(saved, REPO)
    push_head(saved_v2, REPO)
    pull_head(f"{REPO}@{first.commit_sha}")
    pull_head(REPO)
    fake_hub.stop()

    go_offline(monkeypatch)

    assert folder_bytes(pull_head(f"{REPO}@{first.commit_sha}").folder) == folder_bytes(saved)
    assert folder_bytes(pull_head(REPO).folder) == folder_bytes(saved_v2)
    assert Head.from_pretrained(REPO).card.weights_sha256 == Head.from_pretrained(saved_v2).card.weights_sha256


def test_offline_pull_of_uncached_head_raises(fake_hub, monkeypatch):
    go_offline(monkeypatch)

    with pytest.raises(HubOfflineError) as raised:
        pull_head(f"{REPO}@v1")

    message = str(raised.value)
    assert isinstance(raised.value, OfflineError)
    assert f"{REPO}@v1" in message
    assert "t2c pull" in message
    assert "\n" not in message
    assert fake_hub.count() == 0


def test_from_pretrained_offline_without_cache_raises(fake_hub, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    go_offline(monkeypatch)

    with pytest.raises(HubOfflineError, match=r"t2c-test/resnet50-to-clip@main is not in the local Hub cache"):
        Head.from_pretrained(REPO)


# Head specs for --head.


def test_resolve_head_forms(fake_hub, saved, saved_v2, monkeypatch, tmp_path):
    first = push_head(saved, REPO)
    push_head(saved_v2, REPO)
    monkeypatch.chdir(tmp_path)
    expected_old = Head.from_pretrained(saved).card.weights_sha256
    expected_new = Head.from_pretrained(saved_v2).card.weights_sha256

    assert resolve_head(f"hub:{REPO}@{first.commit_sha}").card.weights_sha256 == expected_old
    assert resolve_head(f"{REPO}@{first.commit_sha}").card.weights_sha256 == expected_old
    assert resolve_head(f"hub:{REPO}").card.weights_sha256 == expected_new
    assert resolve_head(REPO).card.weights_sha256 == expected_new
    assert resolve_head(str(saved)).card.weights_sha256 == expected_old
    assert resolve_head(saved).card.weights_sha256 == expected_old


def test_local_folder_wins_over_hub(fake_hub, saved, monkeypatch, tmp_path):
    make_head(seed=9).save_pretrained(tmp_path / "t2c-test" / "resnet50-to-clip")
    monkeypatch.chdir(tmp_path)

    head = resolve_head(REPO)

    assert head.card.fit_data.n_samples == 109
    assert fake_hub.count() == 0


# What a pull refuses to use.


def upload_raw(files: dict[str, bytes], repo_id: str = REPO) -> str:
    """Commit `files` as they are (no validation) with huggingface_hub, as a foreign publisher would."""
    from huggingface_hub import CommitOperationAdd

    api = HfApi(endpoint=os.environ["HF_ENDPOINT"], token=TOKEN)
    api.create_repo(repo_id, exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=content) for name, content in files.items()]
    return api.create_commit(repo_id, operations=operations, commit_message="raw upload").oid


def test_pickle_only_repo_is_not_downloaded(fake_hub, saved):
    upload_raw({CONFIG_NAME: (saved / CONFIG_NAME).read_bytes(), "pytorch_model.bin": b"\x80\x04pickle"})

    with pytest.raises(HubNotAHeadError, match="safetensors only") as raised:
        pull_head(REPO)

    cache = Path(os.environ["HF_HUB_CACHE"])
    assert not list(cache.rglob("pytorch_model.bin"))
    assert REPO in str(raised.value)


def test_tampered_weights_on_hub_raise(fake_hub, saved):
    weights = bytearray((saved / WEIGHTS_NAME).read_bytes())
    weights[-1] ^= 0xFF
    upload_raw({CONFIG_NAME: (saved / CONFIG_NAME).read_bytes(), WEIGHTS_NAME: bytes(weights)})

    with pytest.raises(HubNotAHeadError, match="failed validation and is not used") as raised:
        pull_head(REPO)

    assert isinstance(raised.value, HeadError)
    assert "sha256" in str(raised.value)


def test_expected_sha256_mismatch_raises(fake_hub, saved):
    push_head(saved, REPO)

    with pytest.raises(HubNotAHeadError, match="was expected"):
        pull_head(REPO, expected_sha256="0" * 64)


def test_damaged_cache_fails_then_force_download_repairs(fake_hub, saved, monkeypatch):
    push_head(saved, REPO)
    pulled = pull_head(REPO)
    blob = (pulled.folder / WEIGHTS_NAME).resolve()
    blob.write_bytes(blob.read_bytes()[:-4] + b"\x00\x00\x00\x00")

    with pytest.raises(HubNotAHeadError, match="--force-download"):
        pull_head(REPO)

    repaired = pull_head(REPO, force_download=True)
    assert folder_bytes(repaired.folder) == folder_bytes(saved)


def test_cut_download_resumes_byte_identical(fake_hub, saved):
    push_head(saved, REPO)
    fake_hub.cut_body(WEIGHTS_NAME)

    pulled = pull_head(REPO)

    assert folder_bytes(pulled.folder) == folder_bytes(saved)
    assert fake_hub.count("resolve", "GET") == 4  # README, config, weights cut short, weights resumed


def test_download_error_leaves_nothing_usable(fake_hub, saved, monkeypatch):
    push_head(saved, REPO)
    fake_hub.fail("resolve", 500, times=100, method="GET", file=WEIGHTS_NAME)

    with pytest.raises(HubError):
        pull_head(REPO, retries=0)

    go_offline(monkeypatch)
    with pytest.raises(HubIncompleteError, match="incomplete"):
        pull_head(REPO)
    with pytest.raises(HubIncompleteError):
        Head.from_pretrained(REPO)


KILLED_PULL = textwrap.dedent(
    """
    from t2c.hub import pull_head
    pull_head({repo!r})
    """
)


def test_killed_pull_leaves_nothing_usable(fake_hub, saved, monkeypatch):
    push_head(saved, REPO)
    fake_hub.hold_body(WEIGHTS_NAME)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    process = subprocess.Popen([sys.executable, "-c", KILLED_PULL.format(repo=REPO)], env=env)
    try:
        assert fake_hub.half_sent.wait(60), "the pull never reached the weights"
    finally:
        process.kill()
        process.wait()

    cache = Path(os.environ["HF_HUB_CACHE"])
    snapshots = list(cache.glob("models--*/snapshots/*"))
    assert all(not (snapshot / WEIGHTS_NAME).exists() for snapshot in snapshots)

    go_offline(monkeypatch)
    with pytest.raises(HubError):
        pull_head(REPO)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    fake_hub.held_file = None
    assert folder_bytes(pull_head(REPO).folder) == folder_bytes(saved)


def test_sha256_in_card_matches_pulled_weights(fake_hub, saved):
    push_head(saved, REPO)
    pulled = pull_head(REPO)

    actual = hashlib.sha256((pulled.folder / WEIGHTS_NAME).read_bytes()).hexdigest()
    assert pulled.head.card.weights_sha256 == actual


def test_fixture_endpoint_is_loopback(fake_hub):
    from t2c.hub_client import HubSettings

    assert HubSettings.from_env().endpoint.startswith("http://127.0.0.1:")
    assert isinstance(fake_hub, FakeHub)
