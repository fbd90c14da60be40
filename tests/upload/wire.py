"""Small HTTP servers on loopback that misbehave on purpose, byte by byte.

The local OSAI server answers like a well-behaved service; these answer like what may
stand in front of one: a proxy's HTML page, an answer that trickles, a connection that
never answers or never connects. Each request is handed, read, to a ``Handler`` that
writes whatever bytes it likes on the raw socket and says whether to keep it open.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

BEARER = "bearer-6f2d91c4e8a7b350"


@dataclass
class Exchange:
    """One request as the server read it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection it came on (1, 2, ...)
    at: float  # time.monotonic() when its head was read

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


Handler = Callable[["WireServer", Exchange, socket.socket], bool]


def reply(status: int, body: bytes | str = b"", content_type: str | None = None, *,
          headers: dict[str, str] | None = None, reason: str = "X") -> bytes:
    """Return a whole HTTP/1.1 answer with a Content-Length."""
    data = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(data)}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def send(sock: socket.socket, data: bytes) -> bool:
    """Send all of ``data``; return False when the client is gone."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@dataclass
class WireServer:
    """Serve HTTP/1.1 on 127.0.0.1 with ``handler`` deciding every answer.

    ``read_body`` False leaves a request's body unread (a server that never takes it).
    ``ended`` maps a connection to when the server saw the client close it.
    """

    handler: Handler
    read_body: Callable[[str], bool] = lambda path: True
    tls: ssl.SSLContext | None = None  # serve HTTPS with it (None: plain HTTP)
    exchanges: list[Exchange] = field(default_factory=list)
    ended: dict[int, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"http{'s' if self.tls else ''}://127.0.0.1:{self.port}/api"
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving: stalled handlers return, every connection is closed."""
        self.stop.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)

    def seen(self, suffix: str) -> list[Exchange]:
        """Return the requests whose path ends with ``suffix``."""
        return [e for e in self.exchanges if e.path.endswith(suffix)]

    def wait_for(self, suffix: str, count: int = 1, timeout: float = 10) -> Exchange:
        """Wait until ``count`` requests to ``suffix`` came; return the last."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.seen(suffix)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.005)
        raise AssertionError(f"no request {count} to {suffix} within {timeout} s")

    def _accept(self) -> None:
        number = 0
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            number += 1
            with self._lock:
                self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        buffer = b""
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        self.ended[number] = time.monotonic()
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                at = time.monotonic()
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                parts = urlsplit(target)
                length = int(headers.get("content-length", "0"))
                if self.read_body(parts.path):
                    while len(buffer) < length:
                        data = sock.recv(65536)
                        if not data:
                            self.ended[number] = time.monotonic()
                            return
                        buffer += data
                    body, buffer = buffer[:length], buffer[length:]
                else:
                    body = b""
                exchange = Exchange(method, parts.path, parse_qs(parts.query), headers, body,
                                    number, at)
                self.exchanges.append(exchange)
                if not self.handler(self, exchange, sock):
                    break
                if not self.read_body(parts.path):
                    break
        except OSError:
            self.ended.setdefault(number, time.monotonic())
        finally:
            sock.close()


Route = Callable[[WireServer, Exchange, socket.socket], bool]


def api(routes: dict[str, Route]) -> Handler:
    """Return a handler that signs in and answers each path suffix with its route.

    Paths without a route get a 200 with a small JSON object holding an id.
    """
    def handle(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        for suffix, route in routes.items():
            if exchange.path.endswith(suffix):
                return route(server, exchange, sock)
        if exchange.path.endswith("/Users/SignIn"):
            return send(sock, reply(200, BEARER, "text/plain"))
        if exchange.path.endswith("/StartUploading"):
            return send(sock, reply(200, "7", "application/json"))
        return send(sock, reply(200, '{"id": 5, "name": "n"}', "application/json"))
    return handle


def answer(*answers: bytes) -> Route:
    """Return a route that answers its requests with ``answers`` in turn, then the last."""
    count = [0]

    def route(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        count[0] += 1
        return send(sock, answers[min(count[0], len(answers)) - 1])
    return route


def lost_then(*answers: bytes) -> Route:
    """Return a route that drops its first request's connection unanswered, then answers."""
    count = [0]

    def route(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        count[0] += 1
        if count[0] == 1:
            return False  # read, and then the connection closes: the answer is lost
        return send(sock, answers[min(count[0] - 1, len(answers)) - 1])
    return route


def stall(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
    """Read the request and never answer."""
    server.stop.wait()
    return False


def trickle(head: bytes, body: bytes, interval: float) -> Route:
    """Return a route that sends ``head`` at once, then ``body`` a byte per ``interval``.

    A send that fails (the client closed the connection) ends the connection as seen.
    """
    def route(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        sock.sendall(head)
        for byte in body:
            if server.stop.wait(interval):
                return False
            sock.sendall(bytes([byte]))
        return True
    return route


@contextmanager
def unconnectable() -> Iterator[str]:
    """Yield a base URL whose connects hang: a listener whose backlog is full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        filler.close()
        listener.close()


def tls_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """Return a server TLS context for 127.0.0.1 and its self-signed certificate's path."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
