"""Push heads to and pull them from a Hugging Face Hub with huggingface_hub's own client.

A Hub head repo contains `config.json` and `model.safetensors` as `save_pretrained` writes them,
plus a generated `README.md` (the model card). Pulls download into huggingface_hub's cache with
`snapshot_download`, which writes each file to a temporary name and renames it when complete.
Then they validate what arrived before anything uses it: both files present, the card's schema,
the sha256 of the weights, shapes against the card's dims, finite values, and the sha256 a
caller such as the zoo expects. Only safetensors and JSON are downloaded, never pickle files.

    push_head("heads/resnet50-to-clip", "org/resnet50-to-clip", revision="v1")
    pulled = pull_head("org/resnet50-to-clip@v1")      # pulled.head, pulled.folder, pulled.commit_sha
    head = resolve_head("hub:org/resnet50-to-clip@v1")  # also "zoo:ID" or a local folder

Settings (endpoint, cache, offline mode, timeout, retries) come from `t2c.hub_client.HubSettings`.
"""

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download

from t2c.errors import ConfigError, HeadError
from t2c.heads import CONFIG_NAME, HUB_ID_PATTERN, WEIGHTS_NAME, Head
from t2c.hub_client import HubSettings, call_with_retries
from t2c.hub_errors import HubNotAHeadError, HubOfflineError, HubRequest
from t2c.modelcard import DEFAULT_LICENSE, render_model_card

log = logging.getLogger("t2c.hub")

README_NAME = "README.md"
PULLED_FILES = [CONFIG_NAME, WEIGHTS_NAME, README_NAME]  # everything else in a repo is left on the Hub
HUB_PREFIX = "hub:"
ZOO_PREFIX = "zoo:"
COMMIT_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
HTTP_PRECONDITION_FAILED = 412  # the Hub's response to a commit whose parent is no longer the branch head


@dataclass(frozen=True)
class PushResult:
    """Result of a push: repo, branch and the commit that now contains the head."""

    repo_id: str
    revision: str
    commit_sha: str
    commit_url: str


@dataclass(frozen=True)
class PulledHead:
    """A validated head from the Hub and the cache folder (a snapshot) it was loaded from."""

    head: Head
    folder: Path
    repo_id: str
    revision: str | None  # as requested; None means the default branch
    commit_sha: str


def parse_hub_spec(spec: str) -> tuple[str, str | None]:
    """Split "org/name@rev" (optionally prefixed "hub:") into repo id and revision (None when absent)."""
    text = spec.removeprefix(HUB_PREFIX)
    repo_id, separator, revision = text.partition("@")

    if not HUB_ID_PATTERN.match(repo_id):
        raise ConfigError(
            f"Hub repo id {repo_id!r} (from {spec!r}) is invalid; write org/name or org/name@revision, "
            "such as org/resnet50-to-clip@main"
        )
    if separator and not revision.strip():
        raise ConfigError(f"{spec!r} has an empty revision after '@'; write org/name@BRANCH, org/name@TAG or org/name@COMMIT_SHA")
    return repo_id, revision if separator else None


