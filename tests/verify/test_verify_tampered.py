"""A server whose stored data changed behind the tool's back, and a source that changed.

The quickstart goes to the embedded local server; then the server's SQLite is edited
(an image dropped, a box moved, a category changed, an image added) or the source is
(an annotation edited, an image added), and verify names each image with what differs.
"""

from __future__ import annotations

from pathlib import Path

import osai_import
from tests.support import make_image
from tests.verify.support import findings, image_id, quickstart, server_db


def test_each_change_to_the_stored_data_is_named_with_what_differs(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    assert osai_import.upload(config, progress=False).exit_code == 0
    with server_db(config.parent / ".osai-local") as db:
        gone = image_id(db, "apple_03.jpg")
        db.execute("DELETE FROM objects WHERE image_id = ?", (gone,))
        db.execute("DELETE FROM images WHERE id = ?", (gone,))
        moved = db.execute("SELECT id, xmax FROM objects WHERE image_id = ? ORDER BY id",
                           (image_id(db, "apple_01.jpg"),)).fetchone()
        db.execute("UPDATE objects SET xmax = xmax + 7 WHERE id = ?", (moved["id"],))
        orange = db.execute("SELECT id FROM categories WHERE name = 'orange'").fetchone()["id"]
        db.execute("UPDATE images SET classify_category_id = ? WHERE id = ?",
                   (orange, image_id(db, "lemon_02.jpg")))
        db.execute("UPDATE images SET sha256 = ? WHERE id = ?",
                   ("0" * 64, image_id(db, "orange_01.jpg")))
        db.execute(
            "INSERT INTO images (dataset_id, session_id, name, file, size, sha256, format,"
            " width, height, classify_category_id, annotation_type, annotation, duplicate,"
            " created) SELECT dataset_id, session_id, 'stranger.jpg', file, size, sha256,"
            " format, width, height, NULL, NULL, NULL, 0, created FROM images WHERE id = ?",
            (image_id(db, "lemon_01.jpg"),))

    report = osai_import.verify(config)
    assert report.exit_code == 1
    found = findings(report.to_dict())
    assert set(found) == {"apple_03.jpg", "apple_01.jpg", "lemon_02.jpg", "orange_01.jpg",
                          "stranger.jpg"}, found
    assert found["apple_03.jpg"] == {"missing": ["acknowledged by the server, not stored"]}
    (boxes,) = found["apple_01.jpg"]["boxes"]
    xmax = int(moved["xmax"])
    assert f"1 box sent not stored: 'apple' (6, 9, {xmax}, 54)" in boxes
    assert f"1 box stored not sent: 'apple' (6, 9, {xmax + 7}, 54)" in boxes
    assert set(found["apple_01.jpg"]) == {"boxes"}
    assert found["lemon_02.jpg"] == {"category": ["category 'orange' stored, 'lemon' sent"]}
    assert set(found["orange_01.jpg"]) == {"bytes"}
    assert "the bytes stored (SHA-256 0000000000000000...) are not those sent" in (
        found["orange_01.jpg"]["bytes"][0])
    assert found["stranger.jpg"] == {"not_in_journal": [
        "stored once; the journal has no record of sending it"]}
    by_name = {image.name: image for image in report.differing}
    assert by_name["stranger.jpg"].state is None and by_name["stranger.jpg"].item is None
    assert "--restart" in (by_name["apple_03.jpg"].remedy or "")
    assert report.matched == 12 - 4
    assert report.server_images == 12
    category = by_name["lemon_02.jpg"].findings[0]
    assert (category.sent, category.stored) == ("lemon", "orange")


def test_a_source_changed_since_it_was_sent_is_said_and_compared_by_its_bytes(
        tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    assert osai_import.upload(config, progress=False).exit_code == 0
    examples = config.parent / "examples" / "quickstart"
    xml = examples / "apple" / "apple_02.xml"
    xml.write_text(xml.read_text(encoding="utf-8").replace("<xmin>", "<xmin>1", 1),
                   encoding="utf-8")
    make_image(examples / "lemon" / "lemon_new.jpg", 30, 20)
    # A box moved on the server too: with the source changed, it cannot be judged.
    with server_db(config.parent / ".osai-local") as db:
        db.execute("UPDATE objects SET xmin = xmin + 1 WHERE image_id = ?",
                   (image_id(db, "apple_02.jpg"),))

    report = osai_import.verify(config)
    assert report.exit_code == 1
    found = findings(report.to_dict())
    assert set(found) == {"apple_02.jpg", "lemon_new.jpg"}, found
    assert found["apple_02.jpg"] == {"source_changed": [
        "its annotation changed in the source since it was sent: its category and boxes as "
        "sent are not known, only its bytes are compared"]}
    assert found["lemon_new.jpg"] == {"not_sent": ["in the source, never sent"]}
    remedies = {image.name: image.remedy or "" for image in report.differing}
    assert "osai-import run" in remedies["lemon_new.jpg"]
    assert report.matched == 11
