"""A local OSAI-compatible server: strict, persistent, fault-injecting, embeddable.

Start it in-process with ``LocalServer(EmulatorSettings(data_dir=...)).start()`` or from
the command line with ``osai-import serve``; docs/emulator.md describes every behaviour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osai_import.emulator.server import EmulatorSettings, LocalServer, Variants

# The server pulls in werkzeug; it loads on first use so that `osai-import --help` and
# `osai-import serve --help` (which import the `serve` command from this package) stay quick.
_HOME = "osai_import.emulator.server"

__all__ = ["EmulatorSettings", "LocalServer", "Variants"]


# Hidden from type checkers, which would otherwise accept any name imported from here.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(_HOME), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

