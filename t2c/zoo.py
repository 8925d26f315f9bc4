"""The zoo: a catalogue of published heads, one JSON card per head in the top-level `registry/` folder.

A card names the head (`id`), what it maps (encoder, target, aligner), what it was fitted on,
its metrics, and the sha256 of its `model.safetensors`. These fields locate the weights, from
nearest to farthest:

- `package` + `path`: a folder inside an installed Python package (read with importlib.resources),
  such as `t2c_plugin_offline` + `heads/<id>`, so `--head zoo:ID` works with no network;
- `path` alone: a folder relative to the catalogue folder;
- `hub_repo` + `hub_revision`: a Hub repo, pulled at that (pinned) revision into the Hub cache.

Every load checks the sha256 of the weights against the card before the head is used, then the
head's own validation (schema, dims, finite values) and that its ids match the card.

The catalogue folder is the first of: the `zoo_dir` argument, `$T2C_ZOO_DIR`, `registry/` beside the
t2c source tree (a checkout or an editable install), and the copy that a wheel install of t2c writes
to `<data path>/share/t2c/registry` (see `installed_zoo_dir`).
"""

import difflib
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import logging
import os
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from t2c.card import SHA256_PATTERN, FitDataCard, describe_validation_error
from t2c.errors import ConfigError, HeadError, NotFoundError, T2CError
from t2c.heads import CONFIG_NAME, HUB_ID_PATTERN, WEIGHTS_NAME, Head

log = logging.getLogger("t2c.zoo")

ZOO_DIR_ENV = "T2C_ZOO_DIR"
# Folder of the installed cards of registry/, relative to the install's data path. It must match
# [tool.setuptools.data-files] in pyproject.toml.
INSTALLED_ZOO_PATH = PurePosixPath("share/t2c/registry")
CARD_SUFFIX = ".json"
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
PACKAGE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class ZooError(T2CError):
    """The zoo catalogue or one of its heads failed."""


class ZooCardError(ZooError, ConfigError):
    """A zoo card file is not valid JSON or breaks the card schema."""


class ZooNotFoundError(ZooError, NotFoundError):
    """No card has the id asked for, or a card's weights are nowhere to be found."""


class ZooIntegrityError(ZooError, HeadError):
    """A zoo head's weights differ from its card (sha256, ids or aligner)."""


class ZooCard(BaseModel):
    """One published head: what it maps, how it was fitted, its sha256 and where its weights are."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=ID_PATTERN, description="the name after zoo:, also the card's file name")
    description: str = ""
    encoder: str = Field(min_length=1, description="encoder id, such as offline:resnet50-opennsfw")
    target: str = Field(min_length=1, description="target id, such as offline:effnet-lite0-minilm")
    aligner: str = Field(min_length=1, description="aligner kind: ridge, lstsq, procrustes, linear")
    fit_data: FitDataCard
    metrics: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    license: str | None = None
    sha256: str = Field(description="sha256 of model.safetensors")
    package: str | None = Field(None, pattern=PACKAGE_PATTERN, description="Python package that ships the head folder")
    path: str | None = Field(None, description="head folder: inside `package`, else relative to the catalogue folder")
    hub_repo: str | None = Field(None, description="Hub repo the head was pushed to, org/name")
    hub_revision: str | None = Field(None, description="commit sha (or tag) to pull; pin a commit sha")

    @field_validator("sha256")
    @classmethod
    def _check_sha256(cls, value: str) -> str:
        if not SHA256_PATTERN.match(value):
            raise ValueError(f"expected 64 lowercase hex digits, got {value!r}")
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = PurePosixPath(value).parts
        if not parts or value.startswith("/") or "\\" in value or ".." in parts:
            raise ValueError(f"expected a relative path with '/' separators and no '..', got {value!r}")
        return value

    @field_validator("hub_repo")
    @classmethod
    def _check_hub_repo(cls, value: str | None) -> str | None:
        if value is not None and not HUB_ID_PATTERN.match(value):
            raise ValueError(f"expected a Hub repo id org/name, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_sources(self) -> "ZooCard":
        if self.package is not None and self.path is None:
            raise ValueError("'package' needs 'path', the head folder inside the package")
        if self.hub_revision is not None and self.hub_repo is None:
            raise ValueError("'hub_revision' needs 'hub_repo'")
        if self.path is None and self.hub_repo is None:
            raise ValueError("a card needs 'path' (with or without 'package') or 'hub_repo' to say where the weights are")
        return self

    def source(self) -> str:
        """Return where the weights are, in words: "package t2c_plugin_offline/heads/x", "hub org/name@sha"."""
        sources = []
        if self.package is not None:
            sources.append(f"package {self.package}/{self.path}")
        elif self.path is not None:
            sources.append(f"folder {self.path}")
        if self.hub_repo is not None:
            sources.append(f"hub {self.hub_repo}@{self.hub_revision or 'main'}")
        return ", ".join(sources)


@dataclass(frozen=True)
class ZooHead:
    """A zoo head that passed every check, and where it was loaded from."""

    card: ZooCard
    head: Head
    folder: Path
    source: str  # "package", "folder" or "hub"


# The catalogue.


def zoo_dir(folder: str | os.PathLike | None = None) -> Path | None:
    """Return the catalogue folder, the first of: `folder`, `$T2C_ZOO_DIR`, the source tree's registry/, the installed copy; else None."""
    if folder is not None:
        return Path(folder).expanduser()

    configured = os.environ.get(ZOO_DIR_ENV)
    if configured:
        return Path(configured).expanduser()

    # registry/ sits at the repository root, outside the t2c package. A checkout or an editable
    # install reads it in place, so edited cards take effect at once.
    source_root = Path(__file__).resolve().parent.parent
    if (source_root / "pyproject.toml").is_file() and (source_root / "registry").is_dir():
        return source_root / "registry"

    return installed_zoo_dir()


