"""The one error hierarchy of osai-import.

Every error carries the exit code the CLI turns it into, and its message names the item
it concerns (a file, a line, an annotation, a config field) and what to do about it.
"""

from __future__ import annotations

# Exit codes shared by every command (documented in the README).
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3


class OsaiImportError(Exception):
    """Base of every error osai-import raises on purpose."""

    exit_code: int = EXIT_ABORTED


class ConfigError(OsaiImportError):
    """The config file (or a command-line option) is wrong; nothing was done."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, lines: list[str] | None = None) -> None:
        self.lines = lines or [message]
        super().__init__("\n".join(self.lines))


class PluginError(OsaiImportError):
    """A plugin could not be loaded or registered something invalid."""

    exit_code = EXIT_USAGE


class RegistryError(PluginError):
    """Two plugins registered the same reader or encoder name, or a name is unknown."""


class SourceError(OsaiImportError):
    """A dataset source cannot be read at all (as opposed to one bad item in it)."""

    exit_code = EXIT_PROBLEMS


class ItemError(SourceError):
    """One item of a source is bad; carries a stable problem code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ServerError(OsaiImportError):
    """The OSAI server refused a request or could not be reached."""

    exit_code = EXIT_ABORTED


class AbortedError(OsaiImportError):
    """A run stopped before it finished (unreachable server, refused sign-in, Ctrl-C)."""

    exit_code = EXIT_ABORTED
