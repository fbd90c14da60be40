"""No piece of a secret (8 characters or more) ever shows in a message, however echoed.

Servers here echo the access token and the bearer token at every offset of their answer,
whole, cut in halves, in titles, details, headers and reason phrases.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from osai_import.errors import ApiError, ForeignAnswerError, ServerError
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.refusals import GRAM, Redactor, parse_problem
from osai_import.upload.retry import RetryPolicy
from tests.upload.wire import BEARER, Exchange, WireServer, api, reply, send

TOKEN = "tok-Zq8vL2mX7pW4nR9sK3dF6hJ1"
ONCE = RetryPolicy(attempts=1)
# Offsets around the old cuts (200 and 300 characters of excerpt, 500 of body) and others.
OFFSETS = [0, 1, 7, 150, 185, 190, 195, 199, 200, 201, 205, 290, 295, 299, 300, 301, 480,
           490, 495, 499, 500, 501, 700]


def pieces(secret: str) -> set[str]:
    """Return every run of GRAM characters of ``secret``."""
    return {secret[i:i + GRAM] for i in range(len(secret) - GRAM + 1)}


def shown(error: BaseException) -> str:
    """Return all a user or a log could see of an error: its message and attributes."""
    return f"{error}\n{error!r}\n{error.__dict__!r}"


def assert_no_piece(text: str, *secrets: str) -> None:
    """Fail naming the first piece of a secret that ``text`` shows."""
    for secret in secrets:
        leaked = sorted(p for p in pieces(secret) if p in text)
        assert not leaked, f"{leaked[0]!r} of a secret shows in: {text!r}"


def echoing(kind: str) -> Any:
    """Return a route answering 400 with the secrets at the offset the request names."""
    def route(server: WireServer, exchange: Exchange, sock: Any) -> bool:
        offset = int(exchange.json()["name"])
        pad = "x" * offset
        if kind == "text":
            body, ctype = f"{pad}{TOKEN} and {BEARER} again", "text/plain"
        elif kind == "halves":
            body = f"{pad}{TOKEN[:12]} / {TOKEN[12:]} / {BEARER[:9]} {BEARER[9:]}"
            ctype = "text/plain"
        elif kind == "problem":
            body = json.dumps({"title": f"{pad}{TOKEN}", "detail": f"{pad}{BEARER}",
                               "errors": {f"{pad}{TOKEN}": [f"{pad}{BEARER}"]}})
            ctype = "application/problem+json"
        else:  # a refusal the client does not know, with a reason phrase and a redirect
            return send(sock, reply(302, f"{pad}{TOKEN}", "text/plain",
                                    headers={"Location": f"/{pad}{TOKEN}"},
                                    reason=f"Go {TOKEN}"))
        return send(sock, reply(400, body, ctype))
    return route


@pytest.mark.parametrize("kind", ["text", "halves", "problem", "redirect"])
def test_secrets_echoed_in_a_refusal_at_any_offset_never_show(kind: str) -> None:
    with WireServer(api({"/api/Datasets": echoing(kind)})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=ONCE) as client:
        client.sign_in()
        marked = 0
        for offset in OFFSETS:
            with pytest.raises(ApiError) as caught:
                client.create_dataset(str(offset))
            assert caught.value.endpoint == "POST /Datasets"
            assert_no_piece(shown(caught.value), TOKEN, BEARER)
            marked += "[redacted]" in shown(caught.value)
    assert marked >= 10  # the echoes were there, and were cut out


def test_secrets_in_a_portal_page_title_and_type_never_show() -> None:
    title = f"Login {TOKEN[:10]} {'y' * 300} {BEARER}"
    page = reply(200, f"<html><title>{title}</title></html>", f"text/html; x={TOKEN}")

    def route(server: WireServer, exchange: Exchange, sock: Any) -> bool:
        return send(sock, page)

    with WireServer(api({"/UploadChunk": route})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=ONCE) as client:
        client.sign_in()
        with pytest.raises(ForeignAnswerError) as caught:
            client.upload_chunk(1, 7, [ChunkItem("a.jpg", b"\xff\xd8\xff")])
    error = caught.value
    assert_no_piece(shown(error), TOKEN, BEARER)
    assert error.title is not None and len(error.title) <= 80 and error.title.startswith("Login")
    assert error.content_type is not None and len(error.content_type) <= 60


def test_a_sign_in_refusal_echoing_the_token_shows_none_of_it() -> None:
    def route(server: WireServer, exchange: Exchange, sock: Any) -> bool:
        token = exchange.json()
        return send(sock, reply(400, "y" * 195 + f"unknown token {token[:15]}|{token[15:]}",
                                "text/plain"))

    with WireServer(api({"/Users/SignIn": route})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=ONCE) as client, \
            pytest.raises(ServerError) as caught:
        client.sign_in()
    assert "refused the access token" in str(caught.value)
    assert_no_piece(shown(caught.value), TOKEN)


def test_the_redactor_removes_every_piece_of_eight_or_more() -> None:
    redact = Redactor(TOKEN, "short1")
    text = f"a {TOKEN} b {TOKEN[3:11]} c {TOKEN[:7]} d {TOKEN[5:]}{TOKEN[:9]} e short1"
    out = redact(text)
    assert_no_piece(out, TOKEN)
    # Pieces shorter than 8 stay (they protect nothing and would blank words); so do words.
    assert f"c {TOKEN[:7]} d" in out and out.startswith("a [redacted] b [redacted] c")
    assert out.endswith(" e [redacted]")
    # Two pieces that touch are one run: one marker, not two.
    assert out.count("[redacted]") == 4
    assert redact("nothing secret here") == "nothing secret here"


def test_an_excerpt_is_redacted_before_it_is_cut() -> None:
    redact = Redactor(TOKEN)
    for offset in range(180, 205):
        text = "x" * offset + TOKEN + "z" * 300
        excerpt = redact.excerpt(text, 200)
        assert len(excerpt) == 200 and excerpt[:offset] == "x" * min(offset, 200)
        # Not even the few characters of the token before the cut: the marker instead.
        tail = excerpt[offset:]
        assert tail == ("[redacted]" + "z" * 300)[:len(tail)]
    title, _, _, raw = parse_problem(json.dumps({"title": "t" * 495 + TOKEN}), redact)
    assert title is not None and len(title) == 500 and TOKEN[:5] not in title
    assert_no_piece(raw, TOKEN)


def test_redaction_is_fast_on_a_large_answer() -> None:
    redact = Redactor(TOKEN, BEARER, "eyJ" + "a" * 600)
    text = ("lorem ipsum " * 10_000) + TOKEN
    started = time.monotonic()
    out = redact(text)
    assert time.monotonic() - started < 0.5
    assert out.endswith("[redacted]") and len(out) == 120_000 + len("[redacted]")
