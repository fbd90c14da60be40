"""Count what the server did, for ``GET /_emulator/stats``."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

from osai_import.emulator.faults import Fault


class Stats:
    """Count answers by endpoint and status, request bytes, injected faults, connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()
        self._faults_by_endpoint: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._connections = 0
        self._bytes_in: Counter[str] = Counter()

    def answer(self, endpoint: str, status: int | str) -> None:
        """Count one answer (``status`` is "dropped" for a closed connection)."""
        with self._lock:
            self._answers[endpoint][str(status)] += 1

    def received(self, endpoint: str, length: int) -> None:
        """Count a request body's declared length (sent whole or not: what the client offered)."""
        with self._lock:
            self._bytes_in[endpoint] += length

    def fault(self, endpoint: str, fault: Fault) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults[fault.value] += 1
            self._faults_by_endpoint[endpoint][fault.value] += 1

    def connection(self) -> None:
        """Count one connection accepted."""
        with self._lock:
            self._connections += 1

    def snapshot(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data."""
        with self._lock:
            answers = {name: dict(sorted(counts.items())) for name, counts in
                       sorted(self._answers.items())}
            return {"requests": answers,
                    "total": sum(sum(c.values()) for c in self._answers.values()),
                    "faults": dict(sorted(self._faults.items())),
                    "faultsByEndpoint": {name: dict(sorted(counts.items())) for name, counts
                                         in sorted(self._faults_by_endpoint.items())},
                    "connections": self._connections,
                    "bytesIn": dict(sorted(self._bytes_in.items()))}
