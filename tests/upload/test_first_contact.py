"""A server that is not there at all is said in seconds; one that went away is waited for.

A refused connection or an unknown host before the server ever answered in this run is a
wrong server.url or a server not started: two quick tries, then a message saying which.
Once the server has answered, the same failures are a restart or a blip, and get the
whole retry policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from osai_import.errors import UnreachableError
from osai_import.testing import local_server
from osai_import.upload.client import OsaiClient
from osai_import.upload.retry import RetryEvent, RetryPolicy
from tests.reliability.support import closed_port

TOKEN = "tok-first-contact-8d2e"
# A policy that would try nine times with pauses of up to 30 s.
PATIENT = RetryPolicy(attempts=9, base=30.0, cap=30.0)


def test_a_refused_connection_at_first_contact_fails_after_two_quick_tries() -> None:
    port = closed_port()
    events: list[RetryEvent] = []
    with OsaiClient(f"http://127.0.0.1:{port}", TOKEN, timeout=5, retry=PATIENT,
                    on_retry=events.append) as client, pytest.raises(UnreachableError) as caught:
        client.sign_in()
    message = str(caught.value)
    assert caught.value.attempts == 2 and caught.value.maybe_committed is False
    assert f"nothing listens at 127.0.0.1:{port} (Connection refused)" in message
    assert "check server.url's host and port, and that the server is running" in message
    assert [e.attempts for e in events] == [2] and events[0].delay <= 1.0


def test_an_unknown_host_at_first_contact_says_so() -> None:
    # .invalid never resolves (RFC 2606), with or without a network.
    with OsaiClient("http://osai-import-no-such-host.invalid", TOKEN, timeout=5,
                    retry=PATIENT) as client, pytest.raises(UnreachableError) as caught:
        client.sign_in()
    assert caught.value.attempts == 2
    assert "the host in server.url is unknown" in str(caught.value)
    assert "check its spelling" in str(caught.value)


def test_a_server_that_answered_once_gets_the_whole_policy(tmp_path: Path) -> None:
    quick = RetryPolicy(attempts=5, base=0.01, cap=0.01)
    with local_server(tmp_path / "data") as server:
        client = OsaiClient(server.base_url, server.token, timeout=5, retry=quick)
        client.sign_in()
    # The server is gone now: its port refuses, as a restarting server's does.
    with client, pytest.raises(UnreachableError) as caught:
        client.create_dataset("after-a-restart")
    assert caught.value.attempts == 5
    assert "nothing listens" not in str(caught.value)
    assert "cannot reach" in str(caught.value)
