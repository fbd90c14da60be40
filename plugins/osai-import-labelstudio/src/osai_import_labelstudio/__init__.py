"""osai-import plugin: the ``labelstudio`` reader for Label Studio's JSON and JSON-MIN exports."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from osai_import import Reader, hookimpl
from osai_import_labelstudio.options import LabelStudioOptions
from osai_import_labelstudio.reader import LabelStudioReader

try:
    __version__ = metadata.version("osai-import-labelstudio")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["LabelStudioOptions", "LabelStudioReader", "__version__", "register_readers"]


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``labelstudio`` reader."""
    register(LabelStudioReader)
