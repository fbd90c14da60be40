"""Only an answer that looks like OSAI's API counts as an upload, and what it says is believed.

A proxy or captive portal that answers ``200 OK`` with an HTML page stored nothing: the
run must never count those images as uploaded (before, every rerun then said "already
uploaded" and the images were lost for good). An answer that lists images the server
skipped is believed: those images are not uploaded, and the next run sends them again.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    assert_complete,
    datasets,
    journal_rows,
    remote_config,
    run_cli,
    stored,
)
from tests.run.support import make_folder_dataset

CATEGORIES = {"class_0", "class_1", "class_2", "thing"}



def test_a_proxy_page_is_never_an_upload(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 24)
    server.settings.html_endpoints = frozenset({"UploadChunk"})
    server.settings.html_rate = 1.0
    config = remote_config(tmp_path, server.base_url, retries=2)
    behind_proxy = run_cli(config)
    behind_proxy.assert_clean()
    assert behind_proxy.returncode == 3
    assert behind_proxy.report is not None
    assert behind_proxy.report["counts"]["uploaded"] == 0
    assert "Proxy notice" in behind_proxy.stderr, "the page is named by its title"
    [dataset] = datasets(server)
    assert stored(server, dataset["id"])["images"] == [] and dataset["locked"] is False
    states = Counter(row[5] for row in journal_rows(config)["images"])
    assert "acked" not in states, states
    # Without the proxy, the same command stores every image; none was "already uploaded".
    server.settings.html_rate = 0
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert again.report["counts"]["already_uploaded"] == 0
    assert again.report["counts"]["uploaded"] == 24
    assert_complete(server, again.report, names, CATEGORIES)


def test_a_few_proxy_pages_are_retried_and_the_images_flagged(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 16)
    server.settings.html_next["UploadChunk"] = 2
    config = remote_config(tmp_path, server.base_url, workers=1, chunk_images=4)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    data = assert_complete(server, result.report, names, CATEGORIES)
    assert data["duplicates"] == 0, "the proxy pages stored nothing"
    assert result.report["counts"]["possibly_duplicated"] >= 4, "the retried chunk's images"


def test_images_the_server_says_it_skipped_are_not_uploaded(
    tmp_path: Path, server: LocalServer
) -> None:
    make_folder_dataset(tmp_path / "data", 9)
    server.settings.variants.chunk_skip = frozenset({"img_00004.jpg"})
    config = remote_config(tmp_path, server.base_url, skip_unsupported=True)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 1
    assert result.report is not None
    assert result.report["counts"]["uploaded"] == 8
    [failed] = result.report["failed"]
    assert failed["item"] == "class_1/img_00004.jpg"
    assert failed["reason"].startswith("server.skipped: ")
    held = {i["name"] for i in stored(server, result.report["dataset"]["id"])["images"]}
    assert "img_00004.jpg" not in held and len(held) == 8
    assert "img_00004.jpg" not in {row[2] for row in journal_rows(config)["images"]}
    # Once the server takes it, the next run sends just that one.
    server.settings.variants.chunk_skip = frozenset()
    again = run_cli(config)
    assert again.returncode == 0 and again.report is not None
    assert again.report["counts"]["uploaded"] == 1
    assert again.report["counts"]["already_uploaded"] == 8
