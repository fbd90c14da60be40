"""Helpers for the API tests: configs built in code, events collected across threads."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from osai_import import UploadEvent


def local_config(root: Path, name: str = "api-test", **sections: Any) -> dict[str, Any]:
    """Return a config for the folder dataset in ``root/data`` and the embedded local server."""
    config: dict[str, Any] = {
        "server": {"url": "local", "data": str(root / "server")},
        "dataset": {"name": name},
        "source": {"type": "folder", "path": "data"},
        "upload": {"workers": 2, "chunk_images": 4},
    }
    config.update(sections)
    return config


class Events:
    """Collect events from every thread that reports them (a progress callback)."""

    def __init__(self) -> None:
        self.seen: list[UploadEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: UploadEvent) -> None:
        with self._lock:
            self.seen.append(event)

    def kinds(self) -> Counter[str]:
        """Return how many events of each kind came."""
        return Counter(type(e).__name__ for e in self.seen)

    def of(self, kind: type[Any]) -> list[Any]:
        """Return the events of one kind, in the order they came."""
        return [e for e in self.seen if isinstance(e, kind)]
