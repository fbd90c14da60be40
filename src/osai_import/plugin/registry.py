"""Name -> class registries for readers and encoders, refusing duplicate names.

A plugin registers a class, or a ``Deferred`` naming where the class lives: a deferred
class is imported and checked the first time its entry's ``cls`` is asked for (a config
names it, or a command lists every class).
"""

from __future__ import annotations

import difflib
import inspect
import re
import warnings
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from osai_import.errors import RegistryError
from osai_import.plugin.base import Encoder, PluginOptions, Reader
from osai_import.plugin.deferred import Deferred
from osai_import.plugin.loading import STRICT_ENV, PluginLoadWarning, env_flag

T = TypeVar("T", Reader, Encoder)

# Names are what users type in `source.type`/`annotations.type`: one plain word.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Entry(Generic[T]):
    """One registered class (or deferred class) and the plugin that registered it."""

    def __init__(self, name: str, cls: type[T] | Deferred, plugin: str,
                 registry: Registry[T] | None = None) -> None:
        self.name = name
        self.plugin = plugin
        self._cls: type[T] | Deferred = cls
        self._registry: Registry[T] | None = registry

    @property
    def deferred(self) -> bool:
        """Return True while the class is not imported yet."""
        return isinstance(self._cls, Deferred)

    @property
    def cls(self) -> type[T]:
        """Return the class, importing and checking a deferred one the first time.

        Raises RegistryError naming the plugin when a deferred class cannot be imported,
        is not a valid reader/encoder, or has another ``name`` than it was deferred as.
        """
        if isinstance(self._cls, Deferred):
            assert self._registry is not None
            loaded = self._registry.resolve(self._cls, self.plugin)
            self._cls = loaded
            return loaded
        return self._cls

    def __repr__(self) -> str:
        return f"Entry({self.name!r}, {self._cls!r}, {self.plugin!r})"

    @property
    def description(self) -> str:
        """Return the one-line description (the first line of the class's own docstring)."""
        own_method = getattr(self.cls.description, "__func__", None) is not getattr(
            Reader.description, "__func__", None
        )
        # inspect.getdoc falls back to the base class's docstring, so a class without one
        # would be listed with Reader's or Encoder's text as if it described it.
        documented = any(
            vars(klass).get("__doc__")
            for klass in self.cls.__mro__
            if klass not in (Reader, Encoder) and issubclass(klass, (Reader, Encoder))
        )
        if not own_method and not documented:
            return ""
        return self.cls.description()


# Readers this project ships as separate packages (plugins/ in its repository): a config
# that names one of them on a machine without it is told which package to install.
KNOWN_PACKAGES = {
    "yolo": "osai-import-yolo",
    "voc": "osai-import-voc",
    "labelme": "osai-import-labelme",
    "cvat": "osai-import-cvat",
    "labelstudio": "osai-import-labelstudio",
}


def _where(cls: object) -> str:
    if isinstance(cls, Deferred):
        return cls.target.replace(":", ".")
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"


