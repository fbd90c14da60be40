"""After a faulty run, verify names exactly the images that differ, and nothing else.

The local server's one-shot faults pick which answers are lost: a lost answer retried
stores an image twice; a lost answer not retried (``retries: 0``) leaves it unconfirmed,
stored once; and one such image is then removed from the server's SQLite, so its lost
answer turns out to have stored nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import osai_import
from osai_import.emulator import LocalServer
from tests.run.support import TOKEN, make_folder_dataset, stored
from tests.support import make_image
from tests.verify.support import (
    findings,
    image_id,
    new_server,
    remote_config,
    server_db,
    verify_cli,
)


def test_verify_after_lost_answers_names_exactly_the_images_that_differ(
        tmp_path: Path) -> None:
    server = new_server(tmp_path / "server")
    try:
        _faulty_runs_then_verify(tmp_path, server)
    finally:
        server.stop()


def _faulty_runs_then_verify(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 10)
    server.settings.lose_mode = "500"
    # Run 1: the first chunk's answer is lost, the retry stores its two images again.
    server.settings.lose_next = {"UploadChunk": 1}
    config = remote_config(tmp_path, server.base_url, chunk_images=2)
    first = osai_import.upload(config, progress=False, token=TOKEN)
    assert first.exit_code == 0, first.to_dict()
    # Run 2: two new images, each alone in its chunk, each answer lost and not retried.
    extra = ["late_1.jpg", "late_2.jpg"]
    for n, name in enumerate(extra):
        make_image(tmp_path / "data" / "class_0" / name, 20 + n, 12, (10, 200, 30 * n))
    server.settings.lose_next = {"UploadChunk": 2}
    config = remote_config(tmp_path, server.base_url, chunk_images=1, retries=0)
    second = osai_import.upload(config, progress=False, token=TOKEN, raise_errors=False)

    held = Counter(i["name"] for i in stored(server, first.dataset_id)["images"])
    twice = {name for name, n in held.items() if n == 2}
    unconfirmed = {row["name"] for row in second.unconfirmed}
    assert len(twice) == 2 and twice <= set(names), held
    assert unconfirmed == set(extra) and all(held[n] == 1 for n in extra)
    flagged = {row["name"] for row in second.possibly_duplicated}
    assert flagged == twice
    # One of the unconfirmed images was, in the end, not stored.
    gone = min(unconfirmed)
    with server_db(tmp_path / "server") as db:
        db.execute("DELETE FROM images WHERE id = ?", (image_id(db, gone),))

    result = verify_cli(config, "--json")
    assert result.returncode == 1, result.stderr
    report = result.json()
    found = findings(report)
    assert set(found) == twice | unconfirmed, found
    for name in twice:
        assert found[name] == {"copies": [
            "stored twice (flagged in the journal as possibly stored twice)"]}, found[name]
    kept = (unconfirmed - {gone}).pop()
    assert found[kept] == {"answer_lost": ["unconfirmed in the journal; stored once"]}
    assert found[gone] == {"answer_lost": ["unconfirmed in the journal; not stored"]}
    remedies = {image["name"]: image["remedy"] for image in report["differing"]}
    assert f"osai-import resolve {config} {kept}" in remedies[kept]
    assert f"osai-import run {config}` sends it again" in remedies[gone]
    assert all("delete the extra copies in OSAI's web app, then `osai-import resolve"
               in remedies[name] for name in twice)
    counts = report["counts"]
    assert counts["matched"] == len(names) - 2
    assert (counts["journal"], counts["server"]) == (12, 12 + 2 - 1)
    assert (counts["copies"], counts["answer_lost"], counts["differing"]) == (2, 2, 4)

    # The table names the same images, and no other image of the source.
    table = verify_cli(config)
    assert table.returncode == 1
    for name in twice | unconfirmed:
        assert name in table.stdout
    for name in set(names) - twice:
        assert name not in table.stdout
    assert "4 image(s) differ" in table.stdout