def installed_zoo_dir(path: list[str] | None = None) -> Path | None:
    """Return the catalogue folder that a wheel install of t2c wrote to share/t2c/registry, or None.

    `path` lists the folders to search for the installed t2c distribution, as in
    `importlib.metadata.distributions` (default: sys.path). The candidates, in order:

    - the folder of the cards listed in the distribution's RECORD. RECORD paths are relative to the
      site-packages folder, so this follows any pip scheme (tested: a venv and `--prefix`);
    - share/t2c/registry beside the distribution's dist-info, where `pip install --target DIR` moves it;
    - share/t2c/registry under the running interpreter's data path (`sysconfig.get_path("data")`),
      for an install without a RECORD; only when `path` is None.
    """
    search = {} if path is None else {"path": path}
    distribution = next(iter(importlib.metadata.distributions(name="t2c", **search)), None)

    candidates = []
    if distribution is not None:
        recorded = [file for file in distribution.files or [] if file.parent.parts[-3:] == INSTALLED_ZOO_PATH.parts]
        if recorded:
            candidates.append(Path(distribution.locate_file(recorded[0])).parent)
        candidates.append(Path(distribution.locate_file("")).joinpath(*INSTALLED_ZOO_PATH.parts))
    if path is None:
        candidates.append(Path(sysconfig.get_path("data")).joinpath(*INSTALLED_ZOO_PATH.parts))

    for candidate in candidates:
        if candidate.is_dir():
            log.debug("zoo catalogue installed at %s", candidate)
            return candidate.resolve()
    return None


def card_files(folder: str | os.PathLike | None = None) -> list[Path]:
    """Return the card files (*.json) of the catalogue, sorted by name; none when there is no catalogue."""
    root = zoo_dir(folder)
    if root is None or not root.is_dir():
        return []
    return sorted(path for path in root.glob(f"*{CARD_SUFFIX}") if path.is_file())


