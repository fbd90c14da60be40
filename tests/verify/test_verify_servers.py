"""What verify can check depends on the server: the listing variant, and a server like OSAI.

Both sit behind a proxy that forwards only ``/api`` and answers anything else with a web
app's page (a 200), so the local server's inspection API is out of reach, as on any real
service: verify must tell that page from the local server's answer by its structure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import osai_import
from tests.run.support import TOKEN, make_folder_dataset
from tests.verify.support import (
    ApiOnlyProxy,
    image_id,
    new_server,
    remote_config,
    server_db,
    verify_cli,
)


@pytest.mark.parametrize("ids", ["int", "guid"])
def test_a_listing_server_checks_bytes_and_categories_and_says_boxes_were_not(
        tmp_path: Path, ids: str) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    server = new_server(tmp_path / "server", listing=True, ids=ids)
    try:
        with ApiOnlyProxy(server.root_url) as proxy:
            config = remote_config(tmp_path, proxy.base_url)
            assert osai_import.upload(config, progress=False, token=TOKEN).exit_code == 0
            clean = verify_cli(config, "--json")
            with server_db(tmp_path / "server") as db:
                other = db.execute("SELECT id FROM categories WHERE name = 'class_2'"
                                   ).fetchone()["id"]
                db.execute("UPDATE images SET classify_category_id = ? WHERE id = ?",
                           (other, image_id(db, names[0])))
            changed = verify_cli(config)
    finally:
        server.stop()

    assert clean.returncode == 1, clean.stderr
    report = clean.json()
    assert report["read_by"] == "listing" and report["differing"] == []
    assert report["counts"]["matched"] == 8
    assert report["not_checked"] == [{
        "what": "boxes", "images": 8, "affects_exit_code": True,
        "reason": "the server's listing (GET /Datasets/{id}/Images) gives no boxes, and OSAI "
                  "documents no endpoint that returns an image's annotation"}]
    # Categories are still read back through the listing.
    assert changed.returncode == 1
    assert f"{names[0]}" in changed.stdout
    assert "category 'class_2' stored, 'class_0' sent" in changed.stdout
    assert "not checked boxes of 8 image(s)" in changed.stdout


def test_a_server_with_no_read_endpoints_cannot_be_checked_and_says_what_it_needs(
        tmp_path: Path) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    server = new_server(tmp_path / "server")
    try:
        with ApiOnlyProxy(server.root_url) as proxy:
            config = remote_config(tmp_path, proxy.base_url)
            sent = osai_import.upload(config, progress=False, token=TOKEN)
            assert sent.exit_code == 0
            result = verify_cli(config)
            as_json = verify_cli(config, "--json")
            report = osai_import.verify(config, token=TOKEN)
    finally:
        server.stop()

    assert result.returncode == 4 and as_json.returncode == 4
    assert "Traceback" not in result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert f"offers no way to read dataset {sent.dataset_id} back" in out
    assert "OSAI documents no endpoint that returns a dataset's images" in out
    assert ("GET /api/Datasets/{id}/Images answering a JSON list with each image's id, name, "
            "sha256") in out
    assert "6 image(s) sent, 6 acknowledged, 0 whose answer was lost" in out
    data = as_json.json()
    assert data["read_by"] is None and data["exit_code"] == 4 and not data["ok"]
    assert data["cannot_check"] == report.cannot_check
    assert report.exit_code == 4 and report.differing == []
