"""The zoo: every card in registry/ against the schema and its weights, and a fixture zoo whose
heads live in a folder, an installed package and the loopback Hub."""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from fake_hub import fake_hub_fixture, make_head  # noqa: F401 - provides the fixture `fake_hub`

from t2c.cli import zoo_cmd
from t2c.errors import HeadError, NotFoundError
from t2c.heads import CONFIG_NAME, WEIGHTS_NAME, Head
from t2c.hub import push_head, resolve_head
from t2c.hub_errors import HubNotAHeadError
from t2c.zoo import (
    INSTALLED_ZOO_PATH,
    ZooCard,
    ZooCardError,
    ZooIntegrityError,
    ZooNotFoundError,
    card_files,
    card_for_head,
    find_head,
    get_card,
    installed_zoo_dir,
    list_cards,
    load_zoo_head,
    local_folder,
    pull_zoo_head,
    read_card,
    verify_weights,
    write_card,
    zoo_dir,
)

SOURCE_ROOT = Path(__file__).resolve().parents[1]
REGISTRY = SOURCE_ROOT / "registry"
PACKAGE = "t2c_zoo_fixture_heads"  # a package the fixture writes under tmp_path and puts on sys.path
ENCODER = "offline:resnet50-opennsfw"
TARGET = "offline:effnet-lite0-minilm"


# The project's own catalogue: whatever cards registry/ holds.


def test_registry_folder_exists():
    assert REGISTRY.is_dir()


@pytest.mark.parametrize("path", card_files(REGISTRY), ids=lambda path: path.stem)
def test_registry_card_is_valid(path):
    card = read_card(path)

    assert card.id == path.stem


@pytest.mark.parametrize("path", card_files(REGISTRY), ids=lambda path: path.stem)
def test_registry_weights_match_card(path):
    card = read_card(path)
    folder = local_folder(card, REGISTRY)
    if folder is None and card.package is not None and importlib.util.find_spec(card.package) is not None:
        pytest.fail(f"{card.package} is installed but lacks {card.path}, the weights of zoo head {card.id}; check its package data")
    if folder is None:
        pytest.skip(f"weights of {card.id} are not on this machine ({card.source()})")

    verify_weights(card, folder)
    loaded = pull_zoo_head(card, folder=REGISTRY)
    assert loaded.head.card.encoder.id == card.encoder


# A fixture zoo with real small heads.


def write_head_folder(folder: Path, seed: int, **head_options) -> Head:
    head = make_head(seed=seed, encoder=ENCODER, target=TARGET, dataset="fashion-mnist", **head_options)
    head.save_pretrained(folder)
    return head


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A catalogue with a folder head ("folder-ridge") and a package head ("package-ridge")."""
    root = tmp_path / "zoo"
    write_head_folder(root / "heads" / "folder-ridge", seed=1)
    write_card(card_for_head(root / "heads" / "folder-ridge", "folder-ridge", path="heads/folder-ridge"), root)

    package = tmp_path / "site" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Heads shipped as package data, for zoo tests."""\n')
    write_head_folder(package / "heads" / "package-ridge", seed=2)
    card = card_for_head(package / "heads" / "package-ridge", "package-ridge", package=PACKAGE, path="heads/package-ridge")
    write_card(card, root)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    monkeypatch.delenv("T2C_ZOO_DIR", raising=False)
    return root


def edit_card(root: Path, card_id: str, **changes) -> None:
    path = root / f"{card_id}.json"
    fields = json.loads(path.read_text())
    fields.update(changes)
    path.write_text(json.dumps(fields))


def test_folder_head_loads(zoo):
    loaded = pull_zoo_head("folder-ridge", folder=zoo)

    assert loaded.source == "folder"
    assert loaded.folder == zoo / "heads" / "folder-ridge"
    np.testing.assert_array_equal(loaded.head.coef, Head.from_pretrained(zoo / "heads" / "folder-ridge").coef)


def test_package_head_loads_without_network(zoo):
    loaded = pull_zoo_head("package-ridge", folder=zoo)

    assert loaded.source == "package"
    assert loaded.folder.parts[-3:] == (PACKAGE, "heads", "package-ridge")


def test_sha_mismatch_fails(zoo):
    # A different, internally consistent head in place of the published one.
    write_head_folder(zoo / "heads" / "folder-ridge", seed=7)

    with pytest.raises(ZooIntegrityError, match="sha256") as raised:
        load_zoo_head("folder-ridge", folder=zoo)

    assert isinstance(raised.value, HeadError)
    assert "folder-ridge" in str(raised.value)


