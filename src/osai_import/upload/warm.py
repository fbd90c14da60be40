"""Open the upload's connections ahead, while the setup's last call is in flight.

Each worker needs a connection of its own; made only when its first chunk goes, each
costs a round trip or three (TCP, then TLS) after the upload session started, every
worker waiting at once. ``preconnect`` takes connections from the very pool requests
will use for the server (the same key: scheme, host, port and TLS settings), keeps those
already open, and connects the others in background threads, each going back to the
pool connected. It is only a head start: a connection that fails to open is dropped, and
the request that would have used it opens one as it always does.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger("osai_import.upload.client")


def preconnect(session: requests.Session, url: str, count: int, timeout: float) -> None:
    """Have ``count`` connections to ``url``'s server open in ``session``'s pool, soon.

    Returns at once; connects in daemon threads. Does nothing through a proxy (the proxy
    manager keeps its own pools).
    """
    settings = session.merge_environment_settings(url, {}, None, None, None)
    scheme = urlsplit(url).scheme
    if settings.get("proxies", {}).get(scheme) or settings.get("proxies", {}).get("all"):
        return
    adapter = session.get_adapter(url)
    if not isinstance(adapter, HTTPAdapter):
        return
    try:
        prepared = requests.Request("POST", url).prepare()
        pool: Any = adapter.get_connection_with_tls_context(
            prepared, settings["verify"], settings["proxies"], settings["cert"])
    except Exception as exc:  # noqa: BLE001 - a head start only: the requests connect anyway
        log.debug("no connections opened ahead: %s", type(exc).__name__)
        return
    # Taken all at once (the pool hands back its open connections first), so that the
    # call made meanwhile gets an open one, not one of those still connecting.
    taken = [pool._get_conn() for _ in range(count)]
    for conn in taken:
        if getattr(conn, "sock", None) is not None:
            pool._put_conn(conn)
        else:
            threading.Thread(target=_connect, args=(pool, conn, timeout), daemon=True,
                             name="osai-preconnect").start()


def _connect(pool: Any, conn: Any, timeout: float) -> None:
    try:
        conn.timeout = timeout
        conn.connect()
    except Exception as exc:  # noqa: BLE001 - the request that needs it connects itself
        log.debug("a connection opened ahead failed: %s", type(exc).__name__)
        conn.close()
    pool._put_conn(conn)
