"""Watch what a reader touches: the files it opens, the records it builds, listing order."""

from __future__ import annotations

import builtins
import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from osai_import.records import ImageRecord


class _Listing:
    """A finished directory listing that behaves like the iterator ``os.scandir`` returns."""

    def __init__(self, entries: list[Any]) -> None:
        self._it = iter(entries)

    def __iter__(self) -> _Listing:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        """Do nothing: the listing is already read."""


@dataclass
class Watch:
    """What a watched reader did: the files it opened and the keys of the records it built."""

    opened: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def files(self) -> int:
        """Return how many different files were opened."""
        return len(set(self.opened))


@contextlib.contextmanager
def watched(monkeypatch: pytest.MonkeyPatch, *, backwards: bool = False) -> Iterator[Watch]:
    """Record the files a reader opens and the records it builds; maybe list dirs backwards.

    Listing backwards shows whether a reader depends on the file system's listing order,
    which differs between machines and file systems.
    """
    watch = Watch()
    real_open, real_os_open = builtins.open, os.open
    real_scandir, real_listdir = os.scandir, os.listdir
    real_post_init = ImageRecord.__post_init__

    def note(target: Any) -> None:
        if isinstance(target, (str, bytes, os.PathLike)):
            watch.opened.append(os.fsdecode(target))

    def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
        note(file)
        return real_open(file, *args, **kwargs)

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        note(path)
        return real_os_open(path, *args, **kwargs)

    def scandir(path: Any = ".") -> Any:
        with real_scandir(path) as it:
            entries = list(it)
        return _Listing(entries[::-1] if backwards else entries)

    def listdir(path: Any = ".") -> list[Any]:
        names = real_listdir(path)
        return names[::-1] if backwards else names

    def post_init(self: ImageRecord) -> None:
        real_post_init(self)
        watch.keys.append(self.key)

    with monkeypatch.context() as patch:
        for module, name, value in ((builtins, "open", open_), (io, "open", open_),
                                    (os, "open", os_open), (os, "scandir", scandir),
                                    (os, "listdir", listdir)):
            patch.setattr(module, name, value)
        patch.setattr(ImageRecord, "__post_init__", post_init)
        yield watch
