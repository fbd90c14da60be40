"""The hook specifications: the contract between osai-import and its plugins.

A plugin is a module (or any object) with functions decorated by
``osai_import.hookimpl`` and named exactly like the specs below. Hooks run once, when the
plugin manager is built; the record stream itself never goes through hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from osai_import.plugin.base import Encoder, Reader
from osai_import.plugin.deferred import Deferred

hookspec = pluggy.HookspecMarker("osai_import")
hookimpl = pluggy.HookimplMarker("osai_import")


@hookspec
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register source readers by calling ``register(ReaderClass)`` once per reader.

    Called once at start-up, for every plugin, before any config is read.

    :param register: a callback taking a :class:`osai_import.Reader` subclass. The class's
        ``name`` becomes the value of ``source.type`` in configs; its ``Options`` model
        validates the rest of the ``source:`` section. Registering a name that another
        plugin already registered stops start-up with an error naming both plugins.
        ``register(osai_import.defer(name, "package.module:Class"))`` registers the class
        without importing it: it is imported when a config names it or a command lists
        every reader, so an installed plugin costs start-up nothing until it is used.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_encoders(register: Callable[[type[Encoder] | Deferred], None]) -> None:
    """Register annotation encoders by calling ``register(EncoderClass)`` once per encoder.

    Called once at start-up, for every plugin, before any config is read.

    :param register: a callback taking a :class:`osai_import.Encoder` subclass. The class's
        ``name`` becomes the value of ``annotations.type`` in configs; its ``Options``
        model validates the rest of the ``annotations:`` section. A name registered twice
        stops start-up with an error naming both plugins. ``osai_import.defer`` works here
        as for readers.
    :returns: nothing; the return value is ignored.
    """
