"""Decide, reproducibly, which requests get an injected fault."""

from __future__ import annotations

import enum
import random
import threading

from osai_import.emulator.settings import EmulatorSettings


class Fault(enum.Enum):
    """What happens to one request besides the configured latency."""

    NONE = "none"
    FAIL = "fail"  # 503 before doing anything
    THROTTLE = "throttle"  # 429 with Retry-After, before doing anything
    LOSE_500 = "lose_500"  # the work is committed, then the answer is a 500
    LOSE_DROP = "lose_drop"  # the work is committed, then the connection is closed unanswered


class FaultPlan:
    """Draw one number per request, in arrival order, from one seeded generator.

    The same seed and the same sequence of requests give the same faults. A single draw
    is split into bands (fail, then throttle, then lose), so changing a rate while the
    server runs never shifts the random sequence itself. Lost answers alternate between
    a 500 and a dropped connection, starting with the 500.
    """

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._lost = 0

    def draw(self, settings: EmulatorSettings, *, losable: bool) -> Fault:
        """Return the fault for the next request; ``losable`` says the lose band applies."""
        with self._lock:
            if settings.seed != self._seed:
                # A new seed set on a running server starts a new reproducible sequence.
                self._seed = settings.seed
                self._random = random.Random(settings.seed)
                self._lost = 0
            value = self._random.random()
            fail = max(0.0, settings.fail_rate)
            throttle = fail + max(0.0, settings.throttle_rate)
            lose = throttle + max(0.0, settings.lose_rate)
            if value < fail:
                return Fault.FAIL
            if value < throttle:
                return Fault.THROTTLE
            if losable and value < lose:
                self._lost += 1
                return Fault.LOSE_500 if self._lost % 2 else Fault.LOSE_DROP
            return Fault.NONE
