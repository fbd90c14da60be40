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
    HTML = "html"  # a 200 HTML page from "a proxy", before doing anything
    # Drawn for a request whose answer is to be lost if its work is done; it becomes
    # LOSE_500 or LOSE_DROP (by ``lose_mode``) only then, and is counted as that.
    LOSE = "lose"
    LOSE_500 = "lose_500"  # the work is committed, then the answer is a 500
    LOSE_DROP = "lose_drop"  # the work is committed, then the connection is closed unanswered
    TRICKLE = "trickle"  # the answer's body is sent a byte at a time


class FaultPlan:
    """Draw one number per request, in arrival order, from one seeded generator.

    The same seed and the same sequence of requests give the same faults. A single draw
    is split into bands (fail, throttle, lose, html), so changing a rate while the server
    runs never shifts the random sequence itself; a one-shot fault overrides the draw of
    the request it applies to without skipping it. Lost answers, by rate or one-shot,
    alternate between a 500 and a dropped connection, starting with the 500, unless
    ``lose_mode`` picks one kind.
    """

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._lost = 0

    def draw(self, settings: EmulatorSettings, endpoint: str) -> Fault:
        """Return the fault the rates give the next request to ``endpoint``."""
        with self._lock:
            if settings.seed != self._seed:
                # A new seed set on a running server starts a new reproducible sequence.
                self._seed = settings.seed
                self._random = random.Random(settings.seed)
                self._lost = 0
            value = self._random.random()
        bands = (
            (Fault.FAIL, settings.fail_rate, True),
            (Fault.THROTTLE, settings.throttle_rate, True),
            (Fault.LOSE, settings.lose_rate, endpoint in settings.lose_endpoints),
            (Fault.HTML, settings.html_rate, endpoint in settings.html_endpoints),
        )
        edge = 0.0
        for fault, rate, applies in bands:
            edge += max(0.0, rate)
            if value < edge:
                # A band that does not apply to this endpoint leaves the request alone.
                return fault if applies else Fault.NONE
        return Fault.NONE

    def take(self, counts: dict[str, int], endpoint: str) -> bool:
        """Use up one armed one-shot fault of ``endpoint`` in ``counts``, if any is left."""
        with self._lock:
            left = counts.get(endpoint, 0)
            if left <= 0:
                return False
            counts[endpoint] = left - 1
            return True

    def lose(self, settings: EmulatorSettings) -> Fault:
        """Return how the next lost answer is lost: LOSE_500 or LOSE_DROP."""
        if settings.lose_mode == "500":
            return Fault.LOSE_500
        if settings.lose_mode == "drop":
            return Fault.LOSE_DROP
        with self._lock:
            self._lost += 1
            return Fault.LOSE_500 if self._lost % 2 else Fault.LOSE_DROP
