"""Build the plugin manager and its typed facade, ``Plugins``, with the two registries.

``build_plugins`` loads every plugin (see ``loading``: built-ins, installed entry points,
a config's local plugins), then calls each plugin's ``register_readers`` and
``register_encoders`` hooks once, so every registered name is attributed to its plugin.
``OSAI_IMPORT_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from osai_import.errors import OsaiImportError
from osai_import.plugin.base import Encoder, Reader
from osai_import.plugin.loading import (
    DEFAULT_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    TRACE_ENV,
    Loader,
    PluginInfo,
    PluginLoadWarning,
    env_flag,
    load_builtins,
    load_entry_points,
    load_local,
    one_line,
    where,
)
from osai_import.plugin.registry import Registry

__all__ = [
    "DEFAULT_PLUGINS", "DISABLE_ENV", "ENTRY_POINT_GROUP", "STRICT_ENV", "TRACE_ENV",
    "PluginInfo", "PluginLoadWarning", "Plugins", "build_plugins",
]


@dataclass
class Plugins:
    """The typed facade over pluggy: the rest of the code never calls ``pm.hook``."""

    manager: pluggy.PluginManager
    readers: Registry[Reader]
    encoders: Registry[Encoder]
    info: list[PluginInfo]
    problems: list[str] = field(default_factory=list)  # the warnings given while loading

    def third_party(self) -> list[PluginInfo]:
        """Return the plugins that are not built in."""
        return [p for p in self.info if p.kind != "builtin"]

    def listing(self, kind: str) -> list[dict[str, Any]]:
        """Return JSON-ready rows for `osai-import readers`/`encoders` (kind: the command).

        Each row: the registered name, the plugin that registered it, that plugin's
        distribution and version, and the class's one-line description.
        """
        registries: dict[str, Registry[Any]] = {"readers": self.readers, "encoders": self.encoders}
        registry = registries[kind]
        by_name = {p.name: p for p in self.info}
        rows = []
        for entry in registry:
            plugin = by_name.get(entry.plugin)
            rows.append({
                "name": entry.name,
                "plugin": entry.plugin,
                "distribution": plugin.distribution if plugin else None,
                "version": plugin.version if plugin else None,
                "description": entry.description,
            })
        return rows


def _fill(loader: Loader, hook_name: str, registry: Registry[Any]) -> None:
    """Call ``hook_name`` once per plugin, in pluggy's order, so names are attributed."""
    pm = loader.pm
    impls = list(reversed(getattr(pm.hook, hook_name).get_hookimpls()))  # call order
    done: set[str] = set()
    for impl in impls:
        name = impl.plugin_name
        if name in done:
            continue
        done.add(name)
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)

        def register(cls: Any, _plugin: str = name) -> None:
            problem = registry.problem_with(cls, _plugin)
            if problem:
                loader.problem(problem)
                return
            registry.add(cls, _plugin)  # a duplicate name stops start-up

        try:
            caller(register=register)
        except OsaiImportError:
            raise
        except Exception as exc:  # noqa: BLE001 - the plugin's own code failed inside its hook
            loader.problem(
                f"plugin {name!r} failed in its {hook_name} hook: {one_line(exc)}"
                f"{where(exc)}; fix the plugin or skip it with {DISABLE_ENV}={name}"
            )


def build_plugins(
    local: Sequence[str] = (),
    base_dir: Path | None = None,
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Build the plugin manager and fill the reader and encoder registries.

    ``local`` holds a config's ``plugins:`` entries (``.py`` paths, relative to
    ``base_dir``, or module names); one that cannot be loaded raises ConfigError with a
    ``plugins.N: ...`` line each. ``entry_points=False`` leaves installed plugins out.
    ``extra`` registers ready-made plugin objects by name (for tests and embedding).
    A duplicate reader or encoder name raises RegistryError naming both plugins.
    """
    loader = Loader()
    if env_flag(TRACE_ENV):
        loader.pm.trace.root.setwriter(sys.stderr.write)
        loader.pm.enable_tracing()
    load_builtins(loader)
    if entry_points:
        load_entry_points(loader)
    load_local(loader, local, base_dir)
    for name, plugin in extra:
        if not loader.is_disabled(name):
            loader.add(plugin, PluginInfo(name, "extra", source=repr(plugin)),
                       f"plugin {name!r}", loader.problem)
    for item in loader.info:
        plugin = loader.pm.get_plugin(item.name)
        item.hooks = sorted(c.name for c in loader.pm.get_hookcallers(plugin) or [])
    readers: Registry[Reader] = Registry("reader", Reader)
    encoders: Registry[Encoder] = Registry("encoder", Encoder)
    _fill(loader, "register_readers", readers)
    _fill(loader, "register_encoders", encoders)
    return Plugins(loader.pm, readers, encoders, loader.info, loader.problems)