def test_card_sha_edit_fails(zoo):
    edit_card(zoo, "package-ridge", sha256="0" * 64)

    with pytest.raises(ZooIntegrityError, match="0" * 64):
        load_zoo_head("package-ridge", folder=zoo)


def test_verify_weights_detects_flipped_byte(zoo):
    card = get_card("folder-ridge", zoo)
    weights = zoo / "heads" / "folder-ridge" / WEIGHTS_NAME
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))

    with pytest.raises(ZooIntegrityError):
        verify_weights(card, weights.parent)


def test_card_aligner_must_match_head(zoo):
    edit_card(zoo, "folder-ridge", aligner="lstsq")

    with pytest.raises(ZooIntegrityError, match="aligner ridge, but the card records lstsq"):
        load_zoo_head("folder-ridge", folder=zoo)


def test_missing_package_without_hub_raises(zoo):
    edit_card(zoo, "package-ridge", package="t2c_package_that_is_not_installed")

    with pytest.raises(ZooNotFoundError, match="not installed"):
        load_zoo_head("package-ridge", folder=zoo)


def test_package_without_head_folder_raises(zoo):
    edit_card(zoo, "package-ridge", path="heads/not-shipped")

    with pytest.raises(ZooNotFoundError, match="is installed but has no head folder heads/not-shipped"):
        load_zoo_head("package-ridge", folder=zoo)


def test_unknown_id_suggests_close_match(zoo):
    with pytest.raises(ZooNotFoundError, match="did you mean folder-ridge") as raised:
        get_card("folder-ridg", zoo)

    assert isinstance(raised.value, NotFoundError)


def test_zoo_dir_from_environment(zoo, monkeypatch):
    monkeypatch.setenv("T2C_ZOO_DIR", str(zoo))

    assert zoo_dir() == zoo
    assert [card.id for card in list_cards()] == ["folder-ridge", "package-ridge"]


def test_zoo_spec_resolves(zoo, monkeypatch):
    monkeypatch.setenv("T2C_ZOO_DIR", str(zoo))

    head = resolve_head("zoo:package-ridge")

    assert head.card.fit_data.n_samples == 102


# The catalogue in a wheel install: registry/ ships as data files under share/t2c/registry.


