"""A deadline for every request, and a cancel that ends the requests in flight.

requests bounds each socket operation, never a whole request: a server that trickles a
byte a second keeps a call alive for ever, and a thread blocked in a read cannot be told
to stop. Here every try of a request is a ``Flight`` registered with the client's
``Watchdog``. The connection pool installed by ``WatchedAdapter`` records on the flight
the connection it hands out (and, while that connection connects, a duplicate of its
socket); when the flight's deadline passes, or ``Watchdog.cancel`` stops it, the watchdog
shuts that socket down. A blocked connect, write or read then returns at once, the try
fails, and the pool closes the connection instead of reusing it.

The flight of the current thread travels in a thread-local: requests calls the pool in
the thread that made the request, so no request object has to carry it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from typing import Any, Self

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.util.connection import allowed_gai_family

# How far a try got: nothing sent, connecting, part of the request sent, all of it handed
# to the OS (which delivers it even if the connection is shut down next).
NOT_SENT, CONNECTING, SENDING, SENT = 0, 1, 2, 3
# Why the watchdog stopped a flight.
DEADLINE, CANCELLED = "deadline", "cancelled"

_IDLE_EXIT = 5.0  # the watchdog's thread ends after this long without a flight
_local = threading.local()


class Flight:
    """One try of one request, as the watchdog sees it.

    ``reason`` is None, DEADLINE or CANCELLED once stopped; ``stopped`` is True when
    stopping it reached its connection (a socket shut down, or a connect refused), so
    the try failed, or must be taken as failed, because of the stop. ``phase`` says
    how much of the request was handed to the OS before that.
    """

    __slots__ = ("_conn", "_dup", "_sock", "cancellable", "deadline", "phase", "reached",
                 "reason", "stopped", "watchdog")

    def __init__(self, watchdog: Watchdog, deadline: float, cancellable: bool) -> None:
        self.watchdog, self.deadline, self.cancellable = watchdog, deadline, cancellable
        self.reason: str | None = None
        self.stopped = False
        self.phase = NOT_SENT
        # A connection to the server was open for this try (made, or reused from the pool).
        self.reached = False
        self._conn: _Watched | None = None
        self._sock: socket.socket | None = None  # the connection's socket, when it has one
        self._dup: socket.socket | None = None  # a connecting socket's duplicate

    def __enter__(self) -> Self:
        _local.flight = self
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            _local.flight = None
        finally:  # a signal's exception between the two must not leave it registered
            self.watchdog.end(self)

    # --- called by the pool and its connections, in the request's thread ----------------

    def attach(self, conn: _Watched) -> None:
        """Note the connection the pool handed out; stop it at once if already stopped."""
        with self.watchdog.lock:
            self._conn, self._sock = conn, conn.sock
            self.reached = self.reached or conn.sock is not None
            conn.osai_flight = self
            if self.reason is not None:
                self._shut()

    def connecting(self, sock: socket.socket) -> None:
        """Watch a socket about to connect; raise when the flight is stopped already."""
        with self.watchdog.lock:
            if self.reason is not None:
                self.stopped = True
                raise ConnectionAbortedError(f"stopped before connecting ({self.reason})")
            # TLS detaches the socket object it wraps, so a duplicate of the descriptor is
            # what can still shut the connection down during the handshake.
            self._close_dup()  # of an address tried before this one
            self._dup = sock.dup()

    def connected(self, conn: _Watched) -> None:
        """Forget the connecting socket; watch the connection's own from now on."""
        with self.watchdog.lock:
            self._close_dup()
            self._sock = conn.sock
            self.reached = self.reached or conn.sock is not None
            if self.reason is not None:
                self._shut()

    def released(self, conn: _Watched) -> None:
        """Forget the connection: its answer is read and the pool has it back."""
        with self.watchdog.lock:
            if self._conn is conn:
                self._conn = self._sock = None
            conn.osai_flight = None

    # --- called by the watchdog, under its lock ------------------------------------------

    def stop(self, reason: str) -> None:
        """Stop this flight: shut down whatever socket it uses now."""
        if self.reason is None:
            self.reason = reason
            self._shut()

    def _shut(self) -> None:
        for sock in (self._dup, self._sock):
            if sock is None:
                continue
            # The base class's shutdown: an SSL socket's own would drop its TLS state
            # under the feet of the thread reading it.
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                continue  # closed already: the try ended (or failed) by itself
            self.stopped = True
        if self._conn is not None:
            self._conn.osai_killed = True

    def _close_dup(self) -> None:
        if self._dup is not None:
            self._dup.close()
            self._dup = None

    def _forget(self) -> None:
        self._close_dup()
        if self.stopped and self._sock is not None:
            # Closed now, not when the last reference to the cut answer goes (an error's
            # traceback may keep it for long): the server sees the connection end.
            with contextlib.suppress(OSError):
                descriptor = self._sock.detach()
                if descriptor >= 0:
                    os.close(descriptor)
        if self._conn is not None and self._conn.osai_flight is self:
            self._conn.osai_flight = None
        self._conn = self._sock = None