def push_head(
    head: Head | str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    license: str = DEFAULT_LICENSE,
    token: str | bool | None = None,
    endpoint: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
) -> PushResult:
    """Upload a head (a `Head` or a folder written by `save_pretrained`) to a Hub model repo.

    Creates the repo and the branch `revision` when they do not exist. A new repo is private when
    `private` is set, and an existing repo keeps its visibility. Then config.json,
    model.safetensors and a generated README.md go up in one commit, after the head is validated.
    Files already on the Hub with the same content are skipped, so pushing an unchanged head makes
    no new commit.

    Returns:
        The branch and the sha of the commit holding the head; pin that sha to pull exactly it.
    """
    repo_id, spec_revision = parse_hub_spec(repo_id)
    revision = _merge_revision(revision, spec_revision, repo_id)
    if revision is not None and COMMIT_SHA_PATTERN.match(revision):
        raise ConfigError(f"cannot push to commit {revision}; --revision takes a branch name, such as main or v1")

    settings = HubSettings.from_env(endpoint=endpoint, timeout_s=timeout_s, retries=retries, token=token)
    request = HubRequest("pushing to", repo_id, revision, settings.endpoint)
    if settings.offline:
        raise HubOfflineError(f"cannot push to {request.target} while offline mode (HF_HUB_OFFLINE=1) is on; unset HF_HUB_OFFLINE")

    api = settings.api()
    with tempfile.TemporaryDirectory(prefix="t2c-push-") as staging_name:
        staging = Path(staging_name)
        card = _stage_head(head, staging)
        readme = render_model_card(card, repo_id, license=license, revision=revision)
        (staging / README_NAME).write_text(readme, encoding="utf-8")
        message = commit_message or f"Upload t2c head {card.encoder.id} -> {card.target.id} ({card.aligner.kind})"

        log.info("pushing head %s -> %s to %s at %s", card.encoder.id, card.target.id, request.target, settings.endpoint)
        call_with_retries(lambda: api.create_repo(repo_id, private=private, exist_ok=True), request, settings)
        if revision not in (None, "main"):
            call_with_retries(lambda: api.create_branch(repo_id, branch=revision, exist_ok=True), request, settings)

        def commit_head():
            # The commit names the branch head it builds on. huggingface_hub 2.4 sends a commit
            # again when the response to it was lost, and the Hub then rejects the repeat with
            # HTTP 412 instead of committing twice. t2c retries on 412 from the new head, where
            # the upload skips the files the landed commit already contains and makes no commit.
            parent = api.model_info(repo_id, revision=revision or "main", timeout=settings.timeout_s).sha
            return api.upload_folder(
                folder_path=staging,
                repo_id=repo_id,
                revision=revision,
                commit_message=message,
                allow_patterns=PULLED_FILES,
                parent_commit=parent,
            )

        commit = call_with_retries(commit_head, request, settings, retry_statuses=frozenset({HTTP_PRECONDITION_FAILED}))

    log.info("pushed %s: commit %s", request.target, commit.oid)
    return PushResult(repo_id=repo_id, revision=revision or "main", commit_sha=commit.oid, commit_url=commit.commit_url)


def pull_head(
    spec: str,
    revision: str | None = None,
    *,
    expected_sha256: str | None = None,
    force_download: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
) -> PulledHead:
    """Download a head into the Hub cache, validate it, and load it.

    Args:
        spec: "org/name", "org/name@rev" or "hub:org/name@rev"; rev is a branch, tag or commit sha.
        revision: the revision, when `spec` does not carry one.
        expected_sha256: sha256 of model.safetensors the caller trusts (a zoo card's); a
            different file raises `HubNotAHeadError`.
        force_download: download again even when the cache has the files (repairs a damaged cache).

    With HF_HUB_OFFLINE=1 nothing is requested: the head comes from the cache, else
    `HubOfflineError` is raised with the command to pull it once online. A branch or tag resolves, offline, to the
    commit it pointed to at the last online pull.
    """
    repo_id, spec_revision = parse_hub_spec(spec)
    revision = _merge_revision(revision, spec_revision, repo_id)
    settings = HubSettings.from_env(endpoint=endpoint, cache_dir=cache_dir, timeout_s=timeout_s, retries=retries, token=token)
    request = HubRequest("pulling", repo_id, revision, settings.endpoint, offline=settings.offline)

    def download() -> str:
        return snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=settings.cache_dir,
            endpoint=settings.endpoint,
            token=settings.token,
            local_files_only=settings.offline,
            allow_patterns=PULLED_FILES,
            etag_timeout=settings.timeout_s,
            force_download=force_download,
            library_name="t2c",
        )

    log.info("pulling %s from %s%s", request.target, settings.endpoint, " (offline: cache only)" if settings.offline else "")
    folder = Path(call_with_retries(download, request, settings))
    commit_sha = folder.name
    head = _validate_pulled(folder, request, commit_sha, expected_sha256)

    log.info("pulled %s (commit %s) into %s", request.target, commit_sha, folder)
    return PulledHead(head=head, folder=folder, repo_id=repo_id, revision=revision, commit_sha=commit_sha)