def read_card(path: str | os.PathLike) -> ZooCard:
    """Parse and validate one card file; its name must be `<id>.json`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ZooCardError(f"zoo card {path} cannot be read as JSON ({error}); fix or remove the file") from None

    try:
        card = ZooCard.model_validate(raw)
    except ValidationError as error:
        raise ZooCardError(f"invalid zoo card {path}: {describe_validation_error(error)}; fix these fields") from None

    if path.name != f"{card.id}{CARD_SUFFIX}":
        raise ZooCardError(f"zoo card {path} has id {card.id!r}; rename the file to {card.id}{CARD_SUFFIX} or fix the id")
    return card


def list_cards(folder: str | os.PathLike | None = None, *, strict: bool = True) -> list[ZooCard]:
    """Return every card of the catalogue, sorted by id.

    With `strict=False` an invalid card is logged and skipped instead of raising `ZooCardError`.
    """
    cards = []
    for path in card_files(folder):
        try:
            cards.append(read_card(path))
        except ZooCardError as error:
            if strict:
                raise
            log.warning("skipping %s", error)
    return cards


def get_card(card_id: str, folder: str | os.PathLike | None = None) -> ZooCard:
    """Return the card with `card_id`; raise `ZooNotFoundError` with close matches otherwise."""
    root = zoo_dir(folder)
    path = root / f"{card_id}{CARD_SUFFIX}" if root is not None and re.match(ID_PATTERN, card_id) else None
    if path is not None and path.is_file():
        return read_card(path)

    known = [file.stem for file in card_files(folder)]
    close = difflib.get_close_matches(card_id, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    where = f"in {root}" if root is not None else f"(no catalogue folder: t2c found neither registry/ nor share/t2c/registry; set {ZOO_DIR_ENV})"
    raise ZooNotFoundError(f"zoo head {card_id!r} not found {where}; {hint}list the heads with `t2c zoo list`")


def find_head(encoder_id: str, target_id: str, aligner: str | None = None, *, folder: str | os.PathLike | None = None) -> ZooCard | None:
    """Return the card of a zoo head for this encoder, target and aligner (None: any aligner), or None.

    Prefers heads whose weights are on this machine (an installed package or a folder), then
    the one fitted on the most images, then the smallest id. Invalid cards are skipped.
    """
    matches = [
        card for card in list_cards(folder, strict=False)
        if card.encoder == encoder_id and card.target == target_id and (aligner is None or card.aligner == aligner)
    ]
    if not matches:
        log.info("no zoo head for %s -> %s (aligner %s)", encoder_id, target_id, aligner or "any")
        return None

    root = zoo_dir(folder)
    matches.sort(key=lambda card: (local_folder(card, root) is None, -card.fit_data.n_samples, card.id))
    log.info("zoo head %s matches %s -> %s", matches[0].id, encoder_id, target_id)
    return matches[0]


# Loading a head.


def local_folder(card: ZooCard, root: Path | None) -> Path | None:
    """Return the card's head folder on this machine (package or catalogue-relative), or None."""
    if card.path is None:
        return None

    if card.package is not None:
        if importlib.util.find_spec(card.package.split(".")[0]) is None:
            return None
        base = importlib.resources.files(card.package)
        if not isinstance(base, Path):
            log.warning("package %s is not installed as plain files; cannot read %s from it", card.package, card.path)
            return None
        folder = base.joinpath(*PurePosixPath(card.path).parts)
    elif root is not None:
        folder = root.joinpath(*PurePosixPath(card.path).parts)
    else:
        return None

    return folder if (folder / WEIGHTS_NAME).is_file() and (folder / CONFIG_NAME).is_file() else None


def load_zoo_head(card_or_id: ZooCard | str, *, folder: str | os.PathLike | None = None, force_download: bool = False) -> Head:
    """Load a zoo head by id (or card), checked against its card; see `pull_zoo_head`."""
    return pull_zoo_head(card_or_id, folder=folder, force_download=force_download).head


