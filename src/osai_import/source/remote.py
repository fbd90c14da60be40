"""Buckets and URLs through fsspec: ``s3://``, ``gs://``, ``az://``, ``http(s)://``...

``RemoteStore`` is the ``Store`` of one fsspec file system (a protocol and its storage
options). Credentials and endpoints come the way each ecosystem finds them (for S3 the
AWS environment and config files, ``AWS_ENDPOINT_URL`` included); a config's
``storage_options`` adds the rest. The options stay in this process's memory: a store
pickles as its protocol and a reference to them, so no secret reaches a spool file.

Listing is done once per folder tree, not once per file: the first question about a
folder (its children, or a file in it) lists that folder with one paginated request,
and the answers are kept, so a reader that checks ten thousand files of one folder
makes one listing request, not ten thousand.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any, BinaryIO

from osai_import.errors import SourceError
from osai_import.location import Kind, SourceStat, Store

# The pip extra that brings each protocol's fsspec implementation.
_EXTRAS = {
    "s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure",
    "abfss": "azure", "adl": "azure", "http": "http", "https": "http",
}
# The storage options given in configs, by the reference stores pickle as.
_OPTIONS: dict[str, dict[str, Any]] = {}
_STORES: dict[tuple[str, str], RemoteStore] = {}
# Protocols whose folders cannot be listed reliably (a web server's index page, if any):
# each file is asked about on its own.
_UNLISTED = frozenset({"http", "https"})
_BLOCK = 1 << 20
# Back ends whose files take their size when opened, sparing a request for it.
_SIZED = frozenset({"s3", "s3a", "gs", "gcs"})
_LOCK = threading.Lock()


def options_ref(options: Mapping[str, Any]) -> str:
    """Keep ``options`` in this process; return the reference a store pickles instead."""
    text = json.dumps(options, sort_keys=True, default=str)
    ref = hashlib.sha256(text.encode()).hexdigest()[:16]
    with _LOCK:
        _OPTIONS.setdefault(ref, dict(options))
    return ref


def remote_store(protocol: str, options: Mapping[str, Any] | None = None) -> RemoteStore:
    """Return the store of ``protocol`` with ``options`` (one per pair in this process)."""
    return _store(protocol, options_ref(options or {}))


def forget_listings() -> None:
    """Drop every listing kept so far (a new read of a source sees the bucket as it is now)."""
    with _LOCK:
        stores = list(_STORES.values())
    for store in stores:
        store.forget()


def _store(protocol: str, ref: str) -> RemoteStore:
    with _LOCK:
        found = _STORES.get((protocol, ref))
        if found is None:
            found = _STORES[protocol, ref] = RemoteStore(protocol, ref)
        return found


class RemoteStore(Store):
    """One fsspec file system, with its listings kept once made; safe from many threads."""

    def __init__(self, protocol: str, ref: str) -> None:
        self.protocol = protocol
        self.ref = ref
        self._fs: Any = None
        self._lock = threading.Lock()
        # Folder key -> its children (name -> stat), for the folders listed so far.
        self._listed: dict[str, dict[str, SourceStat]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return _store, (self.protocol, self.ref)

    @property
    def fs(self) -> Any:
        """Return the fsspec file system, made on first use."""
        if self._fs is None:
            with self._lock:
                if self._fs is None:
                    self._fs = _filesystem(self.protocol, _OPTIONS.get(self.ref, {}))
        return self._fs

    def forget(self) -> None:
        """Drop the listings kept, here and in fsspec's own cache."""
        self._listed = {}
        if self._fs is not None:
            self._fs.invalidate_cache()

    def ident(self) -> Hashable:
        return ("remote", self.protocol, self.ref)

    def display(self, key: str) -> str:
        return f"{self.protocol}://{key}"

    def url(self, key: str) -> str:
        return f"{self.protocol}://{key}"

    def stat(self, key: str) -> SourceStat | None:
        if _climbs(key):
            return None  # above the root (a reader's ``..``): nothing is there
        if "/" not in key or self.protocol in _UNLISTED:
            return self._info(key)  # a bucket, or a web server: asked directly
        parent, _, name = key.rpartition("/")
        try:
            listed = self._children(parent)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return listed.get(name)

    def children(self, key: str) -> list[tuple[str, Kind]]:
        listed = self._children(key)
        return sorted((name, info.kind) for name, info in listed.items())

    def open(self, key: str) -> BinaryIO:
        # Small blocks: a stream here reads an image's header, a member of an archive, or
        # a manifest front to back; a back end's default (up to 50 MB ahead) would fetch
        # far more than that for each.
        extra: dict[str, Any] = {}
        parent, _, name = key.rpartition("/")
        known = self._listed.get(parent, {}).get(name)
        if known is not None and known.kind == "file" and self.protocol in _SIZED:
            extra["size"] = known.size  # from the folder's listing: no request to learn it
        stream: BinaryIO = self._call(self.fs.open, key, mode="rb", block_size=_BLOCK,
                                      cache_type="readahead", **extra)
        return stream

    def read(self, key: str) -> bytes:
        data: bytes = self._call(self.fs.cat_file, key)
        return data

    def _children(self, key: str) -> dict[str, SourceStat]:
        """Return the folder's children, listing it with one request the first time."""
        if _climbs(key):
            raise FileNotFoundError(2, "No such file or directory", self.display(key))
        found = self._listed.get(key)
        if found is not None:
            return found
        entries = self._call(self.fs.ls, key, detail=True)
        children: dict[str, SourceStat] = {}
        for entry in entries:
            full = _strip_protocol(str(entry.get("name", ""))).rstrip("/")
            if full == key:
                if entry.get("type") != "directory":
                    # fsspec lists a file as itself.
                    raise NotADirectoryError(20, "Not a directory", self.display(key))
                continue
            name = full.rpartition("/")[2]
            if name and name not in (".", ".."):
                children[name] = _stat(entry)
        self._listed[key] = children
        return children

    def _call(self, method: Any, key: str, **kwargs: Any) -> Any:
        """Call an fsspec method on ``key``; an error that is no OSError becomes one."""
        try:
            return method(self.url(key), **kwargs)
        except OSError:
            raise  # fsspec back ends map missing files and refusals to OSError subclasses
        except Exception as exc:  # noqa: BLE001 - a back end's own error type
            raise OSError(5, f"{type(exc).__name__}: {exc}", self.display(key)) from None

    def _info(self, key: str) -> SourceStat | None:
        try:
            return _stat(self._call(self.fs.info, key))
        except FileNotFoundError:
            return None


