"""Run the emulator on a threaded werkzeug server, in the background or in the foreground."""

from __future__ import annotations

import secrets
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from osai_import.emulator.app import EmulatorApp
from osai_import.emulator.auth import TokenIssuer
from osai_import.emulator.connection import EmulatorServer
from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.store import Store
from osai_import.emulator.variants import Variants

__all__ = ["EmulatorSettings", "LocalServer", "Variants"]

# How long stop() lets running requests finish before it closes the database.
_DRAIN_SECONDS = 10.0


def _listen(host: str, port: int) -> socket.socket:
    """Return a TCP socket bound to host:port and listening; raise OSError if it cannot."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Restarting on the same port must not wait for TIME_WAIT sockets to clear.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class LocalServer:
    """Serve an OSAI-compatible API on loopback from a data folder.

    ``port=0`` picks a free port. ``settings`` stays live: change its fault rates or
    latency while the server runs.
    """

    def __init__(self, settings: EmulatorSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.token = settings.token or secrets.token_urlsafe(24)
        self._requested_port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._app: EmulatorApp | None = None
        self._bound_port = 0

    @property
    def port(self) -> int:
        """Return the bound port (the real one when 0 was asked for, kept after stop)."""
        return self._bound_port or self._requested_port

    @property
    def root_url(self) -> str:
        """Return ``http://HOST:PORT``, with a wildcard host shown as loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the OSAI base URL, ``http://HOST:PORT/api``."""
        return f"{self.root_url}/api"

    @property
    def app(self) -> EmulatorApp:
        """Return the WSGI application (for its stats); only while started."""
        if self._app is None:
            raise RuntimeError("the server is not started")
        return self._app

    def bind(self) -> LocalServer:
        """Open the data folder and bind the socket without serving yet."""
        if self._server is not None:
            return self
        data_dir = Path(self.settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._store = Store(data_dir)
        try:
            self._app = EmulatorApp(self.settings, self._store, TokenIssuer(data_dir, self.token))
            # werkzeug answers a failed bind with sys.exit(1), which must not happen inside a
            # library: bind here, so the caller gets the OSError, and hand over the socket.
            with _listen(self.host, self._requested_port) as sock:
                self._server = EmulatorServer(self.host, sock.getsockname()[1], self._app,
                                              self.settings, self._app.stats, fd=sock.fileno())
            self._bound_port = int(self._server.server_address[1])
        except BaseException:
            self._store.close()
            self._store = self._app = None
            raise
        return self

    def start(self) -> Self:
        """Serve in a background daemon thread; return once connections are accepted."""
        self.bind()
        assert self._server is not None
        if self._thread is None:
            # The socket listens since bind(); a short poll keeps stop() quick.
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name=f"osai-emulator:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let running requests end, close the socket and the database."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join()
            self._thread = None
        server.server_close()
        if self._app is not None:
            self._app.close(_DRAIN_SECONDS)
        # Kept-alive connections wait for a next request that must not come any more.
        server.close_connections()
        if self._store is not None:
            self._store.close()
        self._store = self._app = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
