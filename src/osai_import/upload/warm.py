"""Open the upload's connections ahead, while the setup's last call is in flight.

Each worker needs a connection of its own; made only when its first chunk goes, each
costs a round trip or three (TCP, then TLS) after the upload session started, every
worker waiting at once. ``preconnect`` takes connections from the very pool requests
will use for the server (the same key: scheme, host, port and TLS settings), keeps those
already open, and connects the others in background threads; they go back to the pool
when the caller hands them over. It is only a head start: a connection that fails to
open is dropped, and the request that would have used it opens one as it always does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger("osai_import.upload.client")


# How long connections opened ahead wait to be handed over at most: past that they go
# back to the pool anyway (the caller never said, as after an error).
_HOLD = 30.0


def preconnect(session: requests.Session, url: str, count: int,
               timeout: float) -> Callable[[], None]:
    """Start opening ``count`` connections to ``url``'s server in ``session``'s pool.

    Returns at once (connecting in daemon threads) a function that hands them to the
    pool: until it is called, the call in flight meanwhile (StartUploading) keeps the
    connection already open, not one still in its handshake. Does nothing through a
    proxy (the proxy manager keeps its own pools).
    """
    handed = threading.Event()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    scheme = urlsplit(url).scheme
    if settings.get("proxies", {}).get(scheme) or settings.get("proxies", {}).get("all"):
        return handed.set
    adapter = session.get_adapter(url)
    if not isinstance(adapter, HTTPAdapter):
        return handed.set
    taken: list[Any] = []
    try:
        prepared = requests.Request("POST", url).prepare()
        pool: Any = adapter.get_connection_with_tls_context(
            prepared, settings["verify"], settings["proxies"], settings["cert"])
        # Taken all at once (the pool hands out its open connections first): those open
        # go straight back; the others are opened meanwhile.
        taken.extend(pool._get_conn() for _ in range(count))
    except Exception as exc:  # noqa: BLE001 - a head start only: the requests connect anyway
        log.debug("no connections opened ahead: %s", type(exc).__name__)
        for conn in taken:
            pool._put_conn(conn)
        return handed.set
    for conn in taken:
        if getattr(conn, "sock", None) is not None:
            pool._put_conn(conn)
        else:
            threading.Thread(target=_connect, args=(pool, conn, timeout, handed),
                             daemon=True, name="osai-preconnect").start()
    return handed.set


def _connect(pool: Any, conn: Any, timeout: float, handed: threading.Event) -> None:
    try:
        conn.timeout = timeout
        conn.connect()
    except Exception as exc:  # noqa: BLE001 - the request that needs it connects itself
        log.debug("a connection opened ahead failed: %s", type(exc).__name__)
        conn.close()
    handed.wait(_HOLD)
    pool._put_conn(conn)
