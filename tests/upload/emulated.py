"""The local OSAI server for one test, in a variant, and what it saw and holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from osai_import.emulator import EmulatorSettings, LocalServer, Variants
from osai_import.upload.retry import RetryPolicy

TOKEN = "access-token-8d3a51f0c6e2"
FAST = RetryPolicy(attempts=5, base=0.001, cap=0.01, retry_after_cap=0.02)


@contextmanager
def serve(folder: Path, *, jwt_ttl: float = 3600, **variants: Any) -> Iterator[LocalServer]:
    """Run the local server on a fresh data folder with the given variants."""
    settings = EmulatorSettings(data_dir=folder / "osai", token=TOKEN, seed=1, retry_after=0.01,
                                jwt_ttl=jwt_ttl, variants=Variants(**variants))
    with LocalServer(settings) as server:
        yield server


def stored(server: LocalServer, dataset_id: Any) -> dict[str, Any]:
    """Return what the server holds for a dataset (inspection API; GUIDs accepted)."""
    answer = requests.get(f"{server.root_url}/_emulator/datasets/{dataset_id}", timeout=10)
    answer.raise_for_status()
    held: dict[str, Any] = answer.json()
    return held


def requests_seen(server: LocalServer, endpoint: str) -> dict[str, int]:
    """Return the server's answer counts for one endpoint, by status."""
    stats = requests.get(f"{server.root_url}/_emulator/stats", timeout=10).json()
    counts: dict[str, int] = stats["requests"].get(endpoint, {})
    return counts
