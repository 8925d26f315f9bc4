"""A Hub-compatible HTTP server on 127.0.0.1 for tests, and the pytest fixture that points t2c at it.

It speaks the endpoints huggingface_hub 2.4 calls to push and pull a model repo, keeping repos,
commits (40-hex shas), branches and files in memory:

    POST /api/repos/create                          create a repo (409 with its url when it exists)
    POST /api/validate-yaml                         README metadata check (YAML must parse to a mapping)
    POST /api/models/{repo}/preupload/{rev}         every file "regular", with the current blob oid
    POST /api/models/{repo}/commit/{rev}            ndjson: header, file (base64), deletedFile
    POST /api/models/{repo}/branch/{branch}         create a branch from main (409 when it exists)
    GET  /api/models/{repo}[/revision/{rev}]        repo info with the commit sha
    GET  /api/models/{repo}/tree/{rev}              file list with sizes and blob oids
    HEAD|GET /{repo}/resolve/{rev}/{path}           file with X-Repo-Commit, ETag, Content-Length; Range
    GET  /api/agent-harnesses                       an empty list (huggingface_hub fetches it once a day)

Tests inject failures per route ("create", "validate", "preupload", "commit", "branch", "info",
"tree", "resolve"). A failure is an HTTP status for the next N requests, optionally sent after a
commit was applied, as when the response is lost. Tests can also stall a route past the client's
timeout, cut a file's body short, or stop a body half-sent until the test releases it. Every
request is recorded in `requests`.
"""

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest
import yaml

TOKEN = "hf_t2cTestTokenForTheLoopbackHub"  # the token the fixture's server accepts, set as HF_TOKEN
ROUTES = ("create", "validate", "preupload", "commit", "branch", "info", "tree", "resolve", "agents")