def pull_zoo_head(card_or_id: ZooCard | str, *, folder: str | os.PathLike | None = None, force_download: bool = False) -> ZooHead:
    """Find a zoo head's weights, check them against the card, and load the head.

    Local weights (a package or a folder) win over the Hub. Raises `ZooIntegrityError` when the
    weights' sha256, ids or aligner differ from the card, and `ZooNotFoundError` when the
    weights are not on this machine and the card has no Hub repo.
    """
    card = card_or_id if isinstance(card_or_id, ZooCard) else get_card(card_or_id, folder)
    root = zoo_dir(folder)

    head_folder = local_folder(card, root)
    if head_folder is not None:
        verify_weights(card, head_folder)
        head = Head.from_pretrained(head_folder)
        source = "package" if card.package is not None else "folder"
    elif card.hub_repo is not None:
        from t2c.hub import (
            pull_head,  # the Hub client loads only for heads that live on the Hub
        )

        pulled = pull_head(card.hub_repo, card.hub_revision, expected_sha256=card.sha256, force_download=force_download)
        head, head_folder, source = pulled.head, pulled.folder, "hub"
    else:
        raise ZooNotFoundError(_missing_weights_message(card, root))

    _check_card_matches(card, head, head_folder)
    log.info("loaded zoo head %s from %s %s", card.id, source, head_folder)
    return ZooHead(card=card, head=head, folder=head_folder, source=source)


def verify_weights(card: ZooCard, head_folder: Path) -> None:
    """Raise `ZooIntegrityError` unless `model.safetensors` in `head_folder` has the card's sha256."""
    weights = head_folder / WEIGHTS_NAME
    actual = hashlib.sha256(weights.read_bytes()).hexdigest()
    if actual != card.sha256:
        raise ZooIntegrityError(
            f"zoo head {card.id}: {weights} has sha256 {actual}, but the card records {card.sha256}; "
            "the weights were changed or damaged: reinstall the package or pull again, or update the card with `t2c zoo add`"
        )


def card_for_head(
    head_folder: str | os.PathLike,
    card_id: str,
    *,
    package: str | None = None,
    path: str | None = None,
    hub_repo: str | None = None,
    hub_revision: str | None = None,
    description: str = "",
    license: str | None = None,
) -> ZooCard:
    """Build the zoo card of a head folder written by `save_pretrained` (validated first)."""
    head_folder = Path(head_folder)
    head = Head.from_pretrained(head_folder)
    card = head.card
    fields = {
        "id": card_id,
        "description": description,
        "encoder": card.encoder.id,
        "target": card.target.id,
        "aligner": card.aligner.kind,
        "fit_data": card.fit_data.model_dump(),
        "metrics": dict(card.metrics),
        "license": license,
        "sha256": hashlib.sha256((head_folder / WEIGHTS_NAME).read_bytes()).hexdigest(),
        "package": package,
        "path": path,
        "hub_repo": hub_repo,
        "hub_revision": hub_revision,
    }
    try:
        return ZooCard.model_validate(fields)
    except ValidationError as error:
        raise ZooCardError(f"invalid zoo card for {head_folder}: {describe_validation_error(error)}") from None


def write_card(card: ZooCard, folder: str | os.PathLike | None = None) -> Path:
    """Write `card` as `<id>.json` into the catalogue folder (created when missing); returns the file."""
    root = zoo_dir(folder)
    if root is None:
        raise ZooError(f"no zoo catalogue folder; pass one or set {ZOO_DIR_ENV}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{card.id}{CARD_SUFFIX}"
    path.write_text(card.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
    return path


def _check_card_matches(card: ZooCard, head: Head, head_folder: Path) -> None:
    expected = {"encoder": card.encoder, "target": card.target, "aligner": card.aligner}
    actual = {"encoder": head.card.encoder.id, "target": head.card.target.id, "aligner": head.card.aligner.kind}
    for field, value in expected.items():
        if actual[field] != value:
            raise ZooIntegrityError(
                f"zoo head {card.id}: the head in {head_folder} has {field} {actual[field]}, but the card records {value}; "
                "fix the card or publish the right head"
            )


def _missing_weights_message(card: ZooCard, root: Path | None) -> str:
    if card.package is not None:
        if importlib.util.find_spec(card.package.split(".")[0]) is None:
            return (
                f"zoo head {card.id} ships in package {card.package}, which is not installed, and the card has no Hub repo; "
                f"install the package that provides {card.package}"
            )
        return (
            f"zoo head {card.id}: package {card.package} is installed but has no head folder {card.path} "
            f"(with {CONFIG_NAME} and {WEIGHTS_NAME}); reinstall or upgrade the package"
        )
    where = root / card.path if root is not None else card.path
    return f"zoo head {card.id}: no head folder at {where} and the card has no Hub repo; restore the folder or add hub_repo to the card"
