"""Turn a path written in a config into a local ``Path`` or a ``SourcePath``.

- ``data/photos``, ``/srv/x.csv``: a local path (relative to the config's folder);
- ``export.zip``, ``export.zip/train``, ``s3://b/export.tar.gz/images``: an archive read
  as the folder it contains, and a path inside it. Any component of a path whose name
  ends in ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` and that is a file is an archive;
- ``s3://bucket/prefix``, ``gs://``, ``az://``, ``https://host/x.json``: a file or folder
  in a bucket or on a web server, through fsspec;
- ``zip://train::s3://bucket/export.zip``: fsspec's chained form of the same.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osai_import.errors import SourceError
from osai_import.location import SourcePath
from osai_import.source.kinds import archive_kind

if TYPE_CHECKING:
    from osai_import.source.archived import ArchiveStore

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_ARCHIVE_PROTOCOLS = {"zip": "zip", "tar": "tar"}


def locate(
    text: str | os.PathLike[str] | SourcePath,
    base_dir: Path | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Path | SourcePath:
    """Return where ``text`` points: a local Path, or a SourcePath in an archive or bucket.

    Raises SourceError for a form that cannot be read (an unknown chained protocol).
    Nothing is opened unless a component looks like an archive (then it is asked whether
    it is a file) or the path is chained. A ``SourcePath`` comes back as it is, unless it
    names an archive file: then the archive's root is returned.
    """
    if isinstance(text, SourcePath):
        # A SourcePath to an archive file (a zip in a bucket) reads as the folder it holds.
        kind = archive_kind(text.name)
        if kind is not None and text.is_file():
            return SourcePath(_archive_store(text, kind))
        return text
    raw = os.fspath(text)
    if "::" in raw:
        return _chained(raw, base_dir, storage_options)
    found = _URL.match(raw)
    if found is not None and found.group(1).lower() != "file":
        protocol, rest = found.group(1).lower(), found.group(2).strip("/")
        if protocol in _ARCHIVE_PROTOCOLS:
            suffix = ".zip" if protocol == "zip" else ".tar"
            raise SourceError(
                f"{raw}: a {protocol}:// path needs the archive after '::' "
                f"({protocol}://inner/path::/path/to/archive{suffix}), or write the archive's "
                "path followed by the inner path"
            )
        # Imported here: fsspec is for the configs that name a bucket or a URL.
        from osai_import.source.remote import remote_store

        root = SourcePath(remote_store(protocol, storage_options))
        return _into_archives(root, rest)
    if found is not None:
        raw = found.group(2)
    path = Path(raw).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    return _local_archives(path)


def _chained(raw: str, base_dir: Path | None, options: Mapping[str, Any] | None
             ) -> Path | SourcePath:
    head, _, tail = raw.partition("::")
    found = _URL.match(head)
    protocol = found.group(1).lower() if found else ""
    if protocol not in _ARCHIVE_PROTOCOLS:
        raise SourceError(
            f"{raw}: of fsspec's chained URLs only zip:// and tar:// are read here; write the "
            "archive's own path followed by the path inside it instead"
        )
    assert found is not None
    inner = found.group(2).strip("/")
    location = locate(tail, base_dir, options)
    from osai_import.source.archived import ArchiveStore

    if isinstance(location, SourcePath) and not location.key and isinstance(
            location.store, ArchiveStore):
        location = location.store.location  # the archive file itself, not its contents
    kind = archive_kind(location.name) or ("zip" if protocol == "zip" else "tar")
    if protocol == "tar" and kind == "zip":
        kind = "tar"
    if not location.is_file():
        raise SourceError(f"{location}: no such archive file; check the path after '::'")
    return SourcePath(_archive_store(location, kind), inner)


def _local_archives(path: Path) -> Path | SourcePath:
    """Return ``path``, or the SourcePath inside the first archive file among its parts."""
    parts = path.parts
    for index in range(1, len(parts) + 1):
        kind = archive_kind(parts[index - 1])
        if kind is None:
            continue
        prefix = Path(*parts[:index])
        try:
            if not stat.S_ISREG(os.stat(prefix).st_mode):
                continue  # a folder named like an archive is a folder
        except OSError:
            return path  # nothing there: the reader says the path is missing
        inner = "/".join(parts[index:])
        return _into_archives(SourcePath(_archive_store(prefix, kind)), inner)
    return path


def _into_archives(root: SourcePath, inner: str) -> SourcePath:
    """Return ``root / inner``, entering every archive file met on the way."""
    here = root
    parts = [p for p in inner.split("/") if p]
    for index, part in enumerate(parts):
        here = here / part
        kind = archive_kind(part)
        if kind is not None and here.is_file():
            rest = "/".join(parts[index + 1:])
            return _into_archives(SourcePath(_archive_store(here, kind)), rest)
    return here


def _archive_store(location: Path | SourcePath, kind: str) -> ArchiveStore:
    # Imported here: the archive readers are for the configs that name an archive.
    from osai_import.source.archived import archive_store

    return archive_store(location, kind)