def git_blob_sha1(content: bytes) -> str:
    """Return git's blob id of `content`, the oid the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """Return the commit a branch name or commit sha names, or None."""
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)


@dataclass
class Failure:
    route: str
    status: int
    remaining: int
    after_apply: bool  # a commit is stored before the error response, as when a response is lost
    retry_after: str | None
    method: str | None  # None: any method
    file: str | None  # for "resolve": only requests of this file; None: any


@dataclass
class Recorded:
    method: str
    route: str
    path: str


class FakeHub:
    """In-memory Hub. `token`: the bearer token writes and private reads need (None: no checks)."""

    def __init__(self, token: str | None = TOKEN):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.stalls: dict[str, list] = {}  # route -> [seconds, requests left to stall (None: all)]
        self.cut_bodies: dict[str, int] = {}  # file path -> GETs to cut short
        self.held_file: str | None = None  # file whose GET sends half, then waits for `release`
        self.half_sent = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._commit_counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle.

    def start(self) -> "FakeHub":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # Test controls.

    def fail(
        self,
        route: str,
        status: int = 503,
        times: int = 1,
        *,
        after_apply: bool = False,
        retry_after: str | None = None,
        method: str | None = None,
        file: str | None = None,
    ) -> None:
        """Respond with `status` to the next `times` requests of `route` (optionally only `method`, only `file`)."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")
        self.failures.append(Failure(route, status, times, after_apply, retry_after, method, file))

    def stall(self, route: str, seconds: float, times: int | None = None) -> None:
        """Wait `seconds` before handling the next `times` requests of `route` (None: every request)."""
        self.stalls[route] = [seconds, times]

    def cut_body(self, path: str, times: int = 1) -> None:
        """Send only half of file `path` on its next `times` GETs, then close the connection."""
        self.cut_bodies[path] = times

    def hold_body(self, path: str) -> None:
        """Send half of file `path`, set `half_sent`, and wait for `release` (or stop) to close."""
        self.held_file = path

    def count(self, route: str | None = None, method: str | None = None) -> int:
        """Return how many requests matched `route` and `method` (None matches any)."""
        return sum(
            1 for record in self.requests
            if (route is None or record.route == route) and (method is None or record.method == method)
        )

    def history(self, repo_id: str, branch: str = "main") -> list[Commit]:
        """Return the commits of `branch`, newest first."""
        repo = self.repos[repo_id]
        commits = []
        sha = repo.branches.get(branch)
        while sha is not None:
            commits.append(repo.commits[sha])
            sha = repo.commits[sha].parent
        return commits

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """Return the files of `repo_id` at a branch or commit."""
        return dict(self.repos[repo_id].resolve(revision).files)

    # State changes, called by the handler under the lock.

    def _take_failure(self, route: str, phase: str, method: str = "POST", path: str = "") -> Failure | None:
        for failure in self.failures:
            if (
                failure.route == route
                and failure.remaining > 0
                and failure.after_apply == (phase == "after")
                and failure.method in (None, method)
                and (failure.file is None or urlsplit(path).path.endswith("/" + failure.file))
            ):
                failure.remaining -= 1
                return failure
        return None

    def _new_commit(self, repo: Repo, parent: str | None, message: str, files: dict[str, bytes]) -> Commit:
        self._commit_counter += 1
        seed = f"{repo.repo_id}\n{parent}\n{message}\n{self._commit_counter}\n{time.time_ns()}".encode()
        for path in sorted(files):
            seed += path.encode() + git_blob_sha1(files[path]).encode()
        commit = Commit(sha=hashlib.sha1(seed).hexdigest(), parent=parent, message=message, files=files)
        repo.commits[commit.sha] = commit
        return commit


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output clean
        pass

    # Dispatch.

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        parts = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
        route, handler, arguments = self._route(method, parts)
        self.hub.requests.append(Recorded(method, route, self.path))

        with self.hub._lock:
            seconds, left = self.hub.stalls.get(route, (0, 0))
            stalled = left is None or left > 0
            if stalled and left is not None:
                self.hub.stalls[route][1] = left - 1
        if stalled and seconds:
            self.hub.release.wait(seconds)

        with self.hub._lock:
            failure = self.hub._take_failure(route, "before", method, self.path)
        if failure is not None:
            self._send_failure(failure)
            return

        if handler is None:
            self._send_json(404, {"error": f"no route for {method} {self.path}"})
            return
        handler(body, *arguments)

    def _route(self, method: str, parts: list[str]):
        if method == "POST" and parts == ["api", "repos", "create"]:
            return "create", self._create, ()
        if method == "POST" and parts == ["api", "validate-yaml"]:
            return "validate", self._validate_yaml, ()
        if method == "GET" and parts == ["api", "agent-harnesses"]:
            return "agents", self._agent_harnesses, ()

        if len(parts) >= 5 and parts[:2] == ["api", "models"]:
            repo_id = f"{parts[2]}/{parts[3]}"
            action = parts[4]
            rest = parts[5:]
            if method == "POST" and action in ("preupload", "commit", "branch") and len(rest) == 1:
                handlers = {"preupload": self._preupload, "commit": self._commit, "branch": self._branch}
                return action, handlers[action], (repo_id, rest[0])
            if method == "GET" and action == "revision" and len(rest) == 1:
                return "info", self._info, (repo_id, rest[0])
            if method == "GET" and action == "tree" and len(rest) >= 1:
                return "tree", self._tree, (repo_id, rest[0])
        if len(parts) == 4 and parts[:2] == ["api", "models"] and method == "GET":
            return "info", self._info, (f"{parts[2]}/{parts[3]}", "main")

        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            return "resolve", self._resolve, (f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), method)
        return "unknown", None, ()

    # Endpoints.

    def _create(self, body: bytes) -> None:
        if not self._authorized():
            self._send_bad_token()
            return
        payload = json.loads(body)
        repo_id = f"{payload['organization']}/{payload['name']}"
        url = f"{self.hub.url}/{repo_id}"

        with self.hub._lock:
            if repo_id in self.hub.repos:
                self._send_json(409, {"error": "You already created this model repo", "url": url})
                return
            repo = Repo(repo_id, private=payload.get("visibility") == "private" or bool(payload.get("private")))
            initial = self.hub._new_commit(repo, None, "initial commit", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
            repo.branches["main"] = initial.sha
            self.hub.repos[repo_id] = repo
        self._send_json(200, {"url": url, "name": repo_id})

    def _agent_harnesses(self, body: bytes) -> None:
        # huggingface_hub 2.4 fetches this list once a day when it builds request headers.
        self._send_json(200, {"standardEnvVars": [], "harnesses": {}})

    def _validate_yaml(self, body: bytes) -> None:
        content = json.loads(body)["content"]
        errors = []
        if content.startswith("---\n"):
            front_matter = content[4:].split("\n---\n", 1)[0]
            try:
                metadata = yaml.safe_load(front_matter)
            except yaml.YAMLError as error:
                metadata = None
                errors.append({"message": f"invalid YAML: {error}"})
            if metadata is not None and not isinstance(metadata, dict):
                errors.append({"message": "metadata must be a mapping"})
        status = 400 if errors else 200
        self._send_json(status, {"errors": errors, "warnings": []})

    def _preupload(self, body: bytes, repo_id: str, revision: str) -> None:
        commit = self._writable_commit(repo_id, revision)
        if commit is None:
            return
        files = json.loads(body)["files"]
        answer = []
        for entry in files:
            existing = commit.files.get(entry["path"])
            answer.append({
                "path": entry["path"],
                "uploadMode": "regular",  # never "lfs": that would send the client to Xet
                "shouldIgnore": False,
                "oid": git_blob_sha1(existing) if existing is not None else None,
            })
        self._send_json(200, {"files": answer, "commitOid": commit.sha})

    def _commit(self, body: bytes, repo_id: str, revision: str) -> None:
        if self._writable_commit(repo_id, revision) is None:
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        if any(line["key"] == "lfsFile" for line in lines):
            self._send_json(400, {"error": "this test Hub accepts regular files only"})
            return

        with self.hub._lock:
            repo = self.hub.repos[repo_id]
            parent_sha = repo.branches[revision]
            if header.get("parentCommit") and header["parentCommit"] != parent_sha:
                self._send_json(412, {"error": "parent commit is not the head of the branch"})
                return

            files = dict(repo.commits[parent_sha].files)
            for line in lines:
                if line["key"] == "file":
                    files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
                elif line["key"] == "deletedFile":
                    files.pop(line["value"]["path"], None)
            commit = self.hub._new_commit(repo, parent_sha, header["summary"], files)
            repo.branches[revision] = commit.sha
            failure = self.hub._take_failure("commit", "after")

        if failure is not None:
            self._send_failure(failure)
            return
        self._send_json(200, {"commitOid": commit.sha, "commitUrl": f"{self.hub.url}/{repo_id}/commit/{commit.sha}"})

    def _branch(self, body: bytes, repo_id: str, branch: str) -> None:
        if self._writable_commit(repo_id, "main") is None:
            return
        payload = json.loads(body or b"{}")
        with self.hub._lock:
            repo = self.hub.repos[repo_id]
            if branch in repo.branches:
                self._send_json(409, {"error": f"branch {branch} already exists"})
                return
            start = repo.resolve(payload.get("startingPoint") or "main")
            repo.branches[branch] = start.sha
        self._send_json(200, {})

    def _info(self, body: bytes, repo_id: str, revision: str) -> None:
        repo, commit = self._readable_commit(repo_id, revision)
        if commit is None:
            return
        self._send_json(200, {
            "id": repo_id,
            "modelId": repo_id,
            "sha": commit.sha,
            "private": repo.private,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        })

    def _tree(self, body: bytes, repo_id: str, revision: str) -> None:
        _, commit = self._readable_commit(repo_id, revision)
        if commit is None:
            return
        self._send_json(200, [
            {"type": "file", "path": path, "size": len(content), "oid": git_blob_sha1(content)}
            for path, content in sorted(commit.files.items())
        ])

    def _resolve(self, body: bytes, repo_id: str, revision: str, path: str, method: str) -> None:
        _, commit = self._readable_commit(repo_id, revision)
        if commit is None:
            return
        if path not in commit.files:
            self._send_json(404, {"error": f"{path} not found"}, {"X-Error-Code": "EntryNotFound"})
            return

        content = commit.files[path]
        status = 200
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{git_blob_sha1(content)}"', "Accept-Ranges": "bytes"}
        start = _range_start(self.headers.get("Range"))
        if start is not None and method == "GET" and 0 < start < len(content):
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
            content = content[start:]
            status = 206

        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if method == "HEAD":
            return

        if self.hub.held_file == path:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.hub.half_sent.set()
            self.hub.release.wait(30)
            self.close_connection = True
            return

        with self.hub._lock:
            cut = self.hub.cut_bodies.get(path, 0) > 0
            if cut:
                self.hub.cut_bodies[path] -= 1
        if cut:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(content)

    # Access checks.

    def _authorized(self) -> bool:
        if self.hub.token is None:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _readable_commit(self, repo_id: str, revision: str) -> tuple[Repo | None, Commit | None]:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorized()):
            status = 404 if repo is None else 401  # the Hub hides private repos behind a 401
            self._send_json(status, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return None, None
        commit = repo.resolve(revision)
        if commit is None:
            self._send_json(404, {"error": f"Invalid rev id: {revision}"}, {"X-Error-Code": "RevisionNotFound"})
            return repo, None
        return repo, commit

    def _writable_commit(self, repo_id: str, revision: str) -> Commit | None:
        if not self._authorized():
            self._send_bad_token()
            return None
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return None
        if revision not in repo.branches:
            self._send_json(404, {"error": f"Invalid rev id: {revision}"}, {"X-Error-Code": "RevisionNotFound"})
            return None
        return repo.commits[repo.branches[revision]]

    # Answers.

    def _read_body(self) -> bytes:
        # Read the whole body before any response, error responses included, or keep-alive breaks.
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_bad_token(self) -> None:
        self._send_json(401, {"error": "Invalid credentials in Authorization header"},
                        {"X-Error-Message": "Invalid credentials in Authorization header"})

    def _send_failure(self, failure: Failure) -> None:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        self._send_json(failure.status, {"error": f"injected HTTP {failure.status}"}, headers)

    def _send_json(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _range_start(header: str | None) -> int | None:
    if not header or not header.startswith("bytes="):
        return None
    start, _, _ = header[len("bytes="):].partition("-")
    return int(start) if start.isdigit() else None


@pytest.fixture(name="fake_hub")
def fake_hub_fixture(tmp_path, monkeypatch) -> Iterator[FakeHub]:
    """Start a FakeHub on 127.0.0.1 and point t2c and huggingface_hub at it, with a cache under tmp_path."""
    import huggingface_hub.constants

    server = FakeHub().start()
    if urlsplit(server.url).hostname != "127.0.0.1":
        raise RuntimeError(f"the test Hub must listen on 127.0.0.1, not {server.url}")

    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("T2C_HUB_BACKOFF", "0.01")
    monkeypatch.setenv("T2C_HUB_TIMEOUT", "5")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    # huggingface_hub read HF_ENDPOINT when imported; a code path that ignores the endpoint t2c
    # passes would reach this server too, never a real host.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # tests set HF_HUB_OFFLINE=1 themselves
    monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}")
    # Files huggingface_hub placed under the HF_HOME it saw at import: keep them out of the real home.
    monkeypatch.setattr(huggingface_hub.constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf-home" / ".agent_harnesses.json"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))

    from t2c.hub_client import HubSettings

    settings = HubSettings.from_env()
    if urlsplit(settings.endpoint).hostname != "127.0.0.1":
        raise RuntimeError(f"t2c would contact {settings.endpoint}; tests must use the loopback Hub")

    yield server
    server.stop()


def make_head(
    seed: int = 0,
    p: int = 6,
    q: int = 4,
    *,
    encoder: str = "timm:resnet50.a1_in1k",
    target: str = "openclip:ViT-B-16/openai",
    aligner: str = "ridge",
    dataset: str = "fashion-mnist",
    metrics: dict[str, float] | None = None,
):
    """Return a small head with random float32 arrays: coef (q, p), intercept (q,), target_mean (q,)."""
    import numpy as np

    from t2c.encoders.preprocess import PreprocessConfig
    from t2c.heads import Head

    rng = np.random.default_rng(seed)
    card = {
        "format_version": 1,
        "encoder": {"id": encoder, "dim": p},
        "target": {"id": target, "dim": q},
        "aligner": {"kind": aligner, "hyperparameters": {"alpha": 1.0}},
        "preprocessing": PreprocessConfig().model_dump(mode="json"),
        "fit_data": {"dataset": dataset, "split": "train", "n_samples": 100 + seed},
        "metrics": {"r2_paper": 0.5, "acc1": 0.4} if metrics is None else metrics,
        "t2c_version": "0.1.0",
        "created_at": "2024-05-01T12:00:00Z",
    }
    return Head(rng.standard_normal((q, p)), rng.standard_normal(q), rng.standard_normal(q), card)