@pytest.fixture(scope="module")
def t2c_wheel(tmp_path_factory):
    """The t2c wheel, built from a copy of the source so the build writes nothing into the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE_ROOT / name, source / name)
    for name in ("t2c", "registry"):
        shutil.copytree(SOURCE_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))

    run_pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(work / "wheels"), str(source))
    (wheel,) = (work / "wheels").glob("t2c-*.whl")
    return wheel


def run_pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet", *arguments]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"


def install_wheel(wheel: Path, prefix: Path, layout: str) -> Path:
    """Install `wheel` without dependencies, as `pip install --prefix` or `--target`, and return its site folder."""
    if layout == "target":
        run_pip("install", "--no-deps", "--target", str(prefix), str(wheel))
        return prefix
    # Without --ignore-installed, pip uninstalls the t2c of the running environment (the editable
    # install) before it installs into the prefix. --target sets --ignore-installed on its own.
    run_pip("install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel))
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def test_wheel_carries_every_card(t2c_wheel):
    distribution, version = t2c_wheel.name.split("-")[:2]
    data_root = f"{distribution}-{version}.data/data/{INSTALLED_ZOO_PATH}/"
    with zipfile.ZipFile(t2c_wheel) as archive:
        shipped = {name.removeprefix(data_root): archive.read(name) for name in archive.namelist() if name.startswith(data_root)}

    expected = {path.name: path.read_bytes() for path in card_files(REGISTRY)}
    assert expected, f"no cards in {REGISTRY}"
    assert sorted(name for name in shipped if name.endswith(".json")) == sorted(expected)
    for name, content in expected.items():
        assert shipped[name] == content, f"{name} in the wheel differs from registry/{name}"


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["prefix", "target"])
def test_installed_zoo_dir_finds_wheel_install(t2c_wheel, tmp_path, layout):
    site = install_wheel(t2c_wheel, tmp_path / "install", layout)

    found = installed_zoo_dir(path=[str(site)])

    expected = (tmp_path / "install").resolve().joinpath(*INSTALLED_ZOO_PATH.parts)
    assert found == expected
    assert [path.name for path in card_files(found)] == [path.name for path in card_files(REGISTRY)]


def test_installed_zoo_dir_without_install(tmp_path):
    assert installed_zoo_dir(path=[str(tmp_path)]) is None


@pytest.mark.slow
def test_zoo_dir_in_wheel_install(t2c_wheel, tmp_path):
    site = install_wheel(t2c_wheel, tmp_path / "site", "target")
    environment = {name: value for name, value in os.environ.items() if name != "T2C_ZOO_DIR"}
    environment["PYTHONPATH"] = str(site)
    script = "import json, t2c.zoo as zoo; print(json.dumps([zoo.__file__, str(zoo.zoo_dir()), zoo.get_card(zoo.card_files()[0].stem).id]))"

    # Run outside the checkout, so t2c imports from the installed copy, beside which there is no registry/.
    result = subprocess.run([sys.executable, "-c", script], check=False, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    module_file, catalogue, first_id = json.loads(result.stdout.splitlines()[-1])
    assert Path(module_file).is_relative_to(site)
    assert Path(catalogue) == site.resolve().joinpath(*INSTALLED_ZOO_PATH.parts)
    assert first_id == card_files(REGISTRY)[0].stem


# Lookup before fitting.


def test_find_head_matches_encoder_target_aligner(zoo):
    card = find_head(ENCODER, TARGET, "ridge", folder=zoo)

    assert card.id == "package-ridge"  # both are local, so the larger fit (102 images) wins


def test_find_head_any_aligner(zoo):
    assert find_head(ENCODER, TARGET, folder=zoo) is not None


@pytest.mark.parametrize(
    ("encoder", "target", "aligner"),
    [(ENCODER, TARGET, "procrustes"), ("timm:resnet50.a1_in1k", TARGET, "ridge"), (ENCODER, "openclip:ViT-B-16/openai", None)],
)
def test_find_head_without_match(zoo, encoder, target, aligner):
    assert find_head(encoder, target, aligner, folder=zoo) is None


def test_find_head_prefers_local_weights(zoo):
    edit_card(zoo, "package-ridge", package="t2c_package_that_is_not_installed", hub_repo="t2c-test/x")

    assert find_head(ENCODER, TARGET, "ridge", folder=zoo).id == "folder-ridge"


def test_find_head_skips_invalid_cards(zoo):
    (zoo / "broken.json").write_text("{")

    assert find_head(ENCODER, TARGET, folder=zoo) is not None
    with pytest.raises(ZooCardError, match="broken.json"):
        list_cards(zoo)


def test_find_head_without_catalogue(tmp_path):
    assert find_head(ENCODER, TARGET, folder=tmp_path / "nothing") is None


# Heads on the Hub.


@pytest.fixture
def hub_zoo(fake_hub, zoo, tmp_path):
    """Push two versions of a head; the card pins the first commit."""
    write_head_folder(tmp_path / "hub-v1", seed=3)
    write_head_folder(tmp_path / "hub-v2", seed=4)
    first = push_head(tmp_path / "hub-v1", "t2c-test/zoo-head")
    push_head(tmp_path / "hub-v2", "t2c-test/zoo-head")

    card = card_for_head(tmp_path / "hub-v1", "hub-ridge", hub_repo="t2c-test/zoo-head", hub_revision=first.commit_sha)
    write_card(card, zoo)
    return zoo


def test_hub_head_pulls_pinned_revision(hub_zoo, tmp_path):
    loaded = pull_zoo_head("hub-ridge", folder=hub_zoo)

    assert loaded.source == "hub"
    assert (loaded.folder / WEIGHTS_NAME).read_bytes() == (tmp_path / "hub-v1" / WEIGHTS_NAME).read_bytes()


def test_hub_head_unpinned_with_old_sha_fails(hub_zoo):
    edit_card(hub_zoo, "hub-ridge", hub_revision=None)

    with pytest.raises(HubNotAHeadError, match="was expected"):
        load_zoo_head("hub-ridge", folder=hub_zoo)


def test_missing_package_falls_back_to_hub(hub_zoo, tmp_path):
    first_sha = get_card("hub-ridge", hub_zoo).hub_revision
    edit_card(hub_zoo, "hub-ridge", package="t2c_package_that_is_not_installed", path="heads/hub-ridge", hub_revision=first_sha)

    assert pull_zoo_head("hub-ridge", folder=hub_zoo).source == "hub"


# The card schema.


VALID = {
    "id": "demo",
    "encoder": ENCODER,
    "target": TARGET,
    "aligner": "ridge",
    "fit_data": {"dataset": "fashion-mnist", "split": "train", "n_samples": 10},
    "metrics": {"acc1": 0.4, "r2_paper": 1},
    "sha256": "a" * 64,
    "path": "heads/demo",
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sha256": "A" * 64}, "sha256"),
        ({"sha256": "abc"}, "sha256"),
        ({"path": "../outside"}, "path"),
        ({"path": "/abs/heads"}, "path"),
        ({"path": None}, "needs 'path'"),
        ({"path": None, "package": "pkg"}, "'package' needs 'path'"),
        ({"hub_revision": "main"}, "'hub_revision' needs 'hub_repo'"),
        ({"hub_repo": "not a repo"}, "hub_repo"),
        ({"id": "Has Spaces"}, "id"),
        ({"package": "not-a-module"}, "package"),
        ({"metrics": {"acc1": float("nan")}}, "metrics"),
        ({"fit_data": {"dataset": "x", "split": "train"}}, "n_samples"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_schema_rejects(tmp_path, changes, message):
    fields = {**VALID, **changes}
    path = tmp_path / f"{fields['id']}.json"
    path.write_text(json.dumps(fields))

    with pytest.raises(ZooCardError, match=message):
        read_card(path)


def test_schema_accepts_valid_card(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(VALID))

    card = read_card(path)

    assert card.metrics == {"acc1": 0.4, "r2_paper": 1.0}
    assert card.source() == "folder heads/demo"


def test_file_name_must_match_id(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(VALID))

    with pytest.raises(ZooCardError, match="rename the file to demo.json"):
        read_card(path)


def test_invalid_json_raises(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text("{'id': 'demo'}")

    with pytest.raises(ZooCardError, match="JSON"):
        read_card(path)


def test_card_for_head_round_trips(zoo):
    card = get_card("folder-ridge", zoo)
    weights = zoo / "heads" / "folder-ridge" / WEIGHTS_NAME

    assert card.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card.fit_data.n_samples == 101
    assert card.metrics == {"r2_paper": 0.5, "acc1": 0.4}
    assert isinstance(card, ZooCard)


# The `t2c zoo` commands.


@pytest.fixture
def run_zoo():
    group = click.Group()
    zoo_cmd.register(group)
    runner = CliRunner()

    def run(*arguments):
        return runner.invoke(group, ["zoo", *arguments], catch_exceptions=False)

    return run


def test_cli_list(zoo, run_zoo):
    result = run_zoo("list", "--zoo-dir", str(zoo), "--json")

    assert result.exit_code == 0
    assert [row["id"] for row in json.loads(result.stdout)] == ["folder-ridge", "package-ridge"]


def test_cli_list_table(zoo, run_zoo):
    result = run_zoo("list", "--zoo-dir", str(zoo))

    assert result.exit_code == 0
    assert "folder-ridge" in result.output


def test_cli_show(zoo, run_zoo):
    result = run_zoo("show", "package-ridge", "--zoo-dir", str(zoo))

    assert json.loads(result.stdout)["package"] == PACKAGE


def test_cli_pull(zoo, run_zoo):
    result = run_zoo("pull", "package-ridge", "--zoo-dir", str(zoo), "--json")

    payload = json.loads(result.stdout)
    assert payload["source"] == "package"
    assert Path(payload["folder"], CONFIG_NAME).is_file()


def test_cli_verify_fails_on_mismatch(zoo, run_zoo):
    assert run_zoo("verify", "--zoo-dir", str(zoo)).exit_code == 0

    edit_card(zoo, "folder-ridge", sha256="1" * 64)
    result = run_zoo("verify", "--zoo-dir", str(zoo))

    assert result.exit_code == 1
    assert "mismatch: zoo head folder-ridge" in result.output


def test_cli_add_writes_card(zoo, run_zoo, tmp_path):
    head_folder = tmp_path / "new-head"
    write_head_folder(head_folder, seed=5)

    result = run_zoo("add", str(head_folder), "new-ridge", "--zoo-dir", str(zoo), "--path", "heads/new-ridge", "--license", "mit")

    card = read_card(zoo / "new-ridge.json")
    assert result.exit_code == 0
    assert card.sha256 == hashlib.sha256((head_folder / WEIGHTS_NAME).read_bytes()).hexdigest()
    assert card.license == "mit"
