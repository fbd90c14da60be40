"""Build the plugin manager: built-ins, installed entry points, and a config's local plugins.

A plugin that fails to load gives a warning naming it and a fix, and the tool goes on;
``OSAI_IMPORT_STRICT_PLUGINS=1`` makes that fatal. ``OSAI_IMPORT_DISABLE_PLUGINS=a,b``
blocks plugins by name. ``OSAI_IMPORT_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from osai_import import hookspecs
from osai_import.base import Encoder, Reader
from osai_import.errors import PluginError
from osai_import.registry import Registry

ENTRY_POINT_GROUP = "osai_import"

# Built-ins are plugins like any other, registered from this explicit list so that
# start-up never depends on scanning the package.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "osai_import.default_plugins.folder_reader",
    "osai_import.default_plugins.csv_reader",
    "osai_import.default_plugins.coco_reader",
    "osai_import.default_plugins.voc_encoder",
    "osai_import.default_plugins.none_encoder",
)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded and was left out."""


@dataclass
class PluginInfo:
    """What `osai-import plugins` shows about one loaded plugin."""

    name: str
    kind: str  # "builtin", "entry point" or "local"
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
        }


@dataclass
class Plugins:
    """The typed facade over pluggy: the rest of the code never calls ``pm.hook``."""

    manager: pluggy.PluginManager
    readers: Registry[Reader]
    encoders: Registry[Encoder]
    info: list[PluginInfo]

    def third_party(self) -> list[PluginInfo]:
        """Return the plugins that are not built in."""
        return [p for p in self.info if p.kind != "builtin"]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled() -> set[str]:
    raw = os.environ.get("OSAI_IMPORT_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _problem(message: str) -> None:
    if _env_flag("OSAI_IMPORT_STRICT_PLUGINS"):
        raise PluginError(message)
    warnings.warn(message, PluginLoadWarning, stacklevel=3)


def _import_local(spec: str, base_dir: Path | None) -> tuple[str, ModuleType]:
    """Import a config `plugins:` entry: a path to a .py file, or an importable module name."""
    if spec.endswith(".py") or "/" in spec or os.sep in spec:
        path = Path(spec).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        name = f"osai_import_local_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return path.stem, module
    return spec, importlib.import_module(spec)


def _register(pm: pluggy.PluginManager, plugin: object, name: str, what: str) -> bool:
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        _problem(f"plugin {what} was not loaded: {exc}")
        return False
    # check_pending catches hook functions whose names match no spec (usually a typo).
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(plugin)
        _problem(f"plugin {what} was not loaded: {exc}; check the spelling of its hook names")
        return False
    return True


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    callers = pm.get_hookcallers(plugin) or []
    return sorted(caller.name for caller in callers)


def build_plugins(
    local: Sequence[str] = (),
    base_dir: Path | None = None,
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Build the plugin manager and fill the reader and encoder registries.

    ``local`` holds a config's ``plugins:`` entries (``.py`` paths, relative to
    ``base_dir``, or module names). ``extra`` registers ready-made plugin objects by
    name (for tests and embedding).
    """
    pm = pluggy.PluginManager("osai_import")
    pm.add_hookspecs(hookspecs)
    if _env_flag("OSAI_IMPORT_TRACE_PLUGINS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    disabled = _disabled()
    info: list[PluginInfo] = []

    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if short in disabled or module_name in disabled:
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        info.append(PluginInfo(module_name, "builtin", _own_version(), "osai-import"))

    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in disabled:
                continue
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            what = f"{ep.name!r} (distribution {dist or 'unknown'} {version or ''})".replace(" )", ")")
            if pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # any import-time failure of third-party code
                _problem(
                    f"plugin {what} failed to load: {type(exc).__name__}: {exc}; "
                    f"reinstall it, `pip uninstall {dist or ep.name}`, or set "
                    f"OSAI_IMPORT_DISABLE_PLUGINS={ep.name}"
                )
                continue
            if _register(pm, plugin, ep.name, what):
                info.append(PluginInfo(ep.name, "entry point", version, dist))

    for spec in local:
        try:
            name, module = _import_local(spec, base_dir)
        except Exception as exc:
            _problem(
                f"local plugin {spec!r} (from the config's `plugins:`) failed to load: "
                f"{type(exc).__name__}: {exc}; fix the file or remove it from `plugins:`"
            )
            continue
        if name in disabled:
            continue
        if _register(pm, module, name, f"{spec!r}"):
            info.append(PluginInfo(name, "local", getattr(module, "__version__", None), None))

    for name, plugin in extra:
        if _register(pm, plugin, name, repr(name)):
            info.append(PluginInfo(name, "local", None, None))

    for item in info:
        item.hooks = _hooks_of(pm, pm.get_plugin(item.name))

    readers: Registry[Reader] = Registry("reader", Reader)
    encoders: Registry[Encoder] = Registry("encoder", Encoder)
    _fill(pm, "register_readers", readers)
    _fill(pm, "register_encoders", encoders)
    return Plugins(pm, readers, encoders, info)


def _fill(pm: pluggy.PluginManager, hook_name: str, registry: Registry[Any]) -> None:
    # Each plugin is called on its own so the registry knows who registered what, which
    # is what makes a duplicate-name error able to name both plugins.
    all_plugins = [p for p in pm.get_plugins()]
    for plugin in all_plugins:
        name = pm.get_name(plugin) or repr(plugin)
        if hook_name not in _hooks_of(pm, plugin):
            continue
        others = [p for p in all_plugins if p is not plugin]
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=lambda cls, _name=name: registry.add(cls, _name))


def _own_version() -> str:
    from osai_import import __version__

    return __version__
