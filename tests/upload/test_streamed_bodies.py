"""Streamed chunk bodies: read from the files as they are sent, the digested bytes or none.

Each test sends real files over real HTTP: to the local OSAI server (which stores and
digests what it receives), or to a wire server that keeps every request as it came.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.wrappers import Request

from osai_import.default_plugins.none_encoder import NoneEncoder
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.records import ImageRecord
from osai_import.source.files import FileFacts, facts_of, open_image
from osai_import.upload.checked import BLOCK, CheckedFile, digest_file
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.multipart import ChunkBody, ChunkItem, ItemStreamError, stream_chunk
from osai_import.upload.retry import RetryEvent, RetryPolicy
from osai_import.upload.session import UploadSession
from osai_import.upload.uploader import Item, Tally, Uploader
from tests.support import make_image
from tests.upload.emulated import requests_seen, stored
from tests.upload.wire import Exchange, WireServer, api, reply, send

TOKEN = "access-token-3b8e61d0a4"
FAST = RetryPolicy(attempts=5, base=0.001, cap=0.01, retry_after_cap=0.02)


def photo(path: Path, width: int, height: int, seed: int) -> Path:
    """Write a noisy JPEG (noise does not compress: a photo's size for its pixels)."""
    pixels = hashlib.shake_256(str(seed).encode()).digest(width * height * 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", (width, height), pixels).save(path, "JPEG", quality=90)
    return path


def facts(path: Path) -> FileFacts:
    """Return the facts of ``path`` as the check notes them."""
    fd, st, link = open_image(path)
    os.close(fd)
    return facts_of(st, link)


def checked(path: Path) -> CheckedFile:
    """Return ``path`` digested as the uploader digests it before its chunk leaves."""
    return digest_file(path, facts(path))


def rewrite_in_place(path: Path) -> None:
    """Change one byte of ``path`` in place, keeping its inode, size and modification time."""
    st = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(st.st_size // 2)
        byte = handle.read(1)
        handle.seek(st.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    """Return emulator settings on a fresh data folder."""
    return EmulatorSettings(data_dir=tmp_path / "osai", token=TOKEN, seed=1, retry_after=0.01)


@pytest.fixture
def server(settings: EmulatorSettings) -> Iterator[LocalServer]:
    """Run the local server for one test."""
    with LocalServer(settings) as running:
        yield running


@pytest.fixture
def events() -> list[RetryEvent]:
    """Collect the retry events of the test's client."""
    return []


@pytest.fixture
def client(server: LocalServer, events: list[RetryEvent]) -> Iterator[OsaiClient]:
    """Return a client of the test's server with fast retries."""
    with OsaiClient(server.base_url, TOKEN, retry=FAST, timeout=10,
                    on_retry=events.append) as made:
        yield made


def ready(client: OsaiClient) -> tuple[int, int]:
    """Create a dataset and start an upload session; return their ids."""
    dataset_id = client.create_dataset("streamed").id
    return dataset_id, client.start_uploading(dataset_id)


# --- the body itself -------------------------------------------------------------------


def test_the_body_is_no_bytes_and_holds_a_block_or_two_at_a_time(tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"p{n}.jpg", 1000, 700, n) for n in range(6)]
    images = sum(p.stat().st_size for p in paths)
    assert images > 8 * BLOCK  # holding them would show
    items = [ChunkItem(p.name, checked(p)) for p in paths]
    body, content_type = stream_chunk(3, "u-1", items)
    assert isinstance(body, ChunkBody) and not isinstance(body, (bytes, bytearray, memoryview))
    assert len(body) > images

    tracemalloc.start()
    try:
        digest, length, largest = hashlib.sha256(), 0, 0
        for piece in body:
            digest.update(piece)
            length += len(piece)
            largest = max(largest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert length == len(body)
    assert largest <= BLOCK + 64 * 1024
    assert peak < 4 * BLOCK, f"iterating the body held {peak} bytes at once"

    # Iterated again (a retry), it gives the same bytes, which are the documented form.
    whole = b"".join(body)
    assert hashlib.sha256(whole).hexdigest() == digest.hexdigest()
    form = Request.from_values(input_stream=io.BytesIO(whole), content_length=len(whole),
                               content_type=content_type, method="POST")
    assert [(f.filename, f.mimetype, f.read()) for f in form.files.getlist("imagesFiles")] == [
        (p.name, "image/jpeg", p.read_bytes()) for p in paths]


def test_the_request_has_a_content_length_and_the_exact_bytes(tmp_path: Path) -> None:
    paths = [photo(tmp_path / "big.jpg", 900, 700, 1),
             make_image(tmp_path / "small.png", 20, 10)]

    def chunk(server: WireServer, exchange: Exchange, sock: object) -> bool:
        return send(sock, reply(200, "{}", "application/json"))  # type: ignore[arg-type]

    with WireServer(api({"/Images/UploadChunk": chunk})) as wire, \
            OsaiClient(wire.base_url, TOKEN, retry=FAST, timeout=10) as client:
        result = client.upload_chunk(5, 7, [ChunkItem(p.name, checked(p)) for p in paths])
        [exchange] = wire.seen("/Images/UploadChunk")
    assert "transfer-encoding" not in exchange.headers
    assert exchange.headers["content-length"] == str(len(exchange.body)) == str(result.bytes_sent)
    form = Request.from_values(input_stream=io.BytesIO(exchange.body),
                               content_length=len(exchange.body),
                               content_type=exchange.headers["content-type"], method="POST")
    assert [(f.filename, f.mimetype, f.read()) for f in form.files.getlist("imagesFiles")] == [
        ("big.jpg", "image/jpeg", paths[0].read_bytes()),
        ("small.png", "image/png", paths[1].read_bytes())]


# --- what the server stores ---------------------------------------------------------------


def test_the_server_stores_the_digested_bytes(
        client: OsaiClient, server: LocalServer, tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"{n}.jpg", 600, 400, n) for n in range(3)]
    sources = [checked(p) for p in paths]
    dataset_id, upload_id = ready(client)
    result = client.upload_chunk(dataset_id, upload_id,
                                 [ChunkItem(p.name, s) for p, s in zip(paths, sources, strict=True)])
    client.finish_uploading(dataset_id, upload_id)
    assert (result.count, result.attempts) == (3, 1)
    held = {i["name"]: i["sha256"] for i in stored(server, dataset_id)["images"]}
    assert held == {p.name: s.sha256 for p, s in zip(paths, sources, strict=True)}
    assert held == {p.name: sha(p) for p in paths}


def test_a_retry_sends_the_same_bytes_again(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"{n}.jpg", 500, 400, n) for n in range(2)]
    dataset_id, upload_id = ready(client)
    # The first try is stored and its answer lost: the retry stores the chunk again.
    settings.lose_mode = "500"
    settings.lose_next = {"UploadChunk": 1}
    result = client.upload_chunk(dataset_id, upload_id, [ChunkItem(p.name, checked(p))
                                                         for p in paths])
    client.finish_uploading(dataset_id, upload_id)
    assert (result.attempts, result.maybe_committed) == (2, True)
    held = sorted((i["name"], i["sha256"]) for i in stored(server, dataset_id)["images"])
    assert held == sorted([(p.name, sha(p)) for p in paths] * 2)


def test_a_file_rewritten_after_its_digest_fails_by_name_and_nothing_is_stored(
        client: OsaiClient, server: LocalServer, events: list[RetryEvent],
        tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"{n}.jpg", 700, 500, n) for n in range(3)]
    sources = [checked(p) for p in paths]
    rewrite_in_place(paths[1])  # same inode, size and time: only the bytes tell
    assert facts(paths[1]) == sources[1].facts
    dataset_id, upload_id = ready(client)
    with pytest.raises(ItemStreamError) as caught:
        client.upload_chunk(dataset_id, upload_id,
                            [ChunkItem(p.name, s) for p, s in zip(paths, sources, strict=True)])
    error = caught.value
    assert (error.index, error.name, error.code) == (1, "1.jpg", "image.changed")
    assert str(paths[1]) in str(error) and "run again" in str(error)
    assert not error.maybe_committed and events == []  # not retried: the file is the cause
    # Another file in its place is caught when it is opened, before any of it is sent.
    replacement = tmp_path / "other.jpg"
    photo(replacement, 700, 500, 9).replace(paths[2])
    with pytest.raises(ItemStreamError, match="another file now has its name") as replaced:
        client.upload_chunk(dataset_id, upload_id, [ChunkItem("2.jpg", sources[2])])
    assert replaced.value.code == "image.changed"
    client.finish_uploading(dataset_id, upload_id)
    assert stored(server, dataset_id)["images"] == []
    assert "200" not in requests_seen(server, "UploadChunk")


def test_a_file_changed_between_tries_is_not_sent_and_the_first_try_holds_its_digest(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        events: list[RetryEvent], tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"{n}.jpg", 400, 300, n) for n in range(2)]
    sources = [checked(p) for p in paths]
    dataset_id, upload_id = ready(client)
    settings.lose_mode = "500"
    settings.lose_next = {"UploadChunk": 1}
    events_seen = len(events)
    client._transport.on_retry = lambda event: (events.append(event),
                                                rewrite_in_place(paths[0]))
    with pytest.raises(ItemStreamError) as caught:
        client.upload_chunk(dataset_id, upload_id,
                            [ChunkItem(p.name, s) for p, s in zip(paths, sources, strict=True)])
    assert (caught.value.index, caught.value.code) == (0, "image.changed")
    assert caught.value.maybe_committed  # the first try's answer was lost: it may be stored
    assert len(events) == events_seen + 1
    client.finish_uploading(dataset_id, upload_id)
    # Stored once, by the first try, with the bytes digested (not those on disk now).
    held = sorted((i["name"], i["sha256"]) for i in stored(server, dataset_id)["images"])
    assert held == sorted((p.name, s.sha256) for p, s in zip(paths, sources, strict=True))
    assert sha(paths[0]) != sources[0].sha256