def current_flight() -> Flight | None:
    """Return the flight of the request this thread is making, if any."""
    flight: Flight | None = getattr(_local, "flight", None)
    return flight


class Watchdog:
    """Stop flights whose deadline passed, or all cancellable ones on ``cancel``.

    One thread per watchdog, started with the first flight and ended after a few idle
    seconds; it sleeps until the soonest deadline, so a request that ends in time costs a
    lock and a set insertion, never a wake-up.
    """

    def __init__(self) -> None:
        # Re-entrant: cancel() may run in a signal handler of a thread inside start().
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._flights: set[Flight] = set()
        self._thread: threading.Thread | None = None
        self._wake_at = float("inf")
        self._started = 0
        self._cancelled = False
        self._grace_end = float("inf")

    def start(self, seconds: float, *, cancellable: bool) -> Flight:
        """Register a try that must end within ``seconds`` (sooner after a cancel)."""
        deadline = time.monotonic() + seconds
        with self.lock:
            if self._cancelled and not cancellable:
                deadline = min(deadline, self._grace_end)
            flight = Flight(self, deadline, cancellable)
            if self._cancelled and cancellable:
                flight.reason = CANCELLED  # cancelled just now: the connect is refused
                return flight
            self._flights.add(flight)
            self._started += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="osai-watchdog",
                                                daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:
                self._wake.notify()
            return flight

    def end(self, flight: Flight) -> None:
        """Unregister a try that is over; the watchdog no longer touches its connection."""
        with self.lock:
            self._flights.discard(flight)
            flight._forget()

    def cancel(self, grace_end: float, settle: float = 0.0) -> None:
        """Stop every cancellable flight; end the others by ``grace_end`` (monotonic).

        A cancellable flight may still end by itself within ``settle`` seconds: an answer
        that comes then is known, where a request cut short may or may not be stored.
        """
        with self.lock:
            self._cancelled = True
            self._grace_end = min(self._grace_end, grace_end)
            settled = time.monotonic() + settle
            for flight in list(self._flights):
                if flight.cancellable and settle <= 0:
                    flight.stop(CANCELLED)
                    self._flights.discard(flight)
                else:
                    limit = settled if flight.cancellable else self._grace_end
                    flight.deadline = min(flight.deadline, limit)
            self._wake.notify()

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                soonest = float("inf")
                for flight in list(self._flights):
                    if flight.deadline <= now:
                        cancelled = self._cancelled and flight.cancellable
                        flight.stop(CANCELLED if cancelled else DEADLINE)
                        self._flights.discard(flight)
                    else:
                        soonest = min(soonest, flight.deadline)
                if soonest == float("inf"):
                    started = self._started
                    self._wake_at = float("inf")
                    self._wake.wait(_IDLE_EXIT)
                    if not self._flights and self._started == started:
                        self._thread = None
                        return
                else:
                    self._wake_at = soonest
                    self._wake.wait(soonest - now)


# --- the pool: connections that tell their flight what they are doing ------------------

