"""The typed rows the local server's pages show: datasets, sessions, counts, images.

``views`` fills them from the store; ``page_render`` writes them as HTML. A stored image
knows what the server can tell is wrong with it (its problem codes).
"""

from __future__ import annotations

from dataclasses import dataclass

# What the server knows is wrong with a stored image, as the pages name it.
STORED_TWICE = "stored-twice"  # another image of the dataset has the same name
NO_CATEGORY = "object-without-category"  # a box whose label names no category
OUTSIDE = "box-outside-image"  # a box reaching past the stored frame
PROBLEM_CODES = (STORED_TWICE, NO_CATEGORY, OUTSIDE)


@dataclass(frozen=True)
class SessionView:
    """An upload session with its state as of now (an idle active one shows as expired)."""

    id: int
    state: str  # "active", "finished" or "expired"
    started: float
    last_activity: float
    ended: float | None
    expires_at: float | None  # when an active session unlocks its dataset
    chunks: int
    images: int


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset as the list of datasets shows it."""

    id: int
    name: str
    images: int
    categories: int
    sessions: int
    active_sessions: int
    duplicates: int
    lock: SessionView | None  # the session locking the dataset


@dataclass(frozen=True)
class LabelCount:
    """A category or a box label with what the dataset holds of it."""

    name: str
    category_id: int | None  # None: a box label that is no category's name
    image_level: int  # images with it as their image-level category
    images: int  # images with it as image-level category or as a box label
    boxes: int
    uncategorized: int  # its boxes that belong to no category


@dataclass(frozen=True)
class DatasetCounts:
    """What a dataset holds, counted: the same until an image or a category is added."""

    images: int
    labels: list[LabelCount]
    duplicates: int  # images whose name was stored already when they arrived
    names_stored_twice: int
    objects_without_category: int
    boxes_outside: int


@dataclass(frozen=True)
class DatasetFacts:
    """What the dataset page says about a dataset besides its images."""

    id: int
    name: str
    counts: DatasetCounts
    sessions: list[SessionView]  # the latest first, at most ``session_limit``
    session_count: int
    lock: SessionView | None


@dataclass(frozen=True)
class StoredObject:
    """A box parsed from a stored VOC annotation, in stored pixels."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    category_id: int | None


@dataclass(frozen=True)
class StoredImage:
    """A stored image with its boxes and what the pages say about it."""

    id: int
    name: str
    file: str  # relative to DATA/images
    size: int
    sha256: str
    format: str
    width: int
    height: int
    category_id: int | None
    session_id: int
    copies: int  # images of the dataset with this name, this one included
    objects: tuple[StoredObject, ...] = ()

    def problems(self) -> list[str]:
        """Return the codes of what the server knows is wrong with this image."""
        codes = []
        if self.copies > 1:
            codes.append(STORED_TWICE)
        if any(o.category_id is None for o in self.objects):
            codes.append(NO_CATEGORY)
        if any(o.xmin < 0 or o.ymin < 0 or o.xmax > self.width or o.ymax > self.height
               for o in self.objects):
            codes.append(OUTSIDE)
        return codes
