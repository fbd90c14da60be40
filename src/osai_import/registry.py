"""Name -> class registries for readers and encoders, refusing duplicate names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Generic, TypeVar

from osai_import.base import Encoder, Reader
from osai_import.errors import RegistryError

T = TypeVar("T", Reader, Encoder)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered class and the plugin that registered it."""

    name: str
    cls: type[T]
    plugin: str

    @property
    def description(self) -> str:
        """Return the first line of the class docstring."""
        return self.cls.description()


class Registry(Generic[T]):
    """Map names to reader or encoder classes; a name can be registered only once."""

    def __init__(self, kind: str, base: type[T]) -> None:
        self.kind = kind
        self._base = base
        self._entries: dict[str, Entry[T]] = {}

    def add(self, cls: type[T], plugin: str) -> None:
        """Register ``cls`` under ``cls.name`` on behalf of ``plugin``."""
        if not (isinstance(cls, type) and issubclass(cls, self._base)):
            raise RegistryError(
                f"plugin {plugin!r} registered {cls!r} as a {self.kind}, but it is not a "
                f"subclass of osai_import.{self._base.__name__}; fix the plugin's "
                f"register_{self.kind}s hook"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.strip():
            raise RegistryError(
                f"plugin {plugin!r} registered {self.kind} class {cls.__qualname__} without a "
                f"`name`; give the class a `name = \"...\"` attribute"
            )
        if name in self._entries:
            other = self._entries[name]
            raise RegistryError(
                f"{self.kind} name {name!r} is registered twice: by plugin {other.plugin!r} "
                f"and by plugin {plugin!r}; uninstall or disable one of them "
                f"(OSAI_IMPORT_DISABLE_PLUGINS={plugin})"
            )
        self._entries[name] = Entry(name, cls, plugin)

    def get(self, name: str) -> Entry[T]:
        """Return the entry for ``name`` or raise an error listing the known names."""
        try:
            return self._entries[name]
        except KeyError:
            known = sorted(self._entries)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(known) or 'none'}); "
                f"install the plugin that provides it or list it under `plugins:`"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)
