"""A local OSAI-compatible server: strict, persistent, fault-injecting, embeddable.

Start it in-process with ``LocalServer(EmulatorSettings(data_dir=...)).start()`` or from
the command line with ``osai-import serve``; docs/emulator.md describes every behaviour.
"""

from osai_import.emulator.server import EmulatorSettings, LocalServer

__all__ = ["EmulatorSettings", "LocalServer"]
