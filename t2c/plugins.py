"""Plugin loading: built-in modules and external distributions through one pluggy manager.

External plugins are distributions declaring an entry point in the group "t2c":

    [project.entry-points.t2c]
    example = "t2c_plugin_example"

`T2C_LOAD_PLUGINS=a,b` loads only the distributions named (an empty value loads none).
A plugin may fail to import, fail inside a hook or register a name another plugin already
registered. Each such problem is recorded on the plugin's `PluginInfo` and the failed part is
skipped. t2c then logs one warning and carries on, and `t2c plugins` shows the details.

Order: built-in modules in the order `t2c.builtins.BUILTIN_PLUGINS` lists them, then external
plugins sorted by distribution name. For a name registered twice the first registration wins.
"""

import difflib
import importlib
import importlib.metadata
import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import pluggy

from t2c import hookspecs
from t2c.builtins import BUILTIN_PLUGINS
from t2c.errors import PluginError
from t2c.registry import KIND_LABELS, KINDS, Registry

log = logging.getLogger("t2c.plugins")

ENTRY_POINT_GROUP = "t2c"
LOAD_PLUGINS_ENV = "T2C_LOAD_PLUGINS"
CORE_OWNER = "t2c"  # owner of the commands the core adds before plugins do


@dataclass(frozen=True)
class Clash:
    """A name that two registrations claimed: `kept` registered it first, `skipped` lost."""

    kind: str  # a registry table, or "commands"
    name: str
    kept: str
    skipped: str

    def describe(self) -> str:
        """Return one line such as "encoders 'example' registered by a and b; kept a's"."""
        return f"{self.kind} {self.name!r} registered by {self.kept} and {self.skipped}; kept {self.kept}'s"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "kept": self.kept, "skipped": self.skipped}


@dataclass
class PluginInfo:
    """Load report of one plugin, as `t2c plugins` shows it.

    `name` is the distribution name of an external plugin (with ":<entry point>" appended when a
    distribution declares several) and the module name of a built-in one. `names` maps a
    registry table (or "commands") to the names this plugin registered and kept.
    """

    name: str
    builtin: bool
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        return bool(self.errors or self.clashes)

    def problems(self) -> list[str]:
        """Return the load errors and clashes as lines of text."""
        return self.errors + [clash.describe() for clash in self.clashes]

    def to_dict(self) -> dict:
        """Return the JSON-ready form `t2c plugins --json` prints."""
        return {
            "name": self.name,
            "builtin": self.builtin,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "names": self.names,
            "error": "; ".join(self.errors) or None,
            "clash": [clash.to_dict() for clash in self.clashes],
        }


