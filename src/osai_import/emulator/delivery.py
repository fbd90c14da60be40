"""Send an answer the way a faulty network would: slowly, a byte at a time, or not at all."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Response


def trickle(response: Response, interval: float, closing: threading.Event,
            environ: dict[str, Any]) -> Response:
    """Make ``response`` send its body one byte at a time, ``interval`` seconds apart.

    The status and headers go first, with the Content-Length of the whole body. When
    ``closing`` is set (the server stops) the rest of the body is not sent and the
    connection is closed, so a shutdown never waits for a slow answer.
    """
    body = response.get_data()
    response.response = _bytes_apart(body, interval, closing, environ)
    response.headers["Content-Length"] = str(len(body))
    return response


def _bytes_apart(body: bytes, interval: float, closing: threading.Event,
                 environ: dict[str, Any]) -> Iterator[bytes]:
    """Yield ``body`` byte by byte with a pause between bytes; stop early when closing."""
    for index in range(len(body)):
        if index and closing.wait(max(0.0, interval)):
            # Fewer bytes than the Content-Length promised: the client must see a cut
            # answer, not wait for more on a connection that might be kept alive.
            drop_connection(environ)
            return
        yield body[index:index + 1]


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection so it gets no (more) answer."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    # The socket may be gone already if the client gave up first.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
