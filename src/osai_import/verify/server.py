"""Read back what a server holds for a dataset, by whichever means it offers.

OSAI documents no endpoint that reads a dataset back (docs/verify.md). ``read_back``
tries, in this order, the ways some servers offer, each chosen by status and structure,
never by wording:

1. the local server's inspection API, when ``GET <root>/_emulator/health`` answers as
   the local server does (a JSON object whose ``ok`` is true): names, digests,
   categories and every stored box (``GET <root>/_emulator/datasets/<id>``);
2. read endpoints OSAI does not document (``GET /Datasets/{id}/Images`` and
   ``/Categories``, through the client, which says when a server has none): names,
   digests and categories, but no boxes.

Neither: ``read_back`` returns None, and verify says what it would need. Every request
goes through the upload client's transport: deadlines, retries, redaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from osai_import.errors import ApiError, UnexpectedResponseError
from osai_import.upload.answers import Id, is_id, lookup
from osai_import.upload.client import OsaiClient
from osai_import.upload.refusals import Redactor
from osai_import.upload.retry import RetryPolicy
from osai_import.upload.transport import Progress, Request, Transport
from osai_import.version import __version__

INSPECTION, LISTING = "inspection", "listing"
# What a listing cannot tell: OSAI offers no endpoint that returns an image's boxes.
NO_BOXES = ("the server's listing (GET /Datasets/{id}/Images) gives no boxes, and OSAI "
            "documents no endpoint that returns an image's annotation")
# Every answer of a probe is handed back to be judged by its structure, none retried.
_ANY_REFUSAL = frozenset(range(300, 600))


@dataclass(frozen=True)
class StoredBox:
    """A box as the server stores it: its object name and corners in pixels."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class StoredImage:
    """One stored image; a field is None when the server does not say it."""

    name: str
    sha256: str | None
    category: str | None  # the category's name on the server; None: none (or not said)
    boxes: tuple[StoredBox, ...] | None = None


@dataclass(frozen=True)
class Holdings:
    """What a server holds for one dataset, and what the way it was read cannot tell."""

    kind: str  # INSPECTION or LISTING
    exists: bool
    images: tuple[StoredImage, ...] = ()
    # Fields this way of reading leaves out ("boxes"), with why.
    unread: dict[str, str] = field(default_factory=dict)


class DatasetReader(Protocol):
    """One way of reading a dataset back."""

    kind: str

    def read(self, dataset_id: Id) -> Holdings | None:
        """Return what the server holds for the dataset, or None when this way is not served."""


def server_root(base_url: str) -> str:
    """Return the server's root: the API's base URL without its trailing ``/api``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[:-4] if path.lower().endswith("/api") else ""
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class InspectionReader:
    """Read a dataset through the local server's inspection API (no token needed)."""

    kind = INSPECTION

    def __init__(self, root: str, token: str, *, timeout: float, retry: RetryPolicy) -> None:
        self._transport = Transport(root, Redactor(token), timeout=timeout, retry=retry,
                                    pool_size=2, user_agent=f"osai-import/{__version__}",
                                    on_retry=None, grace=0.0, settle=0.5)

    def close(self) -> None:
        """Close the connections."""
        self._transport.close()

    def answers(self) -> bool:
        """Tell whether the local server's inspection API is there (one try, no retry)."""
        probe = Request("GET", "/_emulator/health", "GET /_emulator/health",
                        passthrough=_ANY_REFUSAL, attempts=1)
        try:
            reply = self._transport.send(probe, None, Progress())
        except ApiError:
            return False  # a web page, a dropped connection: not the local server
        data = reply.body.data if reply.body.is_json else None
        return reply.response.status_code == 200 and lookup(data, "ok") is True

    def read(self, dataset_id: Id) -> Holdings | None:
        """Return every image of the dataset with its digest, category and boxes."""
        if not self.answers():
            return None
        endpoint = "GET /_emulator/datasets/{id}"
        request = Request("GET", f"/_emulator/datasets/{quote(str(dataset_id), safe='')}",
                          endpoint, passthrough=frozenset({404}))
        reply = self._transport.send(request, None, Progress())
        if reply.response.status_code == 404:
            return Holdings(INSPECTION, exists=False)
        images = _inspected(reply.body.data if reply.body.is_json else None)
        if images is None:
            raise UnexpectedResponseError(
                f"{endpoint}: the local server's inspection API answered for dataset "
                f"{dataset_id} in a shape verify does not know; use the osai-import that "
                "runs that server", endpoint=endpoint, status=reply.response.status_code)
        return Holdings(INSPECTION, exists=True, images=images)


class ListingReader:
    """Read a dataset through read endpoints OSAI does not document, where a server has them."""

    kind = LISTING

    def __init__(self, client: OsaiClient) -> None:
        self._client = client

    def read(self, dataset_id: Id) -> Holdings | None:
        """Return every image with its digest and category (no boxes), or None."""
        listed = self._client.list_images(dataset_id)
        if listed is None:
            return None
        categories = self._client.list_categories(dataset_id)
        if categories is None:
            return None
        names = {str(c.id): c.name for c in categories}
        images = tuple(
            StoredImage(image.name, image.sha256, None if image.category_id is None
                        else names.get(str(image.category_id), _unknown(image.category_id)))
            for image in listed)
        return Holdings(LISTING, exists=True, images=images, unread={"boxes": NO_BOXES})


def read_back(readers: list[DatasetReader], dataset_id: Id) -> Holdings | None:
    """Return what the first reader the server serves reads of the dataset; None: none."""
    for reader in readers:
        found = reader.read(dataset_id)
        if found is not None:
            return found
    return None


def _unknown(category_id: Any) -> str:
    """Name a category the server refers to but does not list."""
    return f"<category id {category_id}, not listed>"


def _inspected(data: Any) -> tuple[StoredImage, ...] | None:
    """Return the images of an inspection answer, or None when it is not shaped as one."""
    if not isinstance(data, dict):
        return None
    categories, images = data.get("categories"), data.get("images")
    if not (isinstance(categories, list) and isinstance(images, list)):
        return None
    names: dict[str, str] = {}
    for entry in categories:
        ident, name = lookup(entry, "id"), lookup(entry, "name")
        if not (is_id(ident) and isinstance(name, str)):
            return None
        names[str(ident)] = name
    found: list[StoredImage] = []
    for entry in images:
        name, digest = lookup(entry, "name"), lookup(entry, "sha256")
        category, objects = lookup(entry, "classifyCategoryId"), lookup(entry, "objects")
        if not (isinstance(name, str) and isinstance(objects, list)):
            return None
        boxes = [_box(o) for o in objects]
        if any(box is None for box in boxes):
            return None
        found.append(StoredImage(
            name, digest.lower() if isinstance(digest, str) else None,
            None if category is None else names.get(str(category), _unknown(category)),
            tuple(box for box in boxes if box is not None)))
    return tuple(found)


def _box(entry: Any) -> StoredBox | None:
    """Return a stored object as a box, or None when it is not shaped as one."""
    label = lookup(entry, "name")
    corners = [lookup(entry, k) for k in ("xmin", "ymin", "xmax", "ymax")]
    if not (isinstance(label, str) and all(_number(v) for v in corners)):
        return None
    return StoredBox(label, *(float(v) for v in corners))


def _number(value: Any) -> bool:
    """Tell whether an answer's value is a finite number (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
