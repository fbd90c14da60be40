"""What counts as the API's answer, and recovery decided by status and structure.

Real HTTP on loopback against small servers that answer as a proxy, a portal or a
service of unknown wording would.
"""

from __future__ import annotations

from osai_import.upload.answers import read_body, skipped_names


def test_skipped_names_keeps_what_it_can_name_and_only_that() -> None:
    assert skipped_names({"skipped": ["a", {"name": "b"}, {"index": 0}, {"index": 9}, {}, 3]},
                         ["first"]) == ("a", "b", "first")
    assert skipped_names([{"name": "a"}]) == () and skipped_names({"skipped": "a"}) == ()
    assert skipped_names(None) == () and skipped_names({"imageIds": [1]}) == ()


def test_read_body_tells_pages_and_broken_json_from_answers() -> None:
    assert read_body("text/html", b"").foreign == "an HTML page"
    assert read_body(None, b"\xef\xbb\xbf\n<html>").foreign == "an HTML page"
    assert read_body("application/json", b"[1").foreign == (
        "a body labelled application/json that is not JSON")
    assert read_body("text/plain", b"<htm").foreign is None  # not a page's start
    assert read_body(None, b'"token"').data == "token" and read_body(None, b"x").data is None
    assert read_body("text/html", b"<title>" + b"x" * 70000 + b"</title>").title is None
