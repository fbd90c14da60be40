"""Read what the store holds: the inspection API's views and the API's listings."""

from __future__ import annotations

from typing import Any

from osai_import.emulator.store import Store


def list_datasets(store: Store, now: float, unlock_after: float) -> list[dict[str, Any]]:
    """Return every dataset with its lock state and image count."""
    with store.reading(None, now, unlock_after) as db:
        rows = db.execute(
            "SELECT d.id, d.name, (SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id)"
            " AS images, EXISTS (SELECT 1 FROM sessions s WHERE s.dataset_id = d.id AND"
            " s.state = 'active') AS locked FROM datasets d ORDER BY d.id").fetchall()
    return [{"id": r["id"], "name": r["name"], "locked": bool(r["locked"]),
             "images": r["images"]} for r in rows]

def dataset_detail(store: Store, dataset_id: int, now: float,
                   unlock_after: float) -> dict[str, Any] | None:
    """Return everything stored for one dataset, or None when it does not exist."""
    with store.reading(dataset_id, now, unlock_after) as db:
        row = db.execute("SELECT id, name FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        if row is None:
            return None
        categories = [{"id": r["id"], "name": r["name"]} for r in db.execute(
            "SELECT id, name FROM categories WHERE dataset_id = ? ORDER BY id", (dataset_id,))]
        objects: dict[int, list[dict[str, Any]]] = {}
        unknown = 0
        for o in db.execute(
                "SELECT o.* FROM objects o JOIN images i ON i.id = o.image_id"
                " WHERE i.dataset_id = ? ORDER BY o.id", (dataset_id,)):
            unknown += o["category_id"] is None
            objects.setdefault(o["image_id"], []).append({
                "name": o["name"], "xmin": _num(o["xmin"]), "ymin": _num(o["ymin"]),
                "xmax": _num(o["xmax"]), "ymax": _num(o["ymax"]),
                "difficult": o["difficult"], "truncated": o["truncated"],
                "categoryId": o["category_id"]})
        images = [{
            "id": r["id"], "name": r["name"], "size": r["size"], "sha256": r["sha256"],
            "format": r["format"], "width": r["width"], "height": r["height"],
            "classifyCategoryId": r["classify_category_id"],
            "annotationType": r["annotation_type"], "sessionId": r["session_id"],
            "duplicate": bool(r["duplicate"]), "file": r["file"],
            "objects": objects.get(r["id"], [])} for r in db.execute(
                "SELECT * FROM images WHERE dataset_id = ? ORDER BY id", (dataset_id,))]
        sessions = [{
            "id": r["id"], "state": r["state"], "started": r["started"],
            "lastActivity": r["last_activity"], "ended": r["ended"],
            "expiresAt": r["last_activity"] + unlock_after if r["state"] == "active" else None,
            "chunks": r["chunks"], "images": r["images"]} for r in db.execute(
                "SELECT * FROM sessions WHERE dataset_id = ? ORDER BY id", (dataset_id,))]
    return {
        "id": row["id"], "name": row["name"],
        "locked": any(s["state"] == "active" for s in sessions),
        "categories": categories, "images": images,
        "duplicates": sum(1 for image in images if image["duplicate"]),
        "objectsWithoutCategory": unknown, "sessions": sessions,
    }


def list_categories(store: Store, dataset_id: int, now: float,
                    unlock_after: float) -> list[dict[str, Any]] | None:
    """Return a dataset's categories (stored ids), or None when it does not exist."""
    with store.reading(dataset_id, now, unlock_after) as db:
        if db.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is None:
            return None
        return [{"id": r["id"], "name": r["name"]} for r in db.execute(
            "SELECT id, name FROM categories WHERE dataset_id = ? ORDER BY id", (dataset_id,))]


def list_images(store: Store, dataset_id: int, now: float,
                unlock_after: float) -> list[dict[str, Any]] | None:
    """Return a dataset's images (stored ids), or None when it does not exist."""
    with store.reading(dataset_id, now, unlock_after) as db:
        if db.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is None:
            return None
        return [{"id": r["id"], "name": r["name"], "categoryId": r["classify_category_id"],
                 "sha256": r["sha256"]} for r in db.execute(
            "SELECT id, name, classify_category_id, sha256 FROM images WHERE dataset_id = ?"
            " ORDER BY id", (dataset_id,))]


def _num(value: float) -> int | float:
    """Show integral coordinates as ints, as VOC files usually write them."""
    return int(value) if float(value).is_integer() else value