class _RewritingJournal(Journal):
    """A journal that rewrites a file right after it notes the chunk as being sent.

    That is the moment between the digest and the send, where only the stream can see it.
    """

    victim: Path | None = None

    def record(self, server: str, dataset_id: int | str, rows: object) -> None:
        super().record(server, dataset_id, rows)  # type: ignore[arg-type]
        if self.victim is not None:
            rewrite_in_place(self.victim)
            self.victim = None


def test_the_uploader_fails_the_changed_image_by_name_and_sends_the_others(
        client: OsaiClient, server: LocalServer, tmp_path: Path) -> None:
    records = []
    for n in range(5):
        path = photo(tmp_path / "data" / f"{n}.jpg", 300, 200, n)
        records.append(ImageRecord(f"key-{n}", path, f"{n}.jpg", width=300, height=200, depth=3))
    digests = {r.name: sha(r.path) for r in records}  # type: ignore[arg-type]
    journal = _RewritingJournal(tmp_path / "journal")
    journal.victim = records[2].path  # type: ignore[assignment]
    dataset_id = client.create_dataset("uploader").id
    session = UploadSession(client, journal, "test", dataset_id)
    session.start()
    tally = Tally()
    uploader = Uploader(client, session, NoneEncoder(NoneEncoder.Options()), journal, {}, tally,
                        skip_unsupported=False, on_done=lambda *a: None)
    uploader.send([Item(r, r.path.stat().st_size, facts(r.path), "fp")  # type: ignore[union-attr, arg-type]
                   for r in records])
    session.finish()
    assert tally.uploaded == 4 and list(tally.failed) == ["key-2"]
    assert tally.failed["key-2"].startswith("image.changed: key-2: ")
    assert "digested before its chunk left" in tally.failed["key-2"]
    held = {i["name"]: i["sha256"] for i in stored(server, dataset_id)["images"]}
    assert held == {name: d for name, d in digests.items() if name != "2.jpg"}
    rows: dict[str, ImageRow] = journal.images("test", dataset_id, list(digests))
    assert sorted(rows) == ["0.jpg", "1.jpg", "3.jpg", "4.jpg"]
    assert {row.state for row in rows.values()} == {"acked"}
    assert all(rows[n].digest == digests[n] for n in rows)
    journal.close()
