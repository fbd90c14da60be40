"""A reader or encoder class registered by where it lives, imported when first used.

A plugin that registers ``defer("labelme", "osai_import_labelme.reader:LabelmeReader")``
instead of the class keeps its module out of start-up: the class is imported only when a
config names it, or when a command needs every class (``readers``, ``schema``,
``detect``). Start-up of every command then costs the same however many plugins are
installed.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# "package.module:Class" or "package.module:Outer.Inner", as entry points write them.
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Deferred:
    """A class named by its registered ``name`` and its ``target``, ``"module:attribute"``."""

    name: str
    target: str

    def load(self) -> Any:
        """Import the module and return the attribute (ImportError, AttributeError if absent)."""
        module_name, _, attribute = self.target.partition(":")
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value


def defer(name: str, target: str) -> Deferred:
    """Name a reader or encoder class without importing it; pass the result to ``register``.

    ``name`` must be the class's own ``name`` (what configs write in ``source.type`` or
    ``annotations.type``); ``target`` says where the class is, ``"package.module:Class"``.
    The class is imported and checked the first time it is used; a wrong target or a
    class whose ``name`` differs is then an error naming the plugin.
    """
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ValueError(
            f"defer({name!r}, {target!r}): the target must read 'package.module:Class'")
    return Deferred(name, target)


def lazy_exports(module: str, homes: Mapping[str, str], *,
                 version_of: str | None = None) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports each exported name on first use.

    A plugin package whose hook registers its reader with ``defer`` keeps its own
    ``__init__`` light this way while still offering ``from package import TheReader``:
    ``homes`` maps each exported name to the module that defines it. With
    ``version_of``, ``__version__`` is that distribution's installed version (``0+unknown``
    when it is imported from a source tree). Each value is kept in the module once found.
    """
    def __getattr__(name: str) -> Any:
        if name == "__version__" and version_of is not None:
            from importlib import metadata

            try:
                value: Any = metadata.version(version_of)
            except metadata.PackageNotFoundError:
                value = "0+unknown"
        elif name in homes:
            value = getattr(importlib.import_module(homes[name]), name)
        else:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
