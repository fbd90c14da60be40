"""A loopback proxy that makes a WAN link of a local server: a shared uplink, RTT, slow start.

``WanLink`` listens on 127.0.0.1 and forwards every connection to a target server, shaped
as an office uplink would shape it:

- **one shared uplink** (``mbit``, client to server): every connection's bytes queue for
  the same link, a segment at a time, at its rate; the queue holds at most ``buffer``
  seconds of bytes (a router's buffer) and senders wait beyond that;
- **latency**: each direction adds half the round trip (``rtt_ms``); answers (small) are
  delayed only;
- **connect cost**: a new connection carries no byte before ``connect_rtts`` round trips
  (TCP's handshake, then TLS's);
- **slow start**: each connection may have ``initial_window`` bytes in flight at first,
  growing by each acknowledged byte (doubling every round trip) up to ``max_window``;
  after ``idle_restart`` seconds without a byte in flight it starts small again (Linux's
  slow start after idle).

It runs an asyncio loop in a thread of the benchmark's process (it is light: a few
hundred segments a second) and counts what crossed the uplink: ``stats()``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

_SEGMENT = 16 * 1024  # bytes put on the link at once: a handful of TCP segments


@dataclass
class LinkStats:
    """What crossed the uplink: bytes, when the first left and the last arrived, connections."""

    bytes_up: int = 0
    first_sent: float | None = None  # loop time the first byte went on the link
    last_arrived: float | None = None  # loop time the last byte reached the server
    connections: int = 0

    @property
    def seconds(self) -> float:
        """Return the time from the first byte sent to the last one delivered."""
        if self.first_sent is None or self.last_arrived is None:
            return 0.0
        return self.last_arrived - self.first_sent


class _Flow:
    """One connection's congestion window and the bytes it has in flight."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.in_flight = 0
        self.last_active = 0.0
        self.acked = asyncio.Event()


class WanLink:
    """Forward 127.0.0.1:``port`` to ``target``, shaped as a WAN uplink (module docstring)."""

    def __init__(self, target_port: int, *, mbit: float = 50.0, rtt_ms: float = 40.0,
                 connect_rtts: float = 2.0, initial_window: int = 10 * 1460,
                 max_window: int | None = None, buffer: float = 0.05,
                 idle_restart: float | None = None, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.rate = mbit * 1e6 / 8  # bytes per second
        self.rtt = rtt_ms / 1000
        self.connect_rtts = connect_rtts
        self.initial_window = initial_window
        # Twice the bandwidth-delay product: one connection alone can fill the link.
        self.max_window = max_window or max(initial_window, int(2 * self.rate * self.rtt))
        self.buffer = buffer
        # Linux restarts slow start after an idle RTO: about 200 ms plus the round trip.
        self.idle_restart = idle_restart if idle_restart is not None else 0.2 + self.rtt
        self.port = 0
        self._stats = LinkStats()
        self._lock = threading.Lock()
        self._link_free = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wan-link",
                                        daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def url(self, server_url: str) -> str:
        """Return ``server_url`` (on the target's port) as reached through the link."""
        return server_url.replace(f":{self.target[1]}/", f":{self.port}/", 1)

    def stats(self) -> LinkStats:
        """Return a copy of what crossed the uplink so far."""
        with self._lock:
            s = self._stats
            return LinkStats(s.bytes_up, s.first_sent, s.last_arrived, s.connections)

    def reset(self) -> None:
        """Forget what crossed the uplink so far (between two measured clients)."""
        with self._lock:
            self._stats = LinkStats()

    # --- the loop's side -------------------------------------------------------------------

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, client_in: asyncio.StreamReader,
                      client_out: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        with self._lock:
            self._stats.connections += 1
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        flow = _Flow(self.initial_window)
        flow.last_active = opened
        up = asyncio.create_task(self._up(client_in, server_out, flow,
                                          opened + self.connect_rtts * self.rtt))
        down = asyncio.create_task(self._down(server_in, client_out))
        await asyncio.gather(up, down, return_exceptions=True)

    async def _up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  flow: _Flow, usable_at: float) -> None:
        """Carry client bytes to the server over the shared uplink, within the window."""
        loop = asyncio.get_running_loop()
        if usable_at > loop.time():
            await asyncio.sleep(usable_at - loop.time())
        arrived = loop.time()
        while True:
            try:
                data = await reader.read(_SEGMENT)
            except OSError:
                data = b""
            if not data:
                loop.call_at(max(arrived, loop.time() + self.rtt / 2), _close, writer)
                return
            now = loop.time()
            if flow.in_flight == 0 and now - flow.last_active > self.idle_restart:
                flow.window = self.initial_window
            while flow.in_flight > 0 and flow.in_flight + len(data) > flow.window:
                flow.acked.clear()
                await flow.acked.wait()
            # A router's buffer: a sender waits while the link's queue is full.
            while self._link_free - loop.time() > self.buffer:
                await asyncio.sleep(self._link_free - loop.time() - self.buffer)
            now = loop.time()
            start = max(now, self._link_free)
            self._link_free = start + len(data) / self.rate
            arrived = self._link_free + self.rtt / 2
            flow.in_flight += len(data)
            flow.last_active = now
            with self._lock:
                stats = self._stats
                stats.bytes_up += len(data)
                if stats.first_sent is None:
                    stats.first_sent = start
                stats.last_arrived = arrived
            loop.call_at(arrived, _deliver, writer, data)
            loop.call_at(arrived + self.rtt / 2, self._ack, flow, len(data))

    def _ack(self, flow: _Flow, size: int) -> None:
        flow.in_flight -= size
        flow.last_active = self._loop.time()
        if flow.window < self.max_window:
            flow.window = min(self.max_window, flow.window + size)
        flow.acked.set()

    async def _down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Carry the server's answers back, half a round trip later."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            when = loop.time() + self.rtt / 2
            if not data:
                loop.call_at(when, _close, writer)
                return
            loop.call_at(when, _deliver, writer, data)


def _deliver(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


def _close(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        writer.close()
