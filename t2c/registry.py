"""Plugin tables: one per kind, mapping a registered name to its factory.

The hooks in `t2c.hookspecs` fill these tables, as `t2c.plugins` loads plugins. The functions
at the bottom of this module look names up in the tables of the process-wide plugin set:

    encoder = load_encoder("timm:resnet50.a1_in1k")
    aligner = get_aligner("ridge", alpha=1.0)

Not to be confused with the top-level `registry/` folder, the zoo of published heads.
"""

import difflib
import fnmatch
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from t2c.errors import ConfigError, NotFoundError, PluginError

log = logging.getLogger("t2c.registry")

KINDS = ("encoders", "targets", "aligners", "datasets", "applications", "decoders", "executors")
KIND_ALIASES = {"apps": "applications"}  # names `t2c list` accepts -> table names
MODEL_KINDS = ("encoders", "targets")  # tables of families, looked up with ids "family:model"
CALLED_KINDS = ("encoders", "targets", "aligners", "datasets", "executors")  # lookups call the factory

KIND_LABELS = {  # table -> what one entry is called in messages
    "encoders": "encoder family",
    "targets": "target family",
    "aligners": "aligner",
    "datasets": "data set",
    "applications": "application",
    "decoders": "decoder",
    "executors": "executor",
}
LIST_NAMES = {"applications": "apps"}  # table -> argument of `t2c list`
INFO_KEYS = ("description", "default", "models")  # keywords `register` accepts besides name and factory

ModelList = tuple[str, ...] | Callable[[], Iterable[str]]


@dataclass(frozen=True)
class Entry:
    """One registered name: its factory, the plugin that registered it and what `t2c list` shows.

    `default` is the model a bare family id resolves to. `models` is a tuple of known model
    names, or a callable returning them for families whose list is long or computed.
    """

    kind: str
    name: str
    factory: Any
    plugin: str
    description: str = ""
    default: str | None = None
    models: ModelList | None = None

    def model_names(self) -> list[str] | None:
        """Return the known model names, or None when the plugin lists none or listing fails."""
        if self.models is None:
            return None
        if not callable(self.models):
            return list(self.models)

        try:
            return [str(name) for name in self.models()]
        except Exception as error:  # a plugin's listing function may fail in any way
            log.warning("listing the models of %s %r from plugin %s failed: %s", KIND_LABELS[self.kind], self.name, self.plugin, error)
            return None

    def usage(self) -> str:
        """Return how a user names this entry: "timm:<model>" for a family, else the name."""
        if self.kind in MODEL_KINDS:
            return f"{self.name}:<model>"
        return self.name

    def row(self) -> dict:
        """Return the JSON-ready row `list_entries` and `t2c list --json` print."""
        return {
            "name": self.name,
            "plugin": self.plugin,
            "description": self.description,
            "default": self.default,
            "models": self.model_names(),
            "usage": self.usage(),
        }


