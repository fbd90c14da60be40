"""Find and load plugins: built-ins, installed entry points, a config's local plugins.

An installed plugin that fails to load gives a warning naming it, its distribution and a
fix, and the tool goes on; ``OSAI_IMPORT_STRICT_PLUGINS=1`` makes that fatal.
``OSAI_IMPORT_DISABLE_PLUGINS=a,b`` blocks plugins by name. A plugin the config names
under ``plugins:`` is part of the config: if it cannot be loaded, that is a ConfigError.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from osai_import.errors import ConfigError, PluginError
from osai_import.plugin import spec as hook_specs
from osai_import.version import __version__

ENTRY_POINT_GROUP = "osai_import"
STRICT_ENV = "OSAI_IMPORT_STRICT_PLUGINS"
DISABLE_ENV = "OSAI_IMPORT_DISABLE_PLUGINS"
TRACE_ENV = "OSAI_IMPORT_TRACE_PLUGINS"

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
    kind: str  # "builtin", "entry point", "local" (config `plugins:`) or "extra" (embedding)
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)
    source: str | None = None  # the module, entry point value or file it came from

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "source": self.source,
        }


def env_flag(name: str) -> bool:
    """Return True when the environment variable ``name`` is set to 1, true, yes or on."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _canonical(name: str) -> str:
    # Distribution names compare the PEP 503 way; plugin names the same, for forgiveness.
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _disabled() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {_canonical(part) for part in raw.split(",") if part.strip()}


