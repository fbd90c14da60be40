"""Archives as folders: the ``Store`` of one ``.zip``, ``.tar`` or ``.tar.gz``, read in place.

The archive is opened and indexed once per process (``archive.open_archive`` refuses a
hostile one then, before anything of it is used); its members are streamed from it when
read, never extracted to disk. The archive itself may be a local file or a file in a
bucket (``s3://bucket/export.zip``), read by ranges.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import Any, BinaryIO

from osai_import.errors import SourceError
from osai_import.location import Kind, SourcePath, SourceStat, Store
from osai_import.source.archive import Archive, open_archive

_PROTOCOL = {"zip": "zip", "tar": "tar", "tar.gz": "tar"}
_STORES: dict[Hashable, ArchiveStore] = {}
_LOCK = threading.Lock()


def archive_store(location: Path | SourcePath, kind: str) -> ArchiveStore:
    """Return the store of the archive at ``location`` (one per archive in this process)."""
    ident = _location_ident(location)
    with _LOCK:
        found = _STORES.get(ident)
        if found is None:
            found = _STORES[ident] = ArchiveStore(location, kind)
        return found


def _location_ident(location: Path | SourcePath) -> Hashable:
    if isinstance(location, SourcePath):
        return ("archive", location.store.ident(), location.key)
    return ("archive", str(location))


class ArchiveStore(Store):
    """One archive, indexed on first use; its members are the store's keys."""

    def __init__(self, location: Path | SourcePath, kind: str) -> None:
        self.location = location
        self.kind = kind
        self._archive: Archive | None = None
        self._tree: dict[str, list[tuple[str, Kind]]] | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return archive_store, (self.location, self.kind)

    @property
    def archive(self) -> Archive:
        """Return the archive, opened and checked the first time."""
        if self._archive is None:
            with self._lock:
                if self._archive is None:
                    self._archive = self._open()
        return self._archive

    def _open(self) -> Archive:
        location = self.location
        label = str(location)
        try:
            if isinstance(location, SourcePath) and isinstance(location.store, ArchiveStore):
                # An archive inside an archive: a member stream cannot seek, so the inner
                # archive is held in memory while it is read.
                data = location.read_bytes()

                def opener() -> BinaryIO:
                    return io.BytesIO(data)
            elif isinstance(location, SourcePath):
                source = location

                def opener() -> BinaryIO:
                    stream: BinaryIO = source.store.open(source.key)
                    return stream
            else:
                local = location

                def opener() -> BinaryIO:
                    return local.open("rb")
            # Opening it once here turns a missing or unreadable archive into one clear line.
            opener().close()
        except OSError as exc:
            raise SourceError(
                f"{label}: cannot open the archive ({exc.strerror or exc}); check the path"
            ) from None
        return open_archive(label, self.kind, opener)

    def ident(self) -> Hashable:
        return _location_ident(self.location)

    def display(self, key: str) -> str:
        return f"{self.location}/{key}" if key else str(self.location)

    def url(self, key: str) -> str:
        inner = self.location.as_url() if isinstance(self.location, SourcePath) else str(
            self.location)
        return f"{_PROTOCOL[self.kind]}://{key}::{inner}"

    def stat(self, key: str) -> SourceStat | None:
        if not key:
            return SourceStat("dir", 0)
        member = self.archive.members().get(key)
        if member is None:
            return None
        if member.is_dir:
            return SourceStat("dir", 0, member.mtime)
        return SourceStat("file", member.size, member.mtime)

    def children(self, key: str) -> list[tuple[str, Kind]]:
        tree = self._children_tree()
        found = tree.get(key)
        if found is None:
            member = self.archive.members().get(key)
            if member is not None and not member.is_dir:
                raise NotADirectoryError(20, "Not a directory", self.display(key))
            raise FileNotFoundError(2, "No such file or directory", self.display(key))
        return found

    def open(self, key: str) -> BinaryIO:
        member = self.archive.members().get(key)
        if member is None:
            raise FileNotFoundError(2, "No such file or directory", self.display(key))
        if member.is_dir:
            raise IsADirectoryError(21, "Is a directory", self.display(key))
        return self.archive.open_member(key)

    def read(self, key: str) -> bytes:
        member = self.archive.members().get(key)
        if member is None:
            raise FileNotFoundError(2, "No such file or directory", self.display(key))
        if member.is_dir:
            raise IsADirectoryError(21, "Is a directory", self.display(key))
        return self.archive.read_member(key)

    def _children_tree(self) -> dict[str, list[tuple[str, Kind]]]:
        """Return every folder's sorted children, built once from the archive's index."""
        if self._tree is None:
            members = self.archive.members()
            tree: dict[str, list[tuple[str, Kind]]] = {"": []}
            for name, member in members.items():
                if member.is_dir:
                    tree.setdefault(name, [])
            for name, member in members.items():
                parent, _, base = name.rpartition("/")
                tree.setdefault(parent, []).append((base, "dir" if member.is_dir else "file"))
            for listed in tree.values():
                listed.sort()
            self._tree = tree
        return self._tree
