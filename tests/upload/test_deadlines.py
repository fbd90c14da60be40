"""Every request ends by its deadline, and a cancel ends the requests in flight.

Real HTTP on loopback against servers that trickle, stall, never read or never accept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from osai_import.errors import CancelledError, TransientError, UnreachableError
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent, RetryPolicy
from tests.upload.wire import (
    WireServer,
    answer,
    api,
    reply,
    stall,
    tls_context,
    trickle,
    unconnectable,
)

TOKEN = "tok-4c1e7a9b2d5f8e03"
QUICK = RetryPolicy(attempts=2, base=0.001, cap=0.001, retry_after_cap=0.001)
ONCE = RetryPolicy(attempts=1)
JPEG = b"\xff\xd8\xff" + b"\x00" * 100
HEAD_64 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"


def chunk(client: OsaiClient, size: int = 0) -> Any:
    """Send a one-image chunk (``size`` bytes of image when given)."""
    data = JPEG if not size else b"\xff\xd8\xff" + bytes(size)
    return client.upload_chunk(1, 7, [ChunkItem("a.jpg", data)])


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``call`` in a thread; the dict gets its result or error and when it ended."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = call()
        except BaseException as error:
            out["error"] = error
        out["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# --- the deadline ----------------------------------------------------------------------

def test_a_trickled_body_ends_each_try_at_the_deadline() -> None:
    events: list[RetryEvent] = []
    routes = {"/UploadChunk": trickle(HEAD_64, b"x" * 64, 0.5)}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=2, retry=QUICK,
                       on_retry=events.append) as client:
        client.sign_in()
        started = time.monotonic()
        with pytest.raises(TransientError) as caught:
            chunk(client)
        took = time.monotonic() - started
        tries = server.seen("/UploadChunk")
    error = caught.value
    assert not isinstance(error, UnreachableError)
    assert 3.9 < took < 5.5, took  # two tries of about 2 s, not 32 s of trickle
    assert len(tries) == 2 and 1.9 < tries[1].at - tries[0].at < 2.8
    assert (error.attempts, error.status, error.maybe_committed) == (2, None, True)
    assert "did not answer within 2 s" in str(error) and "server.timeout" in str(error)
    assert [(e.reason, e.maybe_committed) for e in events] == [
        ("no whole answer within 2 s", True)]


def test_a_trickled_status_line_and_headers_end_at_the_deadline() -> None:
    routes = {"/Datasets": trickle(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0.3)}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=1, retry=ONCE) as client:
        client.sign_in()
        started = time.monotonic()
        with pytest.raises(TransientError, match="did not answer within 1 s"):
            client.create_dataset("d")
        assert 0.9 < time.monotonic() - started < 1.8


def test_a_connect_that_hangs_ends_at_the_deadline() -> None:
    with unconnectable() as url, OsaiClient(url, TOKEN, timeout=1, retry=QUICK) as client:
        started = time.monotonic()
        with pytest.raises(UnreachableError) as caught:
            client.sign_in()
        took = time.monotonic() - started
    assert 1.9 < took < 3.2, took
    assert caught.value.attempts == 2 and caught.value.maybe_committed is False
    assert "cannot reach" in str(caught.value)


def test_over_tls_a_trickled_body_is_a_timeout_not_a_tls_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, cert = tls_context(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    routes = {"/UploadChunk": trickle(HEAD_64, b"x" * 64, 0.3)}
    with WireServer(api(routes), tls=context) as server:
        with OsaiClient(server.base_url, TOKEN, timeout=1, retry=QUICK) as client:
            client.sign_in()
            started = time.monotonic()
            with pytest.raises(TransientError) as caught:
                chunk(client)
            took = time.monotonic() - started
            client.create_dataset("d")  # the pool is fine afterwards
        closed = time.monotonic()
        # Every connection is closed: those stopped at once, the others by close(),
        # though the error (and the cut answer in its traceback) is still alive.
        while len(server.ended) < 3 and time.monotonic() < closed + 2:
            time.sleep(0.01)
        assert {e.connection for e in server.exchanges} == set(server.ended) == {1, 2, 3}
        assert server.ended[3] < closed + 0.3
    assert server.base_url.startswith("https://") and 1.9 < took < 3.2, took
    assert not isinstance(caught.value, UnreachableError)
    assert "did not answer within 1 s" in str(caught.value) and caught.value.maybe_committed


def test_a_tls_handshake_that_stalls_ends_at_the_deadline_and_on_cancel() -> None:
    # A plain TCP server that never answers the ClientHello.
    with WireServer(api({})) as server:
        url = server.base_url.replace("http://", "https://")
        with OsaiClient(url, TOKEN, timeout=1, retry=ONCE) as client:
            started = time.monotonic()
            with pytest.raises(UnreachableError, match="no connection within 1 s"):
                client.sign_in()
            assert 0.9 < time.monotonic() - started < 1.8
        with OsaiClient(url, TOKEN, timeout=30, retry=ONCE) as client:
            thread, out = in_thread(client.sign_in)
            time.sleep(0.5)
            cancelled = time.monotonic()
            client.cancel()
            thread.join(5)
    assert out["ended"] - cancelled < 1.0
    assert isinstance(out["error"], CancelledError) and not out["error"].maybe_committed


def test_a_stopped_connection_is_closed_never_reused() -> None:
    count = [0]
    slow = trickle(HEAD_64, b"x" * 64, 0.1)

    def upload(server: WireServer, exchange: Any, sock: Any) -> bool:
        count[0] += 1
        if count[0] == 1:
            return slow(server, exchange, sock)
        return answer(reply(200, "{}", "application/json"))(server, exchange, sock)

    with WireServer(api({"/UploadChunk": upload})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=1, retry=QUICK) as client:
        client.sign_in()
        result = chunk(client)  # the first try is stopped at 1 s, the second is answered
        stopped_at = time.monotonic()
        chunk(client)
        chunk(client)
        tries = server.seen("/UploadChunk")
        time.sleep(0.3)
        ended = dict(server.ended)
    assert result.attempts == 2 and result.maybe_committed
    first, *others = (t.connection for t in tries)
    assert first not in others, "the stopped connection carried another request"
    # The client closed it when it stopped it, not at the end of the test.
    assert first in ended and ended[first] < stopped_at + 0.5
    assert len(set(others)) == 1, "healthy connections are still kept alive and reused"


# --- cancel ----------------------------------------------------------------------------

@pytest.mark.parametrize("route", [trickle(HEAD_64, b"x" * 64, 0.5), stall],
                         ids=["trickled", "stalled"])
def test_cancel_ends_an_upload_in_flight_within_a_second(route: Any) -> None:
    with WireServer(api({"/UploadChunk": route})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK) as client:
        client.sign_in()
        thread, out = in_thread(lambda: chunk(client))
        server.wait_for("/UploadChunk")
        time.sleep(0.6)
        cancelled = time.monotonic()
        client.cancel()
        thread.join(5)
    assert out["ended"] - cancelled < 1.0
    error = out["error"]
    assert isinstance(error, CancelledError)
    # The whole request had gone out: the server may have stored the chunk.
    assert error.maybe_committed is True and error.endpoint == "POST /Images/UploadChunk"
    assert "in flight" in str(error)
    assert len(server.seen("/UploadChunk")) == 1


def test_cancel_lets_an_answer_that_comes_at_once_end_the_call_normally() -> None:
    def slow(server: WireServer, exchange: Any, sock: Any) -> bool:
        time.sleep(0.25)
        return answer(reply(200, '{"accepted": 1}', "application/json"))(server, exchange, sock)

    with WireServer(api({"/UploadChunk": slow})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK) as client:
        client.sign_in()
        thread, out = in_thread(lambda: chunk(client))
        server.wait_for("/UploadChunk")
        client.cancel()
        thread.join(5)
        # Known to be stored, so not left "maybe stored"; the next call is not sent.
        assert out["result"].body == {"accepted": 1} and not out["result"].maybe_committed
        with pytest.raises(CancelledError, match="was not sent") as caught:
            chunk(client)
        assert caught.value.maybe_committed is False
        assert len(server.seen("/UploadChunk")) == 1


def test_cancel_without_settling_shuts_the_connection_at_once() -> None:
    with WireServer(api({"/UploadChunk": stall})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK, settle=0) as client:
        client.sign_in()
        thread, out = in_thread(lambda: chunk(client))
        server.wait_for("/UploadChunk")
        time.sleep(0.2)
        cancelled = time.monotonic()
        client.cancel()
        thread.join(5)
    assert out["ended"] - cancelled < 0.2
    assert isinstance(out["error"], CancelledError) and out["error"].maybe_committed


def test_cancel_while_the_body_is_still_being_sent_says_not_committed() -> None:
    # A server that never reads the body: the client blocks in the middle of sending it.
    with WireServer(api({"/UploadChunk": stall}),
                    read_body=lambda path: not path.endswith("/UploadChunk")) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK) as client:
        client.sign_in()
        thread, out = in_thread(lambda: chunk(client, 48_000_000))
        server.wait_for("/UploadChunk")
        time.sleep(0.5)
        cancelled = time.monotonic()
        client.cancel()
        thread.join(5)
    assert out["ended"] - cancelled < 1.0
    assert isinstance(out["error"], CancelledError)
    assert out["error"].maybe_committed is False  # a partial body is never carried out


def test_cancel_ends_a_hanging_connect_within_a_second() -> None:
    with unconnectable() as url, OsaiClient(url, TOKEN, timeout=30, retry=QUICK) as client:
        thread, out = in_thread(client.sign_in)
        time.sleep(0.5)
        cancelled = time.monotonic()
        client.cancel()
        thread.join(5)
    assert out["ended"] - cancelled < 1.0
    assert isinstance(out["error"], CancelledError) and not out["error"].maybe_committed


def test_cancel_between_tries_keeps_what_a_lost_answer_means() -> None:
    routes = {"/UploadChunk": answer(reply(500, "oops"))}
    slow_retry = RetryPolicy(attempts=5, base=10, cap=10)
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=slow_retry) as client:
        client.sign_in()
        thread, out = in_thread(lambda: chunk(client))
        server.wait_for("/UploadChunk")
        time.sleep(0.2)
        client.cancel()
        thread.join(5)
        assert not thread.is_alive()
    error = out["error"]
    assert isinstance(error, CancelledError) and "not retried" in str(error)
    assert error.maybe_committed is True  # the 500 may have come after the chunk was stored


def test_finish_uploading_after_cancel_ends_within_grace() -> None:
    with WireServer(api({"/FinishUploading": stall})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK, grace=1.5) as client:
        client.sign_in()
        cancelled = time.monotonic()
        client.cancel()
        with pytest.raises(TransientError) as caught:
            client.finish_uploading(1, 7)
        took = time.monotonic() - cancelled
        assert len(server.seen("/FinishUploading")) == 1  # it was tried, not skipped
    assert 1.3 < took < 2.0, took
    assert "1.5 s after the upload was cancelled" in str(caught.value)
    assert caught.value.maybe_committed is True


def test_finish_uploading_in_flight_at_the_cancel_gets_the_grace_then_ends() -> None:
    routes = {"/FinishUploading": trickle(HEAD_64, b"x" * 64, 0.5)}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK, grace=1.0) as client:
        client.sign_in()
        thread, out = in_thread(lambda: client.finish_uploading(1, 7))
        server.wait_for("/FinishUploading")
        time.sleep(0.3)
        cancelled = time.monotonic()
        client.cancel()
        thread.join(5)
    # Not cancelled at once (it unlocks the dataset), but not left to trickle for 32 s.
    assert 0.8 < out["ended"] - cancelled < 1.6
    assert isinstance(out["error"], TransientError)


def test_finish_uploading_after_cancel_does_not_wait_past_the_grace_to_retry() -> None:
    routes = {"/FinishUploading": answer(reply(503, "", headers={"Retry-After": "30"}))}
    policy = RetryPolicy(attempts=5, base=0.01, cap=0.01, retry_after_cap=30)
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=policy, grace=2) as client:
        client.sign_in()
        client.cancel()
        started = time.monotonic()
        with pytest.raises(TransientError, match="after the upload was cancelled"):
            client.finish_uploading(1, 7)
        assert time.monotonic() - started < 0.5
        assert len(server.seen("/FinishUploading")) == 1


def test_finish_uploading_after_cancel_still_unlocks_a_live_server() -> None:
    routes = {"/FinishUploading": answer(reply(200))}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK) as client:
        client.cancel()
        client.finish_uploading(1, 7)  # signs in too, within the grace
        with pytest.raises(CancelledError):
            chunk(client)
        assert [e.path for e in server.exchanges] == [
            "/api/Users/SignIn", "/api/Datasets/1/FinishUploading"]


def test_cancel_from_many_threads_at_once_ends_every_call() -> None:
    with WireServer(api({"/UploadChunk": stall})) as server, \
            OsaiClient(server.base_url, TOKEN, timeout=30, retry=QUICK, pool_size=6) as client:
        client.sign_in()
        calls = [in_thread(lambda: chunk(client)) for _ in range(6)]
        server.wait_for("/UploadChunk", 6)
        cancelled = time.monotonic()
        client.cancel()
        for thread, _ in calls:
            thread.join(5)
    assert all(isinstance(out["error"], CancelledError) for _, out in calls)
    assert max(out["ended"] for _, out in calls) - cancelled < 1.0
