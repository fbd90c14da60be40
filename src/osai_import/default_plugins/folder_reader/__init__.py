"""The built-in `folder` reader: a folder per class, optional Pascal VOC XML beside each image.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers; ``reader`` walks the folder, ``patterns`` matches paths against the options'
templates and globs, ``listing`` lists a folder once, ``options`` holds the options.
"""

from __future__ import annotations

from collections.abc import Callable

from osai_import import Reader, hookimpl
from osai_import.default_plugins.folder_reader.reader import FolderReader

__all__ = ["FolderReader", "register_readers"]


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the built-in `folder` reader."""
    register(FolderReader)