class Loader:
    """Per-build state: the manager, what was loaded, and how problems are reported."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("osai_import")
        self.pm.add_hookspecs(hook_specs)
        self.strict = env_flag(STRICT_ENV)
        self.disabled = _disabled()
        self.info: list[PluginInfo] = []
        self.problems: list[str] = []

    def is_disabled(self, *names: str | None) -> bool:
        """Return True when any of ``names`` is in OSAI_IMPORT_DISABLE_PLUGINS."""
        return any(_canonical(n) in self.disabled for n in names if n)

    def problem(self, message: str) -> None:
        """Warn about a plugin that is left out, or stop in strict mode."""
        if self.strict:
            raise PluginError(message)
        self.problems.append(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=4)

    def register(self, plugin: object, name: str, what: str) -> str | None:
        """Register ``plugin``; return why it was refused, or None."""
        if self.pm.has_plugin(name):
            return f"{what} has the same name as plugin {name!r} loaded before it; rename one"
        try:
            self.pm.register(plugin, name=name)
        except ValueError as exc:  # the same object registered twice
            return f"{what} was not loaded: {exc}"
        except pluggy.PluginValidationError as exc:
            return f"{what} was not loaded: {_signature_problem(self.pm, plugin, exc)}"
        try:
            # check_pending catches hook functions whose names match no spec (usually a typo).
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(plugin)
            return f"{what} was not loaded: {_unknown_hooks(self.pm, plugin)}"
        return None

    def add(self, plugin: object, info: PluginInfo, what: str, fail: Callable[[str], None]) -> None:
        """Register ``plugin`` and record ``info``; report a refusal through ``fail``."""
        refused = self.register(plugin, info.name, what)
        if refused:
            fail(refused)
            return
        if not self.pm.get_hookcallers(plugin) and info.kind != "builtin":
            fail(f"{what} implements no osai_import hook; decorate its register_readers or "
                 f"register_encoders function with @osai_import.hookimpl")
        self.info.append(info)


def _spec_names(pm: pluggy.PluginManager) -> list[str]:
    # pm.hook also holds callers made for unknown names a plugin used: leave those out.
    return sorted(
        n for n in dir(pm.hook)
        if not n.startswith("_") and getattr(getattr(pm.hook, n), "spec", None) is not None
    )


def _hook_functions(pm: pluggy.PluginManager, plugin: object) -> dict[str, Any]:
    found = {}
    for attr in dir(plugin):
        try:
            if pm.parse_hookimpl_opts(plugin, attr) is not None:
                found[attr] = getattr(plugin, attr)
        except Exception:  # noqa: BLE001 - an attribute that cannot even be read is no hook
            continue
    return found


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    known = _spec_names(pm)
    unknown = []
    for attr in _hook_functions(pm, plugin):
        if attr not in known:
            close = difflib.get_close_matches(attr, known, n=1)
            unknown.append(f"{attr} (did you mean {close[0]}?)" if close else attr)
    return (
        f"it implements {', '.join(unknown) or 'a hook'}, which osai-import does not define "
        f"(hooks: {', '.join(known)}); fix the function's name"
    )


def _signature_problem(pm: pluggy.PluginManager, plugin: object, exc: Exception) -> str:
    for attr, function in _hook_functions(pm, plugin).items():
        spec = getattr(getattr(pm.hook, attr, None), "spec", None)
        if spec is None:
            continue
        try:
            params = [p for p in inspect.signature(function).parameters if p != "self"]
        except (TypeError, ValueError):
            continue
        extra = [p for p in params if p not in spec.argnames]
        if extra:
            return (
                f"its hook {attr}({', '.join(params)}) asks for {', '.join(extra)}, which the "
                f"hook does not pass; write it as {attr}({', '.join(spec.argnames)})"
            )
    return " ".join(str(exc).split())


def where(exc: BaseException) -> str:
    """Return `` (at file:line)`` for the plugin's own line where ``exc`` was raised."""
    # The last frame of the failure is usually the plugin's own line: show it.
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {exc.filename}:{exc.lineno})"
    machinery = os.path.dirname(importlib.__file__ or "")
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and os.path.dirname(f.filename) != machinery
        and os.path.dirname(f.filename) != os.path.dirname(metadata.__file__ or "")
    ]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def one_line(exc: BaseException) -> str:
    """Return ``Type: message`` of ``exc`` on one line."""
    text = " ".join((exc.msg if isinstance(exc, SyntaxError) else str(exc)).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_builtins(loader: Loader) -> None:
    """Register the built-in plugins, the modules of ``DEFAULT_PLUGINS``."""
    for module_name in DEFAULT_PLUGINS:
        if loader.is_disabled(module_name, module_name.rsplit(".", 1)[-1]):
            continue
        what = f"built-in plugin {module_name!r}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not take the plugins of others down
            loader.problem(
                f"{what} failed to load: {one_line(exc)}{where(exc)}; this is a bug in "
                f"osai-import, please report it (OSAI_IMPORT_DISABLE_PLUGINS="
                f"{module_name.rsplit('.', 1)[-1]} skips it)"
            )
            continue
        info = PluginInfo(module_name, "builtin", __version__, "osai-import", source=module_name)
        loader.add(module, info, what, loader.problem)


def load_entry_points(loader: Loader) -> None:
    """Register the plugins installed under the ``osai_import`` entry point group."""
    try:
        points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # noqa: BLE001 - a corrupt *.dist-info somewhere in the environment
        loader.problem(
            f"the installed plugins could not be listed: {one_line(exc)}; a package's "
            f"metadata is damaged, reinstall the last package you installed"
        )
        return
    for ep in sorted(points, key=lambda e: (e.name, e.value)):
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        if loader.is_disabled(ep.name, dist):
            continue
        release = f"{dist or 'unknown'} {version}" if version else dist or "unknown"
        what = f"plugin {ep.name!r} (distribution {release})"
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import-time failure of third-party code
            package = dist or ep.value.split(":")[0].split(".")[0]
            loader.problem(
                f"{what} failed to load: {one_line(exc)}{where(exc)}; upgrade or reinstall "
                f"it (pip install --upgrade --force-reinstall {package}), uninstall it "
                f"(pip uninstall {package}), or skip it with {DISABLE_ENV}={ep.name}"
            )
            continue
        info = PluginInfo(ep.name, "entry point", version, dist, source=ep.value)
        loader.add(plugin, info, what, loader.problem)


def _import_file(path: Path) -> ModuleType:
    # A digest of the path keeps two `my_layout.py` from different folders apart.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"osai_import_local_{stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or spec.startswith("~")


def _fail_at(fail: Callable[[str], None], at: str, message: str) -> None:
    fail(f"{at}: {message}")


def load_local(loader: Loader, local: Sequence[str], base_dir: Path | None) -> None:
    """Register a config's ``plugins:`` entries; raise ConfigError naming those that fail."""
    lines: list[str] = []
    for index, spec in enumerate(local):
        at = f"plugins.{index}"
        fail = lines.append
        if _is_path(spec):
            path = Path(spec).expanduser()
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            name, source = path.stem, str(path)
            if loader.is_disabled(name, spec):
                continue
            if not path.is_file():
                fail(f"{at}: plugin file {path} does not exist; fix the path (relative "
                     f"paths start at the config's folder)")
                continue
            importer: Callable[[], ModuleType] = partial(_import_file, path)
        else:
            if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", spec):
                fail(f"{at}: {spec!r} is neither a .py file nor a module name")
                continue
            name, source = spec, spec
            if loader.is_disabled(name):
                continue
            importer = partial(importlib.import_module, spec)
        try:
            module = importer()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken app must answer 500, not drop the connection
            missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
            if missing and (spec == missing or spec.startswith(f"{missing}.")):
                fail(f"{at}: no module named {spec!r}; install it, or give the path of a "
                     f".py file")
            else:
                fail(f"{at}: plugin {spec!r} failed to load: {one_line(exc)}{where(exc)}; "
                     f"fix it or remove it from `plugins:`")
            continue
        version = getattr(module, "__version__", None)
        info = PluginInfo(name, "local", version if isinstance(version, str) else None,
                          source=source)
        loader.add(module, info, f"plugin {spec!r}", partial(_fail_at, fail, at))
    if lines:
        raise ConfigError("a plugin named in the config cannot be used", lines=lines)
