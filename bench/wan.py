"""A loopback proxy that makes a WAN link of a local server: a shared uplink, RTT, slow start.

``WanLink`` listens on 127.0.0.1 and forwards every connection to a target server, shaped
as an office uplink would shape it:

- **one shared uplink** (``mbit``, client to server): every connection's bytes queue for
  the same link, sent at its rate a segment at a time, connections in turn (fair
  queuing, as Linux's fq_codel and most routers do); the queue holds at most ``buffer``
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
from collections import deque
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
    """One connection: its window, the bytes it has in flight, its queue at the link."""

    def __init__(self, window: int, writer: asyncio.StreamWriter) -> None:
        self.window = window
        self.writer = writer  # towards the server
        self.in_flight = 0
        self.last_active = 0.0
        self.arrived = 0.0  # when its last byte sent reaches the server
        self.acked = asyncio.Event()
        self.queue: deque[bytes | None] = deque()


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
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: deque[_Flow] = deque()  # flows with bytes queued, in turn
        self._queued = 0  # bytes queued at the link
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

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
        self._sender = asyncio.create_task(self._link())
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in [*self._tasks, *([self._sender] if self._sender else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, client_in: asyncio.StreamReader,
                      client_out: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        opened = loop.time()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        with self._lock:
            self._stats.connections += 1
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        flow = _Flow(self.initial_window, server_out)
        flow.last_active = opened
        up = asyncio.create_task(self._up(client_in, flow, opened + self.connect_rtts * self.rtt))
        down = asyncio.create_task(self._down(server_in, client_out))
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        except asyncio.CancelledError:
            pass  # the link is closing: its connections end with it
        finally:
            up.cancel()
            down.cancel()
            server_out.close()
            client_out.close()

    async def _up(self, reader: asyncio.StreamReader, flow: _Flow, usable_at: float) -> None:
        """Queue client bytes for the shared uplink, within the connection's window."""
        loop = asyncio.get_running_loop()
        if usable_at > loop.time():
            await asyncio.sleep(usable_at - loop.time())
        while True:
            try:
                data = await reader.read(_SEGMENT)
            except OSError:
                data = b""
            if not data:
                flow.queue.append(None)  # the end: closed once the bytes before it arrive
                self._ready.set()
                return
            now = loop.time()
            if flow.in_flight == 0 and now - flow.last_active > self.idle_restart:
                flow.window = self.initial_window
            while flow.in_flight > 0 and flow.in_flight + len(data) > flow.window:
                flow.acked.clear()
                await flow.acked.wait()
            # A router's buffer: a sender waits while the link's queue is full.
            while self._queued > self.buffer * self.rate:
                self._drained.clear()
                await self._drained.wait()
            flow.in_flight += len(data)
            flow.last_active = now
            flow.queue.append(data)
            self._queued += len(data)
            if flow not in self._active:
                self._active.append(flow)
            self._ready.set()

    async def _link(self) -> None:
        """Send the queued bytes at the link's rate, a segment per flow in turn (fair queuing).

        Routers and hosts queue per flow (fq_codel is Linux's default): connections that
        have bytes to send share the link evenly, as TCP flows do.
        """
        loop = asyncio.get_running_loop()
        busy = False  # the link sent without a pause since the last segment
        while True:
            if not self._active:
                self._ready.clear()
                await self._ready.wait()
                busy = False
                continue
            flow = self._active.popleft()
            item = flow.queue.popleft()
            if flow.queue:
                self._active.append(flow)
            now = loop.time()
            if item is None:
                loop.call_at(max(flow.arrived, now + self.rtt / 2), _close, flow.writer)
                continue
            # Back to back, a segment starts when the last one ended, however late the
            # loop woke up: the link's clock is virtual, so timer slack costs no rate.
            start = self._link_free if busy else max(now, self._link_free)
            busy = True
            self._link_free = start + len(item) / self.rate
            flow.arrived = self._link_free + self.rtt / 2
            self._queued -= len(item)
            self._drained.set()
            with self._lock:
                stats = self._stats
                stats.bytes_up += len(item)
                if stats.first_sent is None:
                    stats.first_sent = start
                stats.last_arrived = flow.arrived
            loop.call_at(flow.arrived, _deliver, flow.writer, item)
            loop.call_at(flow.arrived + self.rtt / 2, self._ack, flow, len(item))
            # The next segment is chosen when this one has left: that is what makes it fair.
            await asyncio.sleep(max(0.0, self._link_free - loop.time()))

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
