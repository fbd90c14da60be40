"""Where a reader's files are when they are not plain local files: ``SourcePath``.

A source's path may lead into an archive (``export.zip/train``) or a bucket
(``s3://bucket/photos``). Readers then get a ``SourcePath`` where they would get a
``pathlib.Path``: it offers the part of ``pathlib`` a reader needs (joining, names,
``open``, ``read_bytes``, ``iterdir``, ``is_file``...) over a ``Store``, the back end
that knows the archive or the bucket (``osai_import.source`` has them). A local file stays
a ``pathlib.Path``, so the fast local code paths are untouched.

A ``SourcePath`` is not ``os.PathLike``: code that hands it to ``open()`` or ``os.stat``
would read a local file of the same name, so ``os.fspath`` refuses it with a message
saying how to read it instead.
"""

from __future__ import annotations

import io
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO, Literal

Kind = Literal["file", "dir"]


@dataclass(frozen=True, slots=True)
class SourceStat:
    """What a store says about one file or folder: kind, size, time and version.

    ``version`` is whatever the store has that changes when the content does (an ETag,
    a generation, a CRC); ``mtime`` is seconds since the epoch, None when unknown.
    """

    kind: Kind
    size: int
    mtime: float | None = None
    version: str | None = None

    @property
    def st_size(self) -> int:
        """Return ``size``, under the name ``os.stat_result`` gives it."""
        return self.size


