"""Name -> class registries for readers and encoders, refusing duplicate names."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from osai_import.errors import RegistryError
from osai_import.plugin.base import Encoder, PluginOptions, Reader

T = TypeVar("T", Reader, Encoder)

# Names are what users type in `source.type`/`annotations.type`: one plain word.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered class and the plugin that registered it."""

    name: str
    cls: type[T]
    plugin: str

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


class Registry(Generic[T]):
    """Map names to reader or encoder classes; a name can be registered only once."""

    def __init__(self, kind: str, base: type[Any]) -> None:
        self.kind = kind
        self._base = base
        self._entries: dict[str, Entry[T]] = {}

    def problem_with(self, cls: object, plugin: str) -> str | None:
        """Return why ``cls`` cannot be registered as a reader/encoder, or None if it can.

        Duplicate names are not checked here: they are ``add``'s job.
        """
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

    def add(self, cls: type[T], plugin: str) -> None:
        """Register ``cls`` under ``cls.name`` on behalf of ``plugin``."""
        problem = self.problem_with(cls, plugin)
        if problem:
            raise RegistryError(problem)
        name = cls.name
        other = self._entries.get(name)
        if other is not None:
            if other.cls is cls and other.plugin == plugin:
                return  # the same plugin registering the same class twice changes nothing
            raise RegistryError(
                f"{self.kind} name {name!r} is registered twice: by plugin {other.plugin!r} "
                f"({other.cls.__module__}.{other.cls.__qualname__}) and by plugin {plugin!r} "
                f"({cls.__module__}.{cls.__qualname__}); uninstall one of them or disable it "
                f"with OSAI_IMPORT_DISABLE_PLUGINS={plugin}"
            )
        self._entries[name] = Entry(name, cls, plugin)

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
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)
