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