def resolve_head(spec: str | os.PathLike) -> Head:
    """Load the head a `--head` value names: "hub:org/name[@rev]", "zoo:ID", or a local folder.

    A string that is not an existing path but reads "org/name" or "org/name@rev" is pulled from
    the Hub, like "hub:org/name@rev". Every form is validated before it is returned.
    """
    if isinstance(spec, os.PathLike):
        return Head.from_pretrained(spec)

    if spec.startswith(HUB_PREFIX):
        return pull_head(spec).head

    if spec.startswith(ZOO_PREFIX):
        from t2c.zoo import (
            load_zoo_head,  # the zoo pulls through this module, so import it late
        )

        return load_zoo_head(spec[len(ZOO_PREFIX):])

    if not Path(spec).expanduser().exists() and "@" in spec and HUB_ID_PATTERN.match(spec.partition("@")[0]):
        return pull_head(spec).head

    return Head.from_pretrained(spec)


def hub_head_folder(repo_id: str, revision: str | None = None) -> Path:
    """Return the validated cache folder of a Hub head, pulling it when needed (for `Head.from_pretrained`)."""
    return pull_head(repo_id, revision).folder


# Steps of push and pull.


def _stage_head(head: Head | str | os.PathLike, staging: Path):
    """Write the head's two files into `staging`, validate them there, and return the head's card.

    A folder is copied byte for byte, so the weights on the Hub keep the sha256 its card records.
    """
    if isinstance(head, Head):
        head.save_pretrained(staging)
    else:
        source = Path(head).expanduser()
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (source / name).is_file():
                raise HeadError(f"{source} has no {name}; push a folder written by save_pretrained or `t2c align --output`")
            (staging / name).write_bytes((source / name).read_bytes())

    return Head.from_pretrained(staging).card


def _validate_pulled(folder: Path, request: HubRequest, commit_sha: str, expected_sha256: str | None) -> Head:
    """Load the head in a downloaded snapshot; raise `HubNotAHeadError` when anything is wrong."""
    where = f"{request.repo_id}@{commit_sha}"

    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    if missing:
        raise HubNotAHeadError(
            f"Hub repo {where} at {request.endpoint} has no {' or '.join(missing)}; a t2c head has {CONFIG_NAME} and "
            f"{WEIGHTS_NAME} (t2c loads safetensors only, never pickle files); push one with `t2c push HEAD_DIR {request.repo_id}`"
        )

    try:
        head = Head.from_pretrained(folder)
    except HeadError as error:
        raise HubNotAHeadError(
            f"the head pulled from {where} failed validation and is not used ({error}); if the repo is fine, the cache "
            f"copy is damaged: run `t2c pull {request.target} --force-download`"
        ) from None

    if expected_sha256 is not None:
        actual = hashlib.sha256((folder / WEIGHTS_NAME).read_bytes()).hexdigest()
        if actual != expected_sha256:
            raise HubNotAHeadError(
                f"{WEIGHTS_NAME} pulled from {where} has sha256 {actual}, but {expected_sha256} was expected; "
                "the repo holds other weights than the zoo card records, so pin the card's revision or update the card"
            )
    return head


def _merge_revision(revision: str | None, spec_revision: str | None, repo_id: str) -> str | None:
    if revision is not None and spec_revision is not None and revision != spec_revision:
        raise ConfigError(
            f"two revisions for {repo_id}: {spec_revision!r} after '@' and {revision!r} as revision; pass only one"
        )
    if revision is not None and not revision.strip():
        raise ConfigError(f"revision for {repo_id} is empty; pass a branch, tag or commit sha, or leave it out for main")
    return revision if revision is not None else spec_revision
