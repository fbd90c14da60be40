"""Run-time settings of the local OSAI-compatible server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class EmulatorSettings:
    """Hold every knob of the emulator; fault rates and latency may change while it runs.

    The request handlers read these fields on every request (never a copy), so a test
    can turn faults on and off, or shorten ``unlock_after``, on a running server.
    """

    data_dir: Path
    token: str | None = None
    jwt_ttl: float = 3600
    unlock_after: float = 300
    latency_ms: float = 0
    fail_rate: float = 0
    throttle_rate: float = 0
    lose_rate: float = 0
    seed: int | None = None
    retry_after: float = 1
    max_request_bytes: int = 30_000_000
    max_form_values: int = 1024
    max_value_bytes: int = 4 * 1024 * 1024
    # OSAI's own example client creates categories after StartUploading and its published
    # run shows 200s, so by default a lock does not stop category creation. Turn this on
    # to prove that a client creates every category before it locks the dataset.
    lock_categories: bool = False