def _stat(entry: Mapping[str, Any]) -> SourceStat:
    kind: Kind = "dir" if entry.get("type") == "directory" else "file"
    size = entry.get("size") or entry.get("Size") or 0
    version = None
    for field in ("ETag", "etag", "generation", "md5Hash", "version_id", "VersionId"):
        value = entry.get(field)
        if value:
            version = str(value).strip('"')
            break
    mtime = None
    for field in ("LastModified", "mtime", "updated", "last_modified", "created"):
        value = entry.get(field)
        if isinstance(value, datetime):
            mtime = value.timestamp()
            break
        if isinstance(value, (int, float)):
            mtime = float(value)
            break
    return SourceStat(kind, int(size) if kind == "file" else 0, mtime, version)


def _filesystem(protocol: str, options: Mapping[str, Any]) -> Any:
    """Return the fsspec file system for ``protocol``, or a SourceError saying what to install."""
    try:
        import fsspec
    except ImportError:
        raise SourceError(_install(protocol, "fsspec")) from None
    try:
        return fsspec.filesystem(protocol, **options)
    except ImportError:
        raise SourceError(_install(protocol, None)) from None
    except ValueError as exc:
        # fsspec: "Protocol not known"
        raise SourceError(f"{protocol}://: fsspec does not know this protocol ({exc}); check "
                          "the path") from None
    except TypeError as exc:
        raise SourceError(f"{protocol}://: the storage_options do not suit this file system "
                          f"({exc}); check source.storage_options") from None


def _install(protocol: str, missing: str | None) -> str:
    extra = _EXTRAS.get(protocol)
    what = (f'pip install "osai-import[{extra}]"' if extra
            else f"install fsspec's {protocol} back end")
    lacking = f" ({missing} is not installed)" if missing else ""
    return f"{protocol}:// paths need an extra package{lacking}: {what}"


def _strip_protocol(name: str) -> str:
    """Return an fsspec entry name without its ``protocol://``."""
    return name.partition("://")[2] if "://" in name else name


def _climbs(key: str) -> bool:
    """Tell whether a key leaves the store's root (``..`` kept by ``SourcePath``)."""
    return key == ".." or key.startswith("../")

