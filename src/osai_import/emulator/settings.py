"""Run-time settings of the local OSAI-compatible server."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

from osai_import.emulator.variants import Variants

# The names of the /api endpoints, as the router calls them; fault settings name them.
ENDPOINTS = ("SignIn", "Users", "Datasets", "Categories", "StartUploading", "FinishUploading",
             "UploadChunk", "ListCategories", "ListImages")
LOSE_MODES = ("alternate", "500", "drop")


@dataclass
class EmulatorSettings:
    """Hold every knob of the emulator; fault rates and latency may change while it runs.

    The request handlers read these fields on every request (never a copy), so a test
    can turn faults on and off, arm a one-shot fault, or shorten ``unlock_after``, on a
    running server.
    """

    data_dir: Path
    token: str | None = None
    jwt_ttl: float = 3600
    unlock_after: float = 300

    # --- random faults: one draw per /api request, split into bands (fail, throttle,
    # lose, html), so the same seed and requests give the same faults -------------------
    latency_ms: float = 0
    fail_rate: float = 0
    throttle_rate: float = 0
    # A lost answer: the work is committed, then the answer is a 500 or a dropped
    # connection. It applies to ``lose_endpoints`` only.
    lose_rate: float = 0
    seed: int | None = None
    retry_after: float = 1

    # --- limits (ASP.NET's defaults) ---------------------------------------------------
    max_request_bytes: int = 30_000_000
    max_form_values: int = 1024
    max_value_bytes: int = 4 * 1024 * 1024
    # OSAI's own example client creates categories after StartUploading and its published
    # run shows 200s, so by default a lock does not stop category creation. Turn this on
    # to prove that a client creates every category before it locks the dataset.
    lock_categories: bool = False

    # Fields added later are keyword-only, so positional calls keep their meaning.
    _: KW_ONLY

    # --- more random faults ------------------------------------------------------------
    lose_endpoints: frozenset[str] = frozenset({"UploadChunk"})
    # A 200 HTML page from "a proxy": the request never reaches the API.
    html_rate: float = 0
    html_endpoints: frozenset[str] = frozenset(ENDPOINTS)

    # --- one-shot faults: {endpoint: how many of its next requests}, counted down -------
    lose_next: dict[str, int] = field(default_factory=dict)
    html_next: dict[str, int] = field(default_factory=dict)
    # How answers are lost, by rate or one-shot: "alternate" (a 500, then a dropped
    # connection, and so on), "500" or "drop".
    lose_mode: str = "alternate"

    # --- slow answers: the body of every answer of these endpoints, a byte at a time ----
    trickle_endpoints: frozenset[str] = frozenset()
    trickle_interval: float = 0.05

    # --- what the documentation leaves open: ids, answer shapes, error bodies... --------
    variants: Variants = field(default_factory=Variants)

    def __post_init__(self) -> None:
        """Refuse endpoint names and modes the server would silently never match."""
        for name in ("lose_endpoints", "html_endpoints", "trickle_endpoints"):
            value = frozenset(getattr(self, name))
            check_endpoints(value, name)
            setattr(self, name, value)
        check_endpoints(self.lose_next, "lose_next")
        check_endpoints(self.html_next, "html_next")
        if self.lose_mode not in LOSE_MODES:
            raise ValueError(f"lose_mode is {self.lose_mode!r}; use one of {', '.join(LOSE_MODES)}")


def check_endpoints(names: frozenset[str] | dict[str, int], what: str) -> None:
    """Raise ValueError naming the known endpoints when ``names`` holds another."""
    unknown = sorted(set(names) - set(ENDPOINTS))
    if unknown:
        raise ValueError(f"{what} names unknown endpoint(s) {', '.join(unknown)}; "
                         f"known: {', '.join(ENDPOINTS)}")
