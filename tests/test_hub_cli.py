"""`t2c push` and `t2c pull` on the loopback Hub, and their one-line errors."""

import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fake_hub import fake_hub_fixture, make_head  # noqa: F401 - provides the fixture `fake_hub`

from t2c.cli import hub_cmd
from t2c.cli.errors import run_cli
from t2c.heads import WEIGHTS_NAME

REPO = "t2c-test/cli-head"


@pytest.fixture
def group():
    commands = click.Group()
    hub_cmd.register(commands)
    return commands


@pytest.fixture
def saved(tmp_path):
    return make_head(seed=1).save_pretrained(tmp_path / "head")


def invoke(group, *arguments):
    return CliRunner().invoke(group, list(arguments), catch_exceptions=False)


def run_main(group, monkeypatch, capsys, *arguments) -> tuple[int, str]:
    """Run the group as the `t2c` entry point does; return the exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["t2c", *arguments])
    with pytest.raises(SystemExit) as exited:
        run_cli(group)
    return exited.value.code, capsys.readouterr().err


def test_push_then_pull(fake_hub, group, saved):
    pushed = json.loads(invoke(group, "push", str(saved), REPO, "--json").stdout)
    pulled = json.loads(invoke(group, "pull", f"{REPO}@{pushed['commit_sha']}", "--json").stdout)

    assert pushed["revision"] == "main"
    assert pulled["commit_sha"] == pushed["commit_sha"]
    assert pulled["head"]["encoder"] == "timm:resnet50.a1_in1k"


def test_push_prints_pin(fake_hub, group, saved):
    result = invoke(group, "push", str(saved), REPO, "--revision", "v1", "--private")

    commit = fake_hub.repos[REPO].branches["v1"]
    assert result.exit_code == 0
    assert f"t2c pull {REPO}@{commit}" in result.output
    assert fake_hub.repos[REPO].private


def test_pull_prints_folder_and_spec(fake_hub, group, saved):
    invoke(group, "push", str(saved), REPO)

    result = invoke(group, "pull", REPO)

    commit = fake_hub.repos[REPO].branches["main"]
    assert result.exit_code == 0
    assert f"--head hub:{REPO}@{commit}" in result.output


def test_pull_offline_from_cache(fake_hub, group, saved, monkeypatch):
    invoke(group, "push", str(saved), REPO)
    invoke(group, "pull", REPO)
    fake_hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    result = invoke(group, "pull", REPO, "--json")

    folder = Path(json.loads(result.stdout)["folder"])
    assert (folder / WEIGHTS_NAME).read_bytes() == (saved / WEIGHTS_NAME).read_bytes()


@pytest.mark.parametrize(
    ("setup", "arguments", "fragments"),
    [
        (lambda hub: None, ("pull", "t2c-test/missing"), ("HTTP 404", "t2c-test/missing@main", "t2c push")),
        (lambda hub: hub.fail("info", 500, times=100), ("pull", "t2c-test/missing@v2"), ("HTTP 500", "t2c-test/missing@v2", "try again later")),
    ],
    ids=["not-found", "server-error"],
)
def test_pull_errors_print_one_line(fake_hub, group, monkeypatch, capsys, setup, arguments, fragments):
    monkeypatch.setenv("T2C_HUB_RETRIES", "1")
    setup(fake_hub)

    code, stderr = run_main(group, monkeypatch, capsys, *arguments)

    assert code == 1
    assert stderr.startswith("Error: ")
    assert stderr.count("\n") == 1
    for fragment in fragments:
        assert fragment in stderr


def test_push_bad_token_prints_one_line(fake_hub, group, saved, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")

    code, stderr = run_main(group, monkeypatch, capsys, "push", str(saved), REPO)

    assert code == 1
    assert stderr.count("\n") == 1
    assert "HTTP 401" in stderr
    assert "hf auth login" in stderr
