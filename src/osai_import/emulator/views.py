"""Read what the store holds: the inspection API's views, the API's listings, the pages."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from osai_import.emulator.page_data import (
    NO_CATEGORY,
    OUTSIDE,
    STORED_TWICE,
    DatasetCounts,
    DatasetFacts,
    DatasetSummary,
    LabelCount,
    SessionView,
    StoredImage,
    StoredObject,
)
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


# --- the pages' queries: read-only, paged in SQL -----------------------------------------

# The SQL that tells whether image ``i`` has each problem (the filters page with it).
_PROBLEM_SQL = {
    STORED_TWICE: "EXISTS (SELECT 1 FROM images j WHERE j.dataset_id = i.dataset_id"
                  " AND j.name = i.name AND j.id <> i.id)",
    NO_CATEGORY: "EXISTS (SELECT 1 FROM objects o WHERE o.image_id = i.id"
                 " AND o.category_id IS NULL)",
    OUTSIDE: "EXISTS (SELECT 1 FROM objects o WHERE o.image_id = i.id AND (o.xmin < 0"
             " OR o.ymin < 0 OR o.xmax > i.width OR o.ymax > i.height))",
}


@dataclass(frozen=True)
class ImageFilter:
    """Which images a page shows: a category or box label, a problem code, or all."""

    label: str = ""  # image-level category name or box label
    problem: str = ""  # a code of PROBLEM_CODES, "*" (any problem) or "-" (none)

    def where(self) -> tuple[str, dict[str, Any]]:
        """Return the SQL condition on image ``i`` and its parameters."""
        clauses, params = [], {}
        if self.label:
            clauses.append(
                "(i.classify_category_id IN (SELECT c.id FROM categories c WHERE"
                " c.dataset_id = i.dataset_id AND c.name = :label) OR EXISTS (SELECT 1 FROM"
                " objects o WHERE o.image_id = i.id AND o.name = :label))")
            params["label"] = self.label
        if self.problem in _PROBLEM_SQL:
            clauses.append(_PROBLEM_SQL[self.problem])
        elif self.problem in ("*", "-"):
            either = " OR ".join(_PROBLEM_SQL.values())
            clauses.append(f"({either})" if self.problem == "*" else f"NOT ({either})")
        return "".join(f" AND {c}" for c in clauses), params


@contextmanager
def read_only(store: Store) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection of the pages' own, inside one snapshot.

    The pages never take the store's lock nor write (not even to expire a session), so
    reading a big dataset's page does not hold up an upload; WAL lets both run at once.
    """
    uri = (store.data_dir / "emulator.sqlite3").resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        db.execute("BEGIN")  # every query of the page sees the same moment
        yield db
    finally:
        db.close()


def dataset_summaries(db: sqlite3.Connection, now: float,
                      unlock_after: float) -> list[DatasetSummary]:
    """Return every dataset with its counts and lock state, by id."""
    sessions = _sessions(db, "WHERE state = 'active'", (), now, unlock_after)
    active: dict[int, list[SessionView]] = {}
    for dataset_id, session in sessions:
        if session.state == "active":
            active.setdefault(dataset_id, []).append(session)
    rows = db.execute(
        "SELECT d.id, d.name,"
        " (SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id) AS images,"
        " (SELECT COUNT(*) FROM images i WHERE i.dataset_id = d.id AND i.duplicate)"
        " AS duplicates,"
        " (SELECT COUNT(*) FROM categories c WHERE c.dataset_id = d.id) AS categories,"
        " (SELECT COUNT(*) FROM sessions s WHERE s.dataset_id = d.id) AS sessions"
        " FROM datasets d ORDER BY d.id").fetchall()
    return [DatasetSummary(
        id=r["id"], name=r["name"], images=r["images"], categories=r["categories"],
        sessions=r["sessions"], active_sessions=len(active.get(r["id"], [])),
        duplicates=r["duplicates"], lock=max(active.get(r["id"], []), default=None,
                                             key=lambda s: s.id)) for r in rows]