class Store(ABC):
    """The back end of SourcePaths: one archive, or one bucket file system.

    Keys are posix paths without a leading or trailing ``/``; ``""`` is the root.
    Implementations must be safe to use from several threads and picklable (a record
    goes through a spool file), without writing secrets into the pickle.
    """

    @abstractmethod
    def ident(self) -> Hashable:
        """Return what makes two stores the same (two paths are equal on it and the key)."""

    @abstractmethod
    def display(self, key: str) -> str:
        """Return how messages show ``key`` (``export.zip/train/a.jpg``, ``s3://b/a.jpg``)."""

    @abstractmethod
    def url(self, key: str) -> str:
        """Return the key as a URL fsspec understands (``zip://a.jpg::/data/x.zip``)."""

    @abstractmethod
    def stat(self, key: str) -> SourceStat | None:
        """Return what ``key`` is, or None when nothing is there."""

    @abstractmethod
    def children(self, key: str) -> list[tuple[str, Kind]]:
        """Return the names and kinds below the folder ``key``, sorted by name.

        Raises FileNotFoundError when there is no such folder, NotADirectoryError when
        ``key`` is a file.
        """

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a binary stream of the file ``key``; FileNotFoundError when missing."""

    def read(self, key: str) -> bytes:
        """Return the whole file ``key`` (a store may fetch it in one request)."""
        with self.open(key) as stream:
            return stream.read()


class SourcePath:
    """A file or folder in an archive or a bucket, used the way a ``pathlib.Path`` is.

    Pure operations (``/``, ``name``, ``parent``, ``with_suffix``...) never touch the
    store; the others ask it. ``str()`` is the form messages show.
    """

    __slots__ = ("_key", "_store")

    def __init__(self, store: Store, key: str = "") -> None:
        self._store = store
        self._key = _normal(key)

    # --- pure parts -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """Return the back end."""
        return self._store

    @property
    def key(self) -> str:
        """Return the posix path in the store (``""`` for its root)."""
        return self._key

    @property
    def name(self) -> str:
        """Return the last component (``""`` for the root)."""
        return self._key.rpartition("/")[2]

    @property
    def suffix(self) -> str:
        """Return the file extension of the last component, with its dot."""
        return PurePosixPath(self.name or ".").suffix

    @property
    def suffixes(self) -> list[str]:
        """Return every extension of the last component."""
        return PurePosixPath(self.name or ".").suffixes

    @property
    def stem(self) -> str:
        """Return the last component without its suffix."""
        return PurePosixPath(self.name).stem if self.name else ""

    @property
    def parts(self) -> tuple[str, ...]:
        """Return the key's components."""
        return tuple(self._key.split("/")) if self._key else ()

    @property
    def parent(self) -> SourcePath:
        """Return the folder holding this path (the root is its own parent)."""
        return SourcePath(self._store, self._key.rpartition("/")[0])

    def __truediv__(self, other: str | PurePosixPath) -> SourcePath:
        return self.joinpath(other)

    def joinpath(self, *others: str | PurePosixPath) -> SourcePath:
        """Return this path with ``others`` appended; ``..`` never climbs above the root."""
        key = self._key
        for other in others:
            text = other if isinstance(other, str) else other.as_posix()
            key = text.lstrip("/") if text.startswith("/") else f"{key}/{text}"
        return SourcePath(self._store, key)

    def with_name(self, name: str) -> SourcePath:
        """Return the path with its last component replaced."""
        return self.parent / name

    def with_suffix(self, suffix: str) -> SourcePath:
        """Return the path with its suffix replaced."""
        return self.with_name(str(PurePosixPath(self.name).with_suffix(suffix)))

    def relative_to(self, other: SourcePath) -> PurePosixPath:
        """Return this path relative to ``other``; ValueError when not below it."""
        if other.store.ident() != self._store.ident() or not self.is_relative_to(other):
            raise ValueError(f"{self} is not below {other}")
        return PurePosixPath(self._key[len(other.key):].lstrip("/") or ".")

    def is_relative_to(self, other: SourcePath) -> bool:
        """Tell whether this path is ``other`` or lies below it."""
        if other.store.ident() != self._store.ident() or _climbs(self._key):
            return False
        return not other.key or self._key == other.key or self._key.startswith(other.key + "/")

    def as_posix(self) -> str:
        """Return ``str(self)``: the form messages show."""
        return str(self)

    def as_url(self) -> str:
        """Return the path as a URL fsspec understands."""
        return self._store.url(self._key)

    def is_absolute(self) -> bool:
        """Return True: a store path is always absolute."""
        return True

    def absolute(self) -> SourcePath:
        """Return the path itself (it is absolute)."""
        return self

    def resolve(self) -> SourcePath:
        """Return the path itself (a store has no links to follow)."""
        return self

    def expanduser(self) -> SourcePath:
        """Return the path itself."""
        return self

    # --- asking the store -------------------------------------------------------------

    def stat(self) -> SourceStat:
        """Return what the store says of this path; FileNotFoundError when nothing is there."""
        found = self._store.stat(self._key)
        if found is None:
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return found

    def exists(self) -> bool:
        """Tell whether a file or a folder is at this path."""
        return self._store.stat(self._key) is not None

    def is_file(self) -> bool:
        """Tell whether a file is at this path."""
        found = self._store.stat(self._key)
        return found is not None and found.kind == "file"

    def is_dir(self) -> bool:
        """Tell whether a folder is at this path."""
        found = self._store.stat(self._key)
        return found is not None and found.kind == "dir"

    def is_symlink(self) -> bool:
        """Return False: archives and buckets, as read here, hold no links."""
        return False

    def entries(self) -> list[tuple[str, Kind]]:
        """Return the names and kinds (``file`` or ``dir``) in this folder, sorted by name.

        One listing, where ``iterdir`` followed by ``is_dir`` on each path would ask the
        store about each (for a bucket: answered from the same listing, but slower).
        """
        return self._store.children(self._key)

    def iterdir(self) -> Iterator[SourcePath]:
        """Yield the paths in this folder, sorted by name."""
        for name, _kind in self._store.children(self._key):
            yield SourcePath(self._store, f"{self._key}/{name}" if self._key else name)

    def glob(self, pattern: str) -> Iterator[SourcePath]:
        """Yield the paths in this folder whose name matches ``pattern`` (no ``/``, no ``**``)."""
        if "/" in pattern or "**" in pattern:
            raise ValueError(f"SourcePath.glob takes one component's pattern, not {pattern!r}")
        import fnmatch

        for name, _kind in self._store.children(self._key):
            if fnmatch.fnmatchcase(name, pattern):
                yield SourcePath(self._store, f"{self._key}/{name}" if self._key else name)

    def walk(self) -> Iterator[tuple[SourcePath, list[str], list[str]]]:
        """Yield ``(folder, folder names, file names)`` top-down, each list sorted."""
        stack = [self]
        while stack:
            folder = stack.pop()
            listed = self._store.children(folder.key)
            dirs = [n for n, kind in listed if kind == "dir"]
            files = [n for n, kind in listed if kind == "file"]
            yield folder, dirs, files
            stack.extend(folder / name for name in reversed(dirs))

    def open(self, mode: str = "rb", encoding: str | None = None, errors: str | None = None,
             newline: str | None = None) -> IO[Any]:
        """Open the file for reading, in binary (``rb``) or text (``r``) mode."""
        if mode not in ("r", "rb", "rt"):
            raise ValueError(f"{self}: sources are read only; open it with 'r' or 'rb'")
        stream = self._store.open(self._key)
        if mode == "rb":
            return stream
        return io.TextIOWrapper(stream, encoding=encoding or "utf-8", errors=errors,
                                newline=newline)

    def read_bytes(self) -> bytes:
        """Return the file's bytes."""
        return self._store.read(self._key)

    def read_text(self, encoding: str | None = None, errors: str | None = None) -> str:
        """Return the file's text."""
        return self.read_bytes().decode(encoding or "utf-8", errors or "strict")

    # --- identity ---------------------------------------------------------------------

    def __str__(self) -> str:
        return self._store.display(self._key)

    def __repr__(self) -> str:
        return f"SourcePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourcePath):
            return NotImplemented
        return self._key == other._key and self._store.ident() == other._store.ident()

    def __lt__(self, other: SourcePath) -> bool:
        return str(self) < str(other)

    def __hash__(self) -> int:
        return hash((self._store.ident(), self._key))

    def __reduce__(self) -> tuple[Any, ...]:
        return SourcePath, (self._store, self._key)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic models hold SourcePaths (validators in ``plugin.base`` make them)."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    def __fspath__(self) -> str:
        # Refused on purpose: a local open() of this text would read another file.
        raise TypeError(
            f"{self} is inside an archive or a bucket, not a local file: open it with its "
            "open(), read_bytes() or read_text() methods (osai_import.SourcePath), not with "
            "open() or os functions"
        )


def _normal(key: str) -> str:
    """Return ``key`` as a clean posix path; one that climbs above the root keeps its ``..``.

    A ``..`` that leaves the root is kept rather than dropped, so that such a path names
    nothing in the store and is below no folder: a reader's containment test refuses it.
    """
    if not key:
        return ""
    clean = posixpath.normpath(key.lstrip("/"))
    return "" if clean == "." else clean


def _climbs(key: str) -> bool:
    """Tell whether a normalized key leaves the store's root."""
    return key == ".." or key.startswith("../")