def _open_socket(conn: HTTPConnection) -> socket.socket:
    """Connect as urllib3 does, letting the flight watch the socket while it connects."""
    flight = current_flight()
    host, port = conn._dns_host, conn.port
    if host.startswith("["):
        host = host.strip("[]")
    try:
        host.encode("idna")
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    try:
        error: OSError | None = None
        for family, kind, proto, _, address in socket.getaddrinfo(
                host, port, allowed_gai_family(), socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                if flight is not None:
                    flight.connecting(sock)
                for option in conn.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(conn.timeout, (int, float)) or conn.timeout is None:
                    sock.settimeout(conn.timeout)
                if conn.source_address:
                    sock.bind(conn.source_address)
                sock.connect(address)
                return _audited(conn, sock)
            except OSError as failed:
                error = failed
                sock.close()
                if flight is not None and flight.stopped:
                    break
        raise error or OSError("getaddrinfo returns an empty list")
    except socket.gaierror as failed:
        raise NameResolutionError(conn.host, conn, failed) from failed
    except TimeoutError as failed:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect "
                                  f"timeout={conn.timeout})") from failed
    except OSError as failed:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {failed}"
                                 ) from failed


def _audited(conn: HTTPConnection, sock: socket.socket) -> socket.socket:
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


def _connect(conn: _Watched, connect: Any) -> None:
    flight = current_flight()
    if flight is None:
        connect()
        return
    # http.client connects lazily inside request(), after the phase said SENDING.
    phase, flight.phase = flight.phase, CONNECTING
    try:
        connect()
    finally:
        flight.connected(conn)
    flight.phase = phase


def _request(conn: _Watched, request: Any, args: Any, kwargs: Any) -> None:
    flight = conn.osai_flight
    if flight is not None:
        flight.phase = SENDING
    request(*args, **kwargs)
    if flight is not None:
        flight.phase = SENT


class WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection whose flight can shut it down."""

    osai_flight: Flight | None = None
    osai_killed = False  # its socket was shut down: close it, never reuse it

    def _new_conn(self) -> socket.socket:
        return _open_socket(self)

    def connect(self) -> None:
        _connect(self, super().connect)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _request(self, super().request, args, kwargs)

    def close(self) -> None:
        super().close()
        self.osai_killed = False


class WatchedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection whose flight can shut it down."""

    osai_flight: Flight | None = None
    osai_killed = False

    def _new_conn(self) -> socket.socket:
        return _open_socket(self)

    def connect(self) -> None:
        _connect(self, super().connect)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _request(self, super().request, args, kwargs)

    def close(self) -> None:
        super().close()
        self.osai_killed = False


_Watched = WatchedHTTPConnection | WatchedHTTPSConnection


def _handed_out(conn: Any) -> Any:
    if isinstance(conn, (WatchedHTTPConnection, WatchedHTTPSConnection)):
        if conn.osai_killed:
            conn.close()  # reconnects on its next use
        flight = current_flight()
        if flight is not None:
            flight.attach(conn)
    return conn


def _taken_back(conn: Any) -> None:
    if isinstance(conn, (WatchedHTTPConnection, WatchedHTTPSConnection)):
        flight = conn.osai_flight
        if flight is not None:
            flight.released(conn)
        if conn.osai_killed:
            conn.close()


class WatchedHTTPPool(HTTPConnectionPool):
    """A pool of watched HTTP connections."""

    ConnectionCls = WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _handed_out(super()._get_conn(timeout))

    def _put_conn(self, conn: Any) -> None:
        _taken_back(conn)
        super()._put_conn(conn)


class WatchedHTTPSPool(HTTPSConnectionPool):
    """A pool of watched HTTPS connections."""

    ConnectionCls = WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _handed_out(super()._get_conn(timeout))

    def _put_conn(self, conn: Any) -> None:
        _taken_back(conn)
        super()._put_conn(conn)


_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": WatchedHTTPPool,
                                               "https": WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with pools of watched connections (behind an HTTP proxy too).

    A SOCKS proxy keeps urllib3's own pools: there the socket timeout, which is the
    whole deadline, bounds each read, and a cancel waits for it.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def close(self) -> None:
        """Close every pooled connection now.

        urllib3 closes a dropped pool's connections when the pool is collected, and an
        error's traceback can keep it (through a response) for as long as the error lives.
        """
        for manager in (self.poolmanager, *self.proxy_manager.values()):
            for key in manager.pools.keys():  # noqa: SIM118 - a container, not a dict
                pool = manager.pools.get(key)
                if pool is not None:
                    pool.close()
        super().close()

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:
            manager.pool_classes_by_scheme = _POOLS
        return manager