def dataset_version(db: sqlite3.Connection, dataset_id: int) -> tuple[int, ...] | None:
    """Return what changes whenever a dataset's counts do, or None when it does not exist.

    Images and their boxes are only ever added (with a new, higher id), categories too.
    """
    if db.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is None:
        return None
    images, last = db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM images"
                              " WHERE dataset_id = ?", (dataset_id,)).fetchone()
    (categories,) = db.execute("SELECT COUNT(*) FROM categories WHERE dataset_id = ?",
                               (dataset_id,)).fetchone()
    return (images, last, categories)


def dataset_counts(db: sqlite3.Connection, dataset_id: int) -> DatasetCounts:
    """Count what a dataset holds, in SQL (a few passes), never loading its images."""
    images, duplicates = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(duplicate), 0) FROM images WHERE dataset_id = ?",
        (dataset_id,)).fetchone()
    (twice,) = db.execute(
        "SELECT COUNT(*) FROM (SELECT name FROM images WHERE dataset_id = ? GROUP BY name"
        " HAVING COUNT(*) > 1)", (dataset_id,)).fetchone()
    labels, outside = _label_counts(db, dataset_id)
    return DatasetCounts(images=images, labels=labels, duplicates=duplicates,
                         names_stored_twice=twice, boxes_outside=outside,
                         objects_without_category=sum(c.uncategorized for c in labels))