def canonical_kind(kind: str) -> str:
    """Return the table name for `kind`, accepting "apps" for "applications"."""
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise ConfigError(f"unknown plugin kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def not_found_error(what: str, value: str, choices: Iterable[str], hint: str = "") -> NotFoundError:
    """Build a "not found, did you mean" error for `value` among `choices`.

    Plugins may use it for their own model names:
    `raise not_found_error("example encoder model", name, MODELS)`.
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.6)

    message = f"{what} {value!r} not found"
    if close:
        message += "; did you mean " + " or ".join(repr(name) for name in close) + "?"
    elif choices and len(choices) <= 12:
        message += "; available: " + ", ".join(choices)
    elif not choices:
        message += "; none is registered"
    if hint:
        message += " " + hint
    return NotFoundError(message)


class Registry:
    """The tables of one plugin set: kind -> {name -> Entry}, in registration order."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.broken_plugins: list[str] = []  # plugins that failed to load, named in not-found errors

    def add(self, kind: str, name: str, factory: Any, plugin: str, **info: Any) -> Entry | None:
        """Add an entry, or return the entry already registered under `name` and add nothing.

        Raises:
            PluginError: the name, factory or an info keyword is invalid.
        """
        kind = canonical_kind(kind)
        label = KIND_LABELS[kind]
        _validate_name(kind, name, plugin)

        unknown = sorted(set(info) - set(INFO_KEYS))
        if unknown:
            raise PluginError(
                f"plugin {plugin} registered {label} {name!r} with unknown keyword(s) {', '.join(unknown)}; "
                f"register() accepts {', '.join(INFO_KEYS)}"
            )
        if kind in CALLED_KINDS and not callable(factory):
            raise PluginError(
                f"plugin {plugin} registered {label} {name!r} with a {type(factory).__name__}, "
                "which is not callable; register a class or a function that builds the object"
            )

        entry = Entry(
            kind=kind,
            name=name,
            factory=factory,
            plugin=plugin,
            description=_validate_description(info.get("description"), label, name, plugin) or _first_doc_line(factory),
            default=_validate_default(info.get("default"), label, name, plugin),
            models=_validate_models(info.get("models"), label, name, plugin),
        )

        table = self._tables[kind]
        if name in table:
            return table[name]
        table[name] = entry
        return None

    def entries(self, kind: str) -> list[Entry]:
        """Return the entries of one table in registration order."""
        return list(self._tables[canonical_kind(kind)].values())

    def get(self, kind: str, name: str) -> Entry:
        """Return the entry registered as `name`, or raise `NotFoundError` with suggestions."""
        kind = canonical_kind(kind)
        table = self._tables[kind]
        if name in table:
            return table[name]
        raise not_found_error(KIND_LABELS[kind], name, table, self._not_found_hint(kind))

    def resolve_id(self, kind: str, model_id: str) -> tuple[str, str, str]:
        """Split a model id into (family, name, resolved id), applying the family's default.

        "timm:resnet50" -> ("timm", "resnet50", "timm:resnet50"); a bare family "dinov2" becomes
        ("dinov2", default, "dinov2:<default>"), or ("dinov2", "", "dinov2") without a default.
        """
        kind = canonical_kind(kind)
        if kind not in MODEL_KINDS:
            raise ConfigError(f"resolve_id works on {' and '.join(MODEL_KINDS)}, not {kind}; ids of {kind} are plain names")
        if not isinstance(model_id, str) or not model_id:
            raise ConfigError(f"{kind[:-1]} id {model_id!r} is invalid; write it as family:model, for example timm:resnet50.a1_in1k")

        family, colon, name = model_id.partition(":")
        entry = self.get(kind, family)
        if colon and not name:
            raise ConfigError(
                f"{kind[:-1]} id {model_id!r} has an empty model name; write {family}:<model>, "
                f"or {family} alone for the family's default"
            )
        if colon:
            return family, name, model_id

        default = entry.default or ""
        resolved = f"{family}:{default}" if default else family
        return family, default, resolved

    def load_model(self, kind: str, model_id: str, /, **options: Any) -> Any:
        """Build an encoder or target: the family's factory called as factory(name, **options)."""
        family, name, resolved = self.resolve_id(kind, model_id)
        if resolved != model_id:
            log.info("%s %r resolved to %r, the family's default", kind[:-1], model_id, resolved)
        return self.get(kind, family).factory(name, **options)

    def load_dataset(self, dataset_id: str, /, **options: Any) -> Any:
        """Build a data set: an exact name calls factory(**options); "family:arg" calls factory(arg, **options)."""
        if not isinstance(dataset_id, str) or not dataset_id:
            raise ConfigError(f"data set id {dataset_id!r} is invalid; use a registered name such as fashion-mnist, or folder:PATH")

        table = self._tables["datasets"]
        if dataset_id in table:
            return table[dataset_id].factory(**options)

        family, colon, argument = dataset_id.partition(":")
        if not colon:
            raise not_found_error("data set", dataset_id, table, self._not_found_hint("datasets"))
        if family not in table:
            raise not_found_error("data set family", family, table, self._not_found_hint("datasets"))
        if not argument:
            raise ConfigError(f"data set id {dataset_id!r} has nothing after the colon; write {family}:<argument>, such as folder:/data/train")
        return table[family].factory(argument, **options)

    def list_entries(self, kind: str, pattern: str | Iterable[str] | None = None) -> list[dict]:
        """Return the rows of one table whose names match any shell-style pattern, sorted by name.

        Matching ignores case: `list_entries("encoders", "tim*")` finds "timm".
        """
        if isinstance(pattern, str):
            patterns = [pattern]
        else:
            patterns = list(pattern or [])

        rows = []
        for entry in sorted(self.entries(kind), key=lambda entry: entry.name):
            if patterns and not any(fnmatch.fnmatchcase(entry.name.lower(), p.lower()) for p in patterns):
                continue
            rows.append(entry.row())
        return rows

    def _not_found_hint(self, kind: str) -> str:
        list_name = LIST_NAMES.get(kind, kind)
        hint = f"Run `t2c list {list_name}` to see what is registered, or install a plugin that provides it (`t2c plugins` shows the loaded ones)."
        if self.broken_plugins:
            hint += f" Plugins that failed to load: {', '.join(self.broken_plugins)}."
        return hint


def _validate_name(kind: str, name: Any, plugin: str) -> None:
    label = KIND_LABELS[kind]
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginError(f"plugin {plugin} registered {label} {name!r}; a name must be a non-empty string without surrounding spaces")
    if kind in MODEL_KINDS and ":" in name:
        raise PluginError(
            f"plugin {plugin} registered {label} {name!r}, which contains a colon; register the family "
            f"{name.partition(':')[0]!r} and let its factory receive the model name"
        )


def _validate_description(description: Any, label: str, name: str, plugin: str) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise PluginError(f"plugin {plugin} registered {label} {name!r} with description {description!r}; expected a string")
    return description


def _first_doc_line(factory: Any) -> str:
    """Return the first docstring line of a class or function factory, the fallback description."""
    if not (inspect.isclass(factory) or inspect.isfunction(factory)):
        return ""
    doc = inspect.getdoc(factory) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _validate_default(default: Any, label: str, name: str, plugin: str) -> str | None:
    if default is None or isinstance(default, str):
        return default or None
    raise PluginError(f"plugin {plugin} registered {label} {name!r} with default {default!r}; expected a model name string")


def _validate_models(models: Any, label: str, name: str, plugin: str) -> ModelList | None:
    if models is None or callable(models):
        return models
    if isinstance(models, str) or not isinstance(models, Iterable):
        raise PluginError(
            f"plugin {plugin} registered {label} {name!r} with models {models!r}; "
            "expected a list of model names or a function returning one"
        )
    return tuple(str(model) for model in models)


def get_registry() -> Registry:
    """Return the tables of the process-wide plugin set, loading plugins on first use."""
    from t2c.plugins import get_plugins  # t2c.plugins imports this module, so import at call time

    return get_plugins().registry


def resolve_id(kind: str, model_id: str) -> tuple[str, str, str]:
    """Return (family, name, resolved id) of an encoder or target id; see `Registry.resolve_id`."""
    return get_registry().resolve_id(kind, model_id)


def load_encoder(model_id: str, /, **options: Any) -> Any:
    """Build the encoder "family:name"; a bare family builds its default model (logged at INFO)."""
    return get_registry().load_model("encoders", model_id, **options)


def load_target(model_id: str, /, **options: Any) -> Any:
    """Build the target "family:name"; a bare family builds its default model (logged at INFO)."""
    return get_registry().load_model("targets", model_id, **options)


def load_dataset(dataset_id: str, /, **options: Any) -> Any:
    """Build a data set from a registered name ("fashion-mnist") or a family id ("folder:/data/x")."""
    return get_registry().load_dataset(dataset_id, **options)


def get_aligner(name: str, /, **params: Any) -> Any:
    """Build an unfitted aligner: the registered factory called with `params`."""
    return get_registry().get("aligners", name).factory(**params)


def get_application(name: str) -> Any:
    """Return the registered application (not called: applications take run-time arguments)."""
    return get_registry().get("applications", name).factory


def get_decoder(name: str) -> Any:
    """Return the registered concept-to-text decoder (not called, like applications)."""
    return get_registry().get("decoders", name).factory


def get_executor(name: str, /, **options: Any) -> Any:
    """Build a feature-extraction executor: the registered factory called with `options`."""
    return get_registry().get("executors", name).factory(**options)


def list_entries(kind: str, pattern: str | Iterable[str] | None = None) -> list[dict]:
    """Return rows (name, plugin, description, default, models, usage) of one table; see `Registry.list_entries`."""
    return get_registry().list_entries(kind, pattern)