class Registry(Generic[T]):
    """Map names to reader or encoder classes; a name can be registered only once."""

    def __init__(self, kind: str, base: type[Any]) -> None:
        self.kind = kind
        self._base = base
        self._entries: dict[str, Entry[T]] = {}

    def problem_with(self, cls: object, plugin: str) -> str | None:
        """Return why ``cls`` cannot be registered as a reader/encoder, or None if it can.

        Duplicate names are not checked here: they are ``add``'s job. A ``Deferred`` is
        checked for its name only; its class is checked when it is imported.
        """
        if isinstance(cls, Deferred):
            if not isinstance(cls.name, str) or not _NAME.match(cls.name):
                return (
                    f"plugin {plugin!r} deferred a {self.kind} named {cls.name!r}; give it "
                    f"a name of letters, digits, '_', '.' or '-' (the class's own `name`)"
                )
            return None
        hook = f"register_{self.kind}s"
        if not (isinstance(cls, type) and issubclass(cls, self._base)):
            return (
                f"plugin {plugin!r} registered {cls!r} as a {self.kind}, but it is not a "
                f"subclass of osai_import.{self._base.__name__}; fix the plugin's {hook} hook"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            return (
                f"plugin {plugin!r} registered {self.kind} class {cls.__qualname__} with "
                f"name {name!r}; give the class a `name` of letters, digits, '_', '.' or '-' "
                f"(for example name = \"my-layout\")"
            )
        if inspect.isabstract(cls):
            missing = ", ".join(f"{m}()" for m in sorted(getattr(cls, "__abstractmethods__", ())))
            return (
                f"plugin {plugin!r} registered {self.kind} {name!r} ({cls.__qualname__}), "
                f"which does not implement {missing}; implement it in the class"
            )
        options = getattr(cls, "Options", None)
        if not (isinstance(options, type) and issubclass(options, PluginOptions)):
            return (
                f"plugin {plugin!r} registered {self.kind} {name!r} whose `Options` is not a "
                f"subclass of osai_import.PluginOptions; derive it from ReaderOptions or "
                f"PluginOptions"
            )
        if options.model_config.get("extra") != "forbid":
            return (
                f"plugin {plugin!r} registered {self.kind} {name!r} whose `Options` accept "
                f"unknown keys; remove the `extra=` setting so misspelled options are errors"
            )
        return None

    def add(self, cls: type[T] | Deferred, plugin: str) -> None:
        """Register ``cls`` under its name on behalf of ``plugin``."""
        problem = self.problem_with(cls, plugin)
        if problem:
            raise RegistryError(problem)
        name = cls.name
        other = self._entries.get(name)
        if other is not None:
            if other._cls == cls and other.plugin == plugin:
                return  # the same plugin registering the same class twice changes nothing
            raise RegistryError(
                f"{self.kind} name {name!r} is registered twice: by plugin {other.plugin!r} "
                f"({_where(other._cls)}) and by plugin {plugin!r} ({_where(cls)}); uninstall "
                f"one of them or disable it with OSAI_IMPORT_DISABLE_PLUGINS={plugin}"
            )
        self._entries[name] = Entry(name, cls, plugin, self)

    def resolve(self, deferred: Deferred, plugin: str) -> type[T]:
        """Import a deferred class and check it as ``add`` checks a class; RegistryError if not."""
        try:
            cls = deferred.load()
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RegistryError(
                f"plugin {plugin!r} registered the {self.kind} {deferred.name!r} as "
                f"{deferred.target}, which cannot be loaded ({type(exc).__name__}"
                f"{': ' + detail if detail else ''}); reinstall or fix the plugin, or disable "
                f"it with OSAI_IMPORT_DISABLE_PLUGINS={plugin}"
            ) from exc
        problem = self.problem_with(cls, plugin)
        if problem:
            raise RegistryError(problem)
        if cls.name != deferred.name:
            raise RegistryError(
                f"plugin {plugin!r} deferred the {self.kind} {deferred.name!r} to "
                f"{deferred.target}, whose name is {cls.name!r}; make the two names the same "
                f"in the plugin"
            )
        loaded: type[T] = cls
        return loaded

    def get(self, name: str) -> Entry[T]:
        """Return the entry for ``name`` or raise an error listing the known names."""
        try:
            return self._entries[name]
        except KeyError:
            pass
        known = sorted(self._entries)
        listing = f"installed: {', '.join(known)}" if known else f"no {self.kind}s are registered"
        package = KNOWN_PACKAGES.get(str(name).lower()) if self.kind == "reader" else None
        if package is not None:
            raise RegistryError(
                f"the {self.kind} {name!r} is not installed ({listing}); it comes with the "
                f"package {package}: `pip install {package}` (from a checkout of osai-import: "
                f"`pip install ./plugins/{package}`)"
            )
        by_case = [k for k in known if k.lower() == str(name).lower()]
        close = by_case or difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RegistryError(
            f"unknown {self.kind} {name!r}{hint} ({listing}); install the plugin that "
            f"provides it or list its file under `plugins:`"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        """Yield every entry whose class loads, sorted by name.

        A deferred class that cannot be loaded is left out with a PluginLoadWarning, as a
        plugin that cannot be loaded is (``OSAI_IMPORT_STRICT_PLUGINS=1``: the error).
        """
        for entry in sorted(self._entries.values(), key=lambda e: e.name):
            try:
                entry.cls  # noqa: B018 - imports a deferred class now
            except RegistryError as exc:
                if env_flag(STRICT_ENV):
                    raise
                warnings.warn(str(exc), PluginLoadWarning, stacklevel=2)
                continue
            yield entry

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)