def dataset_facts(db: sqlite3.Connection, dataset_id: int, counts: DatasetCounts, now: float,
                  unlock_after: float, session_limit: int = 50) -> DatasetFacts | None:
    """Return a dataset with its counts and sessions, or None when it does not exist."""
    row = db.execute("SELECT id, name FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
    if row is None:
        return None
    (session_count,) = db.execute("SELECT COUNT(*) FROM sessions WHERE dataset_id = ?",
                                  (dataset_id,)).fetchone()
    sessions = [s for _, s in _sessions(db, "WHERE dataset_id = ? ORDER BY id DESC LIMIT ?",
                                        (dataset_id, session_limit), now, unlock_after)]
    active = [s for _, s in _sessions(db, "WHERE dataset_id = ? AND state = 'active'",
                                      (dataset_id,), now, unlock_after) if s.state == "active"]
    return DatasetFacts(id=row["id"], name=row["name"], counts=counts, sessions=sessions,
                        session_count=session_count,
                        lock=max(active, default=None, key=lambda s: s.id))


def count_images(db: sqlite3.Connection, dataset_id: int, wanted: ImageFilter) -> int:
    """Return how many images of a dataset the filter keeps."""
    condition, params = wanted.where()
    (count,) = db.execute(f"SELECT COUNT(*) FROM images i WHERE i.dataset_id = :dataset"
                          f"{condition}", {"dataset": dataset_id, **params}).fetchone()
    return int(count)


def image_page(db: sqlite3.Connection, dataset_id: int, wanted: ImageFilter, offset: int,
               limit: int) -> list[StoredImage]:
    """Return one page of a dataset's images (in arrival order) with their boxes."""
    condition, params = wanted.where()
    # The page's ids first (from the index, no row read), then only their rows: the
    # copies of each name are counted for the page, never for the whole dataset.
    rows = db.execute(
        "SELECT i.*, (SELECT COUNT(*) FROM images j WHERE j.dataset_id = i.dataset_id"
        " AND j.name = i.name) AS copies FROM images i WHERE i.id IN (SELECT i.id FROM"
        f" images i WHERE i.dataset_id = :dataset{condition} ORDER BY i.id LIMIT :limit"
        " OFFSET :offset) ORDER BY i.id",
        {"dataset": dataset_id, "limit": limit, "offset": offset, **params}).fetchall()
    objects: dict[int, list[StoredObject]] = {}
    if rows:
        marks = ",".join("?" * len(rows))
        for o in db.execute(f"SELECT * FROM objects WHERE image_id IN ({marks}) ORDER BY id",
                            [r["id"] for r in rows]):
            objects.setdefault(o["image_id"], []).append(StoredObject(
                o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"], o["category_id"]))
    return [_image(r, objects.get(r["id"], [])) for r in rows]


def stored_image(db: sqlite3.Connection, dataset_id: int, image_id: int) -> StoredImage | None:
    """Return one image of a dataset (without its boxes), or None when there is none."""
    row = db.execute("SELECT i.*, 1 AS copies FROM images i WHERE i.id = ? AND"
                     " i.dataset_id = ?", (image_id, dataset_id)).fetchone()
    return None if row is None else _image(row, [])


def category_names(db: sqlite3.Connection, dataset_id: int) -> dict[int, str]:
    """Return a dataset's category names by id."""
    return {r["id"]: r["name"] for r in db.execute(
        "SELECT id, name FROM categories WHERE dataset_id = ?", (dataset_id,))}


def _image(row: sqlite3.Row, objects: list[StoredObject]) -> StoredImage:
    return StoredImage(
        id=row["id"], name=row["name"], file=row["file"], size=row["size"],
        sha256=row["sha256"], format=row["format"], width=row["width"], height=row["height"],
        category_id=row["classify_category_id"], session_id=row["session_id"],
        copies=row["copies"], objects=tuple(objects))


def _label_counts(db: sqlite3.Connection, dataset_id: int) -> tuple[list[LabelCount], int]:
    """Count images and boxes per category and per box label; and boxes outside their image.

    One pass over the boxes and two over the images: an image counts once for a name,
    whether the name is its category, a box label or both.
    """
    categories = {r["name"]: r["id"] for r in db.execute(
        "SELECT id, name FROM categories WHERE dataset_id = ? ORDER BY id", (dataset_id,))}
    image_level = {r[0]: r[1] for r in db.execute(
        "SELECT c.name, COUNT(*) FROM images i JOIN categories c ON"
        " c.id = i.classify_category_id WHERE i.dataset_id = ? GROUP BY c.name", (dataset_id,))}
    both = {r[0]: r[1] for r in db.execute(
        "SELECT c.name, COUNT(*) FROM images i JOIN categories c ON"
        " c.id = i.classify_category_id WHERE i.dataset_id = ? AND EXISTS (SELECT 1 FROM"
        " objects o WHERE o.image_id = i.id AND o.name = c.name) GROUP BY c.name",
        (dataset_id,))}
    boxes = {r[0]: tuple(r[1:]) for r in db.execute(
        "SELECT o.name, COUNT(*), SUM(o.category_id IS NULL), COUNT(DISTINCT o.image_id),"
        " SUM(o.xmin < 0 OR o.ymin < 0 OR o.xmax > i.width OR o.ymax > i.height) FROM"
        " objects o JOIN images i ON i.id = o.image_id WHERE i.dataset_id = ?"
        " GROUP BY o.name", (dataset_id,))}
    names = list(categories) + sorted(set(boxes) - set(categories))
    counts = []
    for name in names:
        count, uncategorized, with_box, _ = boxes.get(name, (0, 0, 0, 0))
        level = image_level.get(name, 0)
        counts.append(LabelCount(name, categories.get(name), level,
                                 level + with_box - both.get(name, 0), count, uncategorized))
    return counts, sum(b[3] for b in boxes.values())


def _sessions(db: sqlite3.Connection, where: str, params: tuple[Any, ...], now: float,
              unlock_after: float) -> list[tuple[int, SessionView]]:
    """Return (dataset id, session) pairs, an active one idle too long shown as expired.

    The store marks such a session expired the next time it is touched; the pages only
    read, so they work out the same state themselves.
    """
    out = []
    for r in db.execute(f"SELECT * FROM sessions {where}", params):
        state, ended = r["state"], r["ended"]
        unlocks = r["last_activity"] + unlock_after
        if state == "active" and unlocks <= now:
            state, ended = "expired", unlocks
        out.append((r["dataset_id"], SessionView(
            id=r["id"], state=state, started=r["started"], last_activity=r["last_activity"],
            ended=ended, expires_at=unlocks if state == "active" else None,
            chunks=r["chunks"], images=r["images"])))
    return out
