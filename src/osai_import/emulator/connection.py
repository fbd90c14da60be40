"""Serve each HTTP connection as ``variants.connection`` says: closed, kept alive, or HTTP/1.0.

werkzeug's handler closes every connection after one answer and drains whatever the
client sent after it, which would eat the next request of a kept-alive connection. This
handler knows how much of the request body the application left unread, so it can keep
a connection open and still let a client see a 413 sent before the body was read.
"""

from __future__ import annotations

import contextlib
import io
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from typing import IO, Any, cast

from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler

from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.stats import Stats

_log = logging.getLogger("osai_import.emulator")
# Unread request bytes a kept-alive connection reads past to reach the next request; with
# more left (a 413 before a big body) the connection is closed instead.
_DRAIN_LIMIT = 8 * 1024 * 1024
_DRAIN_SECONDS = 2.0


class EmulatorServer(ThreadedWSGIServer):
    """A threaded WSGI server that knows its settings and its open connections."""

    def __init__(self, host: str, port: int, app: Any, settings: EmulatorSettings,
                 stats: Stats, fd: int | None = None) -> None:
        self.settings = settings
        self.stats = stats
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(host, port, app, Handler, fd=fd)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        """Note that a connection opened or closed."""
        with self._open_lock:
            if is_open:
                self.stats.connection()
                self._open.add(connection)
            else:
                self._open.discard(connection)

    def close_connections(self) -> None:
        """Close every connection still open, such as kept-alive ones waiting for a request."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Body(io.RawIOBase):
    """The request body as the application reads it; says whether it was read to its end."""

    def __init__(self, stream: IO[bytes], length: int | None) -> None:
        self._stream = stream
        self._left = length  # None: chunked, the stream itself ends the body
        self.ended = length == 0

    def readable(self) -> bool:
        """Tell io that this stream reads."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``, never past the body."""
        view = memoryview(buffer).cast("B")
        wanted = len(view) if self._left is None else min(len(view), self._left)
        if wanted == 0:
            self.ended = True
            return 0
        data = self._stream.read(wanted)
        view[:len(data)] = data
        if self._left is not None:
            self._left -= len(data)
        if not data or self._left == 0:
            self.ended = True
        return len(data)

    def unread(self) -> int | None:
        """Return how many body bytes are left (None: unknown, a chunked body not ended)."""
        if self.ended:
            return 0
        return self._left


class Handler(WSGIRequestHandler):
    """Run one request at a time on a connection; log to the emulator's logger."""

    # Headers and body are written separately; with Nagle's algorithm the body would wait
    # for the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        """Open the connection and register it, so stopping the server can close it."""
        super().setup()
        cast(EmulatorServer, self.server).track(self.connection, True)

    def finish(self) -> None:
        """Close the connection and forget it."""
        try:
            super().finish()
        finally:
            cast(EmulatorServer, self.server).track(self.connection, False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one answered request at INFO."""
        _log.info('%s "%s" %s', self.address_string(), self.requestline, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        """Send werkzeug's own messages (errors) to our logger."""
        level = logging.ERROR if type == "error" else logging.INFO
        _log.log(level, message, *args)

    def run_wsgi(self) -> None:
        """Answer one request, then keep or close the connection as the variant says."""
        mode = cast(EmulatorServer, self.server).settings.variants.connection
        if mode == "http/1.0":
            self.protocol_version = "HTTP/1.0"
        if mode != "keep-alive":
            self.close_connection = True
        if (self.headers.get("Expect", "").lower().strip(" \t") == "100-continue"
                and mode != "http/1.0"):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        raw = environ["wsgi.input"]
        length = None if isinstance(raw, DechunkedInput) else int(
            environ.get("CONTENT_LENGTH") or 0)
        body = _Body(raw, length)
        environ["wsgi.input"] = body
        try:
            self._execute(environ, body, mode)
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
        except Exception:  # noqa: BLE001 - logged, and the connection closed
            # The application answers its own errors; this is a fault of this handler.
            self.close_connection = True
            _log.exception("error while answering %s", self.requestline)

    def _execute(self, environ: dict[str, Any], body: _Body, mode: str) -> None:
        """Call the application and send its answer."""
        status: list[str] = []
        headers: list[tuple[str, str]] = []
        sent = False

        def write(data: bytes) -> None:
            nonlocal sent
            if not sent:
                sent = True
                self._send_head(status[0], headers, environ, mode, body)
            if data:
                self.wfile.write(data)
            self.wfile.flush()

        def start_response(new_status: str, new_headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            status[:] = [new_status]
            headers[:] = new_headers
            return write

        answer = self.server.app(environ, start_response)
        try:
            for data in answer:
                write(data)
            if not sent:
                write(b"")
        finally:
            self._finish_body(body)
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    def _send_head(self, status: str, headers: list[tuple[str, str]],
                   environ: dict[str, Any], mode: str, body: _Body) -> None:
        """Send the status line and headers, saying whether the connection stays open."""
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        names = set()
        for name, value in headers:
            if name.lower() != "connection":
                self.send_header(name, value)
                names.add(name.lower())
        # Without a length only the end of the connection can end the body.
        if ("content-length" not in names and environ["REQUEST_METHOD"] != "HEAD"
                and int(code) not in (204, 304)):
            self.close_connection = True
        # The answer is ready, so the application has read all of the body it wants; with
        # too much left unread (a 413 before a big body) the next request is out of reach.
        left = body.unread()
        if left is None or left > _DRAIN_LIMIT:
            self.close_connection = True
        if self.close_connection:
            if mode != "http/1.0":
                self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        self.end_headers()

    def _finish_body(self, body: _Body) -> None:
        """Read what is left of the request body, or close the connection when that is unwise."""
        left = body.unread()
        if left is None or left > _DRAIN_LIMIT:
            self.close_connection = True
        if self.close_connection:
            # As werkzeug does: take what the client sends anyway, so it sees the answer
            # (a 413 before the body) rather than a reset.
            _discard_pending(self.connection, self.rfile)
            return
        self.connection.settimeout(_DRAIN_SECONDS)
        try:
            while body.read(64 * 1024):
                pass
        except OSError:
            self.close_connection = True
        finally:
            self.connection.settimeout(None)


def _discard_pending(connection: socket.socket, rfile: io.BufferedIOBase) -> None:
    """Read and drop whatever the client has sent, for as long as it keeps sending."""
    with selectors.DefaultSelector() as selector:
        selector.register(connection, selectors.EVENT_READ)
        total = reads = 0
        # A timeout of 0 tends to miss a client that is still sending.
        while selector.select(timeout=0.01):
            # read1: what has arrived, without waiting for more.
            data = rfile.read1(10_000_000)
            total += len(data)
            reads += 1
            if not data or total >= 10_000_000_000 or reads > 1000:
                break
