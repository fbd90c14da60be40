"""Work that overlaps: staggered chunks, categories created at once, connections opened ahead."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

from osai_import.records import ImageRecord
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal
from osai_import.upload.limits import ChunkLimits
from osai_import.upload.retry import RetryPolicy
from osai_import.upload.setup import CategorySetup, create_categories
from osai_import.upload.uploader import Item
from osai_import.upload.workers import chunked
from tests.upload.wire import Exchange, WireServer, api, reply, send

TOKEN = "access-token-91c3d7e5a2"
FAST = RetryPolicy(attempts=3, base=0.001, cap=0.01)


def items(count: int, size: int = 1000) -> list[Item]:
    """Return ``count`` items of ``size`` bytes (no file is read by ``chunked``)."""
    return [Item(ImageRecord(f"k{n}", Path(f"/nowhere/{n}.jpg"), f"{n}.jpg"), size, None, "fp")
            for n in range(count)]


def test_the_first_chunks_are_staggered_then_full() -> None:
    limits = ChunkLimits(64, 8_000_000)
    sizes = [len(c) for c in chunked(iter(items(400)), limits, stagger=4)]
    # 16 + 32 + 48 + 64 x 4 = 352; the 48 left go as four chunks of 12.
    assert sizes == [16, 32, 48, 64, 64, 64, 64, 12, 12, 12, 12]
    assert [len(c) for c in chunked(iter(items(200)), limits)] == [64, 64, 64, 8]
    assert [len(c) for c in chunked(iter(items(3)), limits, stagger=4)] == [1, 1, 1]
    assert [len(c) for c in chunked(iter(items(9)), limits, stagger=4)] == [2, 2, 2, 3]
    # By bytes too: a quarter, a half, three quarters of the byte limit.
    by_bytes = [sum(i.size for i in c) for c in chunked(iter(items(100, 100_000)),
                                                        ChunkLimits(64, 2_000_000), stagger=4)]
    assert [round(b / 100_000) for b in by_bytes[:4]] == [4, 9, 14, 19]


class _Categories:
    """A /Categories route that records how many calls were in flight at once."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.in_flight = self.most = 0
        self.ids: dict[str, int] = {}

    def __call__(self, server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        name = exchange.json()["name"]
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.ids[name] = 100 + len(self.ids)
            cid = self.ids[name]
        # Long enough for the other calls to arrive, if they are made at once.
        time.sleep(self.hold)
        with self.lock:
            self.in_flight -= 1
        body = json.dumps({"id": cid, "datasetId": 5, "name": name.lower()})
        return send(sock, reply(200, body, "application/json"))


def test_box_labels_are_created_at_once_image_categories_one_at_a_time(
        tmp_path: Path) -> None:
    route = _Categories(hold=0.3)
    names = ["apple", "lemon", "orange", "pear"]
    with WireServer(api({"/Categories": route})) as wire, \
            OsaiClient(wire.base_url, TOKEN, retry=FAST, timeout=10) as client:
        journal = Journal(tmp_path / "journal")
        setup = CategorySetup()
        # "apple" classifies images: its id is needed, so it is never one of several
        # in flight when a run dies. The others only label boxes.
        create_categories(client, journal, "s", 5, names, {"apple"}, setup)
    assert route.most == 3 and list(route.ids)[-1] == "apple"
    assert setup.created == names
    assert setup.ids == {name: route.ids[name] for name in names}
    assert journal.categories("s", 5) == setup.ids
    assert all(journal.pending("s", "category", 5, n) is None for n in names)
    journal.close()


def test_one_worker_creates_categories_one_at_a_time(tmp_path: Path) -> None:
    # A run with upload.workers 1 sizes its client's pool 3: one request at a time.
    route = _Categories(hold=0.1)
    with WireServer(api({"/Categories": route})) as wire, \
            OsaiClient(wire.base_url, TOKEN, retry=FAST, timeout=10, pool_size=3) as client:
        journal = Journal(tmp_path / "journal")
        setup = CategorySetup()
        create_categories(client, journal, "s", 5, ["a", "b", "c"], set(), setup)
    assert route.most == 1 and setup.created == ["a", "b", "c"]
    journal.close()


def test_names_a_server_may_take_for_one_another_are_created_one_after_the_other(
        tmp_path: Path) -> None:
    # This server lower-cases names: "Cat" and "cat" are one category, decided in order.
    route = _Categories(hold=0.2)
    with WireServer(api({"/Categories": route})) as wire, \
            OsaiClient(wire.base_url, TOKEN, retry=FAST, timeout=10) as client:
        journal = Journal(tmp_path / "journal")
        setup = CategorySetup()
        create_categories(client, journal, "s", 5, ["Cat", "cat"], set(), setup)
    assert route.most == 1 and list(route.ids) == ["Cat"]
    assert setup.created == ["Cat"] and setup.ids == {"Cat": 100, "cat": 100}
    journal.close()


def test_connections_opened_ahead_serve_the_next_calls(tmp_path: Path) -> None:
    with WireServer(api({})) as wire, \
            OsaiClient(wire.base_url, TOKEN, retry=FAST, timeout=10) as client:
        client.warm(3)
        deadline = time.monotonic() + 10
        while len(wire._sockets) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(wire._sockets) == 3
        threads = [threading.Thread(target=client.create_dataset, args=(f"d{n}",))
                   for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # The sign-in and the three calls went over the connections opened ahead.
        assert len(wire._sockets) == 3
        assert {e.connection for e in wire.exchanges} <= {1, 2, 3}
        assert len(wire.seen("/Datasets")) == 3
