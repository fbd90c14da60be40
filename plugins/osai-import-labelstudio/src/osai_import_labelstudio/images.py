"""Turn the image reference of a task into where the image's bytes are, and its name.

Label Studio writes references in a few forms (see the README, "Image references"):
``/data/upload/<project>/<8 hex>-photo.jpg`` for uploaded files,
``/data/local-files/?d=dir/photo.jpg`` for local storage, URLs for cloud storage and the
web, ``data:image/png;base64,...`` for images held in the task itself, and paths as the
user imported them.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from osai_import import SourceError, SourcePath, embedded_image, is_inside, locate

UPLOAD = "/data/upload/"
LOCAL_FILES = "/data/local-files/?d="
_HEX_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DATA_URI = re.compile(r"^data:([^,;]*)[^,]*;base64,", re.IGNORECASE)
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]")
_SUFFIXES = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png"}


class Unmapped(Exception):
    """A reference that names no place the reader may read: the message says what to do."""


@dataclass(frozen=True)
class Found:
    """Where an image is, the name it gets, and how the reference was read."""

    path: Path | SourcePath
    name: str
    how: str  # "upload", "local-files", "mapped", "url", "embedded", "relative"


class Images:
    """Resolve image references against the `images` folder and the prefix mappings."""

    def __init__(self, root: Path | SourcePath, prefixes: Mapping[str, Path | SourcePath],
                 keep_upload_prefix: bool,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = root
        # The source's storage_options: an s3:// image in the export is read with the
        # endpoint and credentials the config gave the source.
        self.storage_options = storage_options
        # Longest first: "/data/upload/3/" must win over "/data/upload/".
        self.prefixes = sorted(prefixes.items(), key=lambda item: -len(item[0]))
        self.keep_upload_prefix = keep_upload_prefix

    def find(self, reference: str, container: Path | SourcePath,
             pointer: Sequence[str | int], fallback_name: str) -> Found:
        """Return where ``reference`` points; raise Unmapped when it cannot be read.

        ``container`` and ``pointer`` locate the reference in the export, for images held
        in it as ``data:`` URIs; ``fallback_name`` names such images.
        """
        text = reference.strip()
        for prefix, folder in self.prefixes:
            if text.startswith(prefix):
                rest = _decoded(text[len(prefix):])
                return Found(self._below(folder, rest, text, f"the folder of {prefix!r}"),
                             _upload_name(rest, self.keep_upload_prefix)
                             if UPLOAD in prefix else _base(rest), "mapped")
        if text.startswith(UPLOAD):
            rest = _decoded(text[len(UPLOAD):])
            return Found(self._below(self.root, rest, text, "`images`"),
                         _upload_name(rest, self.keep_upload_prefix), "upload")
        if text.startswith(LOCAL_FILES):
            rest = _decoded(text[len(LOCAL_FILES):]).lstrip("/")
            return Found(self._below(self.root, rest, text, "`images`"), _base(rest),
                         "local-files")
        data = _DATA_URI.match(text)
        if data is not None:
            name = fallback_name + _SUFFIXES.get(data.group(1).lower(), "")
            return Found(embedded_image(container, pointer, name), name, "embedded")
        if text.lower().startswith("data:"):
            raise Unmapped(f"a data: URI that is not base64 ({text[:40]}...)")
        if _URL.match(text) and not text.lower().startswith("file:"):
            return Found(_remote(text, self.storage_options), _base(_decoded(urlsplit(text).path)),
                         "url")
        if text.startswith(("/", "\\", "file:")) or _WINDOWS.match(text):
            prefix = posixpath.dirname(text.rstrip("/")) + "/"
            raise Unmapped(
                f"the absolute path {text!r} is not read from this machine's disk; map it to "
                f"a folder, e.g. `image_prefixes: {{{prefix!r}: <folder>}}`"
            )
        if not text:
            raise Unmapped("the image reference is empty")
        return Found(self._below(self.root, _decoded(text), text, "`images`"), _base(text),
                     "relative")

    @staticmethod
    def _below(folder: Path | SourcePath, rest: str, reference: str,
               where: str) -> Path | SourcePath:
        """Return ``folder / rest``, refusing a ``rest`` that would leave ``folder``."""
        parts = [p for p in rest.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts:
            raise Unmapped(f"{reference!r} names no file")
        if isinstance(folder, SourcePath):
            path: Path | SourcePath = folder.joinpath(*parts)
            inside = ".." not in parts and is_inside(folder, path)
        else:
            path = Path(os.path.normpath(folder.joinpath(*parts)))
            inside = is_inside(Path(os.path.normpath(folder)), path)
        if not inside:
            raise Unmapped(f"{reference!r} leads outside {where} ({folder}); refused")
        return path


def _decoded(text: str) -> str:
    # Label Studio quotes what it puts in a URL: `?d=my%20photos/a.jpg`, `a%2B.jpg`.
    return unquote(text)


def _base(text: str) -> str:
    return PurePosixPath(text.replace("\\", "/")).name


def _upload_name(rest: str, keep: bool) -> str:
    name = _base(rest)
    return name if keep else _HEX_PREFIX.sub("", name)


def _remote(url: str, storage_options: Mapping[str, Any] | None) -> Path | SourcePath:
    try:
        return locate(url, storage_options=storage_options)
    except SourceError as exc:
        raise Unmapped(str(exc)) from None