class Plugins:
    """A pluggy manager, the plugins registered with it and the registry their hooks filled.

    Build one with `load_plugins`; `get_plugins` keeps the one the process uses.
    """

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.manager.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}  # plugin name -> info, in load order
        self._command_owners: dict[str, str] = {}  # command name -> plugin that added it

    def add_builtin(self, module_name: str) -> None:
        """Import a built-in plugin module and register it; record a failure instead of raising."""
        info = PluginInfo(name=module_name, builtin=True, module=module_name, version=_t2c_version())
        self.infos[info.name] = info

        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # a plugin module may raise anything at import
            self._record_error(info, "import failed", error)
            return
        self._register(info, module)

    def add_entry_point(self, plugin_name: str, entry_point: importlib.metadata.EntryPoint) -> None:
        """Load an external plugin's entry point and register it; record a failure instead of raising."""
        distribution = entry_point.dist
        info = PluginInfo(
            name=plugin_name,
            builtin=False,
            module=entry_point.value,
            distribution=distribution.name if distribution else None,
            version=distribution.version if distribution else None,
        )
        self.infos[info.name] = info

        try:
            plugin = entry_point.load()
        except Exception as error:  # a plugin module may raise anything at import
            self._record_error(info, "import failed", error)
            return
        self._register(info, plugin)

    def add_missing(self, distribution: str) -> None:
        """Record a distribution that T2C_LOAD_PLUGINS names but that provides no "t2c" entry point."""
        info = PluginInfo(name=distribution, builtin=False, distribution=distribution)
        info.errors.append(
            f"{LOAD_PLUGINS_ENV} names {distribution!r}, but no installed distribution of that name "
            f"declares an entry point in the group {ENTRY_POINT_GROUP!r}; install it or fix the name"
        )
        self.infos[info.name] = info

    def fill_registry(self) -> None:
        """Call every register_* hook plugin by plugin, so one failing plugin cannot stop the others."""
        for kind in KINDS:
            hook_name = f"register_{kind}"
            for info, function, argnames in self._implementations(hook_name):
                register = self._register_function(kind, info)
                arguments = {"register": register}
                try:
                    function(*(arguments[name] for name in argnames))
                except Exception as error:  # plugin code may raise anything
                    self._record_error(info, f"hook {hook_name} failed", error)

        self.registry.broken_plugins = [info.name for info in self.infos.values() if info.errors]

    def add_commands(self, cli: click.Group) -> None:
        """Let each plugin's register_commands hook add commands to `cli`.

        A command name that is already taken keeps its first command, and the clash is reported.
        A hook that raises is reported, and the commands it added before raising stay.
        """
        for name in cli.commands:
            self._command_owners.setdefault(name, CORE_OWNER)

        for info, function, argnames in self._implementations("register_commands"):
            before = dict(cli.commands)
            arguments = {"cli": cli}
            try:
                function(*(arguments[name] for name in argnames))
            except Exception as error:  # plugin code may raise anything
                self._record_error(info, "hook register_commands failed", error)
                log.warning("plugin %s failed to add its commands: %s", info.name, error)

            self._keep_first_commands(cli, before, info)

    def problem_plugins(self) -> list[PluginInfo]:
        """Return the plugins with a load error or a clash."""
        return [info for info in self.infos.values() if info.has_problems]

    def warn_problems(self) -> None:
        """Log one warning naming every plugin with a load error or a clash."""
        problems = self.problem_plugins()
        if not problems:
            return
        details = "; ".join(f"{info.name}: {' / '.join(info.problems())}" for info in problems)
        log.warning("%d t2c plugin(s) failed to load or clashed, run `t2c plugins` for details: %s", len(problems), details)

    def _register(self, info: PluginInfo, plugin: object) -> None:
        try:
            self.manager.register(plugin, name=info.name)
        except (ValueError, pluggy.PluginValidationError) as error:
            self._record_error(info, "registration failed", error)
            return

        callers = self.manager.get_hookcallers(plugin) or []
        info.hooks = sorted(caller.name for caller in callers)

        for caller in callers:
            if not caller.has_spec():
                self._record_unknown_hook(info, caller.name)

    def _record_unknown_hook(self, info: PluginInfo, hook_name: str) -> None:
        known = [name for name in dir(hookspecs) if name.startswith("register_")]
        message = f"implements unknown hook {hook_name!r}, which t2c never calls"
        close = difflib.get_close_matches(hook_name, known, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        info.errors.append(message)

    def _implementations(self, hook_name: str) -> list[tuple[PluginInfo, Callable, tuple[str, ...]]]:
        """Return (plugin, function, argument names) of each implementation, in load order."""
        by_plugin: dict[str, list] = {}
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            by_plugin.setdefault(implementation.plugin_name, []).append(implementation)

        ordered = []
        for info in self.infos.values():
            for implementation in by_plugin.get(info.name, []):
                ordered.append((info, implementation.function, tuple(implementation.argnames)))
        return ordered

    def _register_function(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        """Return the `register` callable a plugin's register_<kind> hook receives."""

        def register(name: str, factory: Any, **details: Any) -> None:
            """Register `factory` under `name`; keywords: description, default, models."""
            earlier = self.registry.add(kind, name, factory, plugin=info.name, **details)
            if earlier is None:
                info.names.setdefault(kind, []).append(name)
                return

            clash = Clash(kind=kind, name=name, kept=earlier.plugin, skipped=info.name)
            self._record_clash(clash)
            log.debug("%s %r from plugin %s skipped: %s", KIND_LABELS[kind], name, info.name, clash.describe())

        return register

    def _keep_first_commands(self, cli: click.Group, before: dict[str, click.Command], info: PluginInfo) -> None:
        for name, command in before.items():
            if cli.commands.get(name) is command:
                continue
            cli.add_command(command, name)  # restore the first command under its name
            self._record_clash(Clash(kind="commands", name=name, kept=self._command_owners[name], skipped=info.name))

        for name in cli.commands:
            if name not in before:
                self._command_owners[name] = info.name
                info.names.setdefault("commands", []).append(name)

    def _record_clash(self, clash: Clash) -> None:
        for plugin_name in dict.fromkeys([clash.kept, clash.skipped]):
            if plugin_name in self.infos:
                self.infos[plugin_name].clashes.append(clash)

    def _record_error(self, info: PluginInfo, step: str, error: Exception) -> None:
        info.errors.append(f"{step}: {type(error).__name__}: {error}")
        log.debug("plugin %s: %s", info.name, step, exc_info=error)


def normalize_distribution_name(name: str) -> str:
    """Normalise a distribution name as packaging does: "T2C_Plugin.Example" -> "t2c-plugin-example"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def selected_distributions() -> frozenset[str] | None:
    """Return the distributions T2C_LOAD_PLUGINS selects, normalised; None when it is unset (load all)."""
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    names = (part.strip() for part in value.split(","))
    return frozenset(normalize_distribution_name(name) for name in names if name)


def external_entry_points(distributions: Collection[str] | None) -> tuple[list[tuple[str, importlib.metadata.EntryPoint]], list[str]]:
    """Find the "t2c" entry points to load.

    Args:
        distributions: distribution names to load; None loads every installed plugin.

    Returns:
        (plugin name, entry point) pairs sorted by plugin name, and the requested distribution
        names that declare no entry point in the group.
    """
    wanted = None if distributions is None else {normalize_distribution_name(name) for name in distributions}

    by_distribution: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution_name = entry_point.dist.name if entry_point.dist else entry_point.name
        if wanted is not None and normalize_distribution_name(distribution_name) not in wanted:
            continue
        by_distribution.setdefault(distribution_name, []).append(entry_point)

    found = []
    for distribution_name, entry_points in by_distribution.items():
        for entry_point in entry_points:
            plugin_name = distribution_name if len(entry_points) == 1 else f"{distribution_name}:{entry_point.name}"
            found.append((plugin_name, entry_point))
    found.sort(key=lambda pair: normalize_distribution_name(pair[0]))

    loaded = {normalize_distribution_name(name) for name in by_distribution}
    missing = sorted((wanted or set()) - loaded)
    return found, missing


def load_plugins(distributions: Collection[str] | None = None, builtin_modules: Sequence[str] = BUILTIN_PLUGINS) -> Plugins:
    """Load built-in and external plugins into a new `Plugins` and fill its registry.

    Args:
        distributions: external distributions to load by name; None loads every installed one,
            an empty collection none.
        builtin_modules: module names of the built-in plugins.
    """
    plugins = Plugins()

    for module_name in builtin_modules:
        plugins.add_builtin(module_name)

    found, missing = external_entry_points(distributions)
    for plugin_name, entry_point in found:
        plugins.add_entry_point(plugin_name, entry_point)
    for distribution in missing:
        plugins.add_missing(distribution)

    plugins.fill_registry()
    plugins.warn_problems()
    log.debug("loaded %d plugin(s): %s", len(plugins.infos), ", ".join(plugins.infos))
    return plugins


class _PluginCache:
    """The `Plugins` of this process, built on first use from T2C_LOAD_PLUGINS."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._plugins: Plugins | None = None
        self._loading = False

    def get(self) -> Plugins:
        with self._lock:
            if self._plugins is not None:
                return self._plugins
            if self._loading:
                raise PluginError("a plugin looked up t2c's registry while plugins were still loading; look names up inside factories, not in hooks")

            self._loading = True
            try:
                self._plugins = load_plugins(selected_distributions())
            finally:
                self._loading = False
            return self._plugins

    def reset(self) -> None:
        with self._lock:
            self._plugins = None


_cache = _PluginCache()


def get_plugins() -> Plugins:
    """Return the process-wide `Plugins`, loading them on first use."""
    return _cache.get()


def reset_plugins() -> None:
    """Forget the process-wide `Plugins`, so the next lookup loads them again (for tests)."""
    _cache.reset()


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the pluggy manager of the process-wide `Plugins`."""
    return get_plugins().manager


def add_plugin_commands(cli: click.Group) -> None:
    """Add the commands of every plugin's register_commands hook to the `t2c` group; call once per group."""
    get_plugins().add_commands(cli)


def _t2c_version() -> str | None:
    try:
        return importlib.metadata.version("t2c")
    except importlib.metadata.PackageNotFoundError:
        return None
