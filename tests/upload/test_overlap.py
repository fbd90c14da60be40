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


def test_chunks_of_many_bytes_are_staggered_first_and_last() -> None:
    limits = ChunkLimits(64, 2_000_000)
    # 100 KB images: a chunk holds 19 by bytes. The first three hold a quarter, a half,
    # three quarters of that; the last 19 (1.9 MB) go as three chunks of at least 0.5 MB.
    sizes = [len(c) for c in chunked(iter(items(160, 100_000)), limits, stagger=4)]
    assert sizes == [4, 9, 14] + [19] * 6 + [6, 6, 7]
    assert [len(c) for c in chunked(iter(items(160, 100_000)), limits)] == [19] * 8 + [8]
    # A last chunk of less than a quarter of the byte limit stays whole.
    assert [len(c) for c in chunked(iter(items(3, 100_000)), limits, stagger=4)] == [3]


def test_chunks_of_small_images_are_full_by_count() -> None:
    # Small images: a chunk is bounded by its image count, and a request's round trip
    # costs more than its bytes: no chunk is cut.
    limits = ChunkLimits(64, 8_000_000)
    assert [len(c) for c in chunked(iter(items(400)), limits, stagger=4)] == [64] * 6 + [16]


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
        client.sign_in()
        hand_over = client.warm(3)
        deadline = time.monotonic() + 10
        while len(wire._sockets) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(wire._sockets) == 3
        # Until they are handed over, a call keeps the connection the sign-in opened.
        client.start_uploading(5)
        assert [e.connection for e in wire.exchanges] == [1, 1]
        hand_over()
        threads = [threading.Thread(target=client.create_dataset, args=(f"d{n}",))
                   for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # The three calls went over the connections open (the first and two made ahead).
        assert len(wire._sockets) == 3
        assert {e.connection for e in wire.exchanges} <= {1, 2, 3}
        assert len(wire.seen("/Datasets")) == 3
