"""Serve the local server's HTML pages: what arrived, drawn with its stored boxes.

``GET /`` lists the datasets; ``GET /datasets/ID`` shows one (facts, charts, sessions,
filters and a page of its images, paged in SQL); ``.../images/IMAGE`` answers the
stored file and ``.../images/IMAGE/thumbnail`` a JPEG of it in the stored frame. Like
the inspection API, pages need no token, draw no faults, are not counted in the API's
stats, and read through a read-only connection of their own, so that looking at a big
dataset never holds up an upload.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from html import escape
from pathlib import PurePosixPath
from typing import Any, TypeVar, cast

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from osai_import.emulator import views
from osai_import.emulator.ids import Ids
from osai_import.emulator.page_data import PROBLEM_CODES
from osai_import.emulator.page_render import (
    FILTER_SCRIPT,
    Paging,
    dataset_page,
    index_page,
    message_page,
    page_link,
)
from osai_import.emulator.problems import Problem
from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.store import Store
from osai_import.emulator.thumbs import ThumbnailCache
from osai_import.pictures import SCRIPT

PER_PAGE = 48
MAX_PER_PAGE = 500
_MAP = Map([
    Rule("/", endpoint="index", methods=["GET"]),
    Rule("/datasets", endpoint="index", methods=["GET"]),
    Rule("/datasets/<dataset_id>", endpoint="dataset", methods=["GET"]),
    Rule("/datasets/<dataset_id>/images/<int:image_id>", endpoint="file", methods=["GET"]),
    Rule("/datasets/<dataset_id>/images/<int:image_id>/file", endpoint="file", methods=["GET"]),
    Rule("/datasets/<dataset_id>/images/<int:image_id>/thumbnail", endpoint="thumbnail",
         methods=["GET"]),
    Rule("/favicon.ico", endpoint="favicon", methods=["GET"]),
], strict_slashes=False)
_MIMETYPES = {"jpeg": "image/jpeg", "png": "image/png"}
_log = logging.getLogger("osai_import.emulator")
T = TypeVar("T")


def _script_hash(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


# Only the pages' own two scripts may run: a name that slipped through escaping could
# still not run a script of its own.
_POLICY = ("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
           f"script-src {_script_hash(SCRIPT)} {_script_hash(FILTER_SCRIPT)}; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class PageError(Exception):
    """Stop a page and answer an HTML page with this status and message (HTML)."""

    def __init__(self, status: int, title: str, message_html: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message_html = message_html


def serves(path: str) -> bool:
    """Tell whether a path is one of the pages' (everything else is the API's)."""
    return path in ("/", "/datasets", "/favicon.ico") or path.startswith("/datasets/")


class Pages:
    """Answer the HTML pages and their pictures."""

    def __init__(self, settings: EmulatorSettings, store: Store, ids: Ids,
                 clock: Callable[[], float], thumbnails: ThumbnailCache | None = None) -> None:
        self.settings = settings
        self.store = store
        self.ids = ids
        self.clock = clock
        self.thumbnails = thumbnails or ThumbnailCache()
        self._memo = _Memo()

    def __call__(self, request: Request) -> Response:
        """Answer one page request."""
        try:
            endpoint, args = _MAP.bind_to_environ(request.environ).match()
        except HTTPException as error:
            status = error.code or 404
            return _html(status, message_page(
                "Not found" if status == 404 else f"{request.method} not allowed",
                f"The local server has no page at {escape(request.path)}; the datasets are "
                'listed at <a href="/">/</a>.'))
        try:
            if endpoint == "index":
                return self._index(request)
            if endpoint == "favicon":
                return Response(status=204)
            dataset_id = self._dataset_id(str(args["dataset_id"]))
            if endpoint == "dataset":
                return self._dataset(request, dataset_id)
            return self._picture(request, dataset_id, int(args["image_id"]),
                                 thumbnail=endpoint == "thumbnail")
        except PageError as error:
            return _html(error.status, message_page(error.title, error.message_html))

    def _dataset_id(self, wanted: str) -> int:
        """Return the stored id of a dataset named by its number or the GUID the API showed."""
        if wanted.isdigit():
            return int(wanted)
        try:
            number = self.ids.read("dataset", wanted, "id", status=404)
        except Problem:
            number = None
        if number is None:
            raise _no_dataset(wanted)
        return number

    def _index(self, request: Request) -> Response:
        now = self.clock()
        with views.read_only(self.store) as db:
            datasets = views.dataset_summaries(db, now, self.settings.unlock_after)
        api_ids = ({d.id: str(self.ids.show("dataset", d.id)) for d in datasets}
                   if self.ids.guid_mode else {})
        root = request.host_url.rstrip("/")
        return _html(200, index_page(datasets, root, str(self.store.data_dir.resolve()),
                                     api_ids, now))

    def _dataset(self, request: Request, dataset_id: int) -> Response:
        wanted, page, per_page = _query(request)
        now = self.clock()
        with views.read_only(self.store) as db:
            version = views.dataset_version(db, dataset_id)
            if version is None:
                raise _no_dataset(str(dataset_id))
            # Counting a 100,000-image dataset takes a second; its counts change only
            # when images or categories are added, which changes the version.
            counts = self._memo.get(("counts", dataset_id, version),
                                    lambda: views.dataset_counts(db, dataset_id))
            facts = views.dataset_facts(db, dataset_id, counts, now, self.settings.unlock_after)
            assert facts is not None  # the snapshot holds the dataset seen above
            matching = counts.images if wanted == views.ImageFilter() else self._memo.get(
                ("matching", dataset_id, version, wanted),
                lambda: views.count_images(db, dataset_id, wanted))
            pages = max(1, math.ceil(matching / per_page))
            if page > pages:
                last = page_link(dataset_id, wanted, pages, per_page, PER_PAGE)
                raise PageError(404, "No such page", (
                    f"Page {page} of dataset {escape(facts.name)} is empty: "
                    f"{matching:,} images make {pages} pages of {per_page}. Go to "
                    f'<a href="{escape(last)}">the last page</a>.'))
            images = views.image_page(db, dataset_id, wanted, (page - 1) * per_page, per_page)
            categories = views.category_names(db, dataset_id)
        api_id = str(self.ids.show("dataset", dataset_id)) if self.ids.guid_mode else None
        paging = Paging(page, pages, per_page, matching, PER_PAGE)
        return _html(200, dataset_page(facts, images, categories, wanted, paging, api_id, now))

    def _picture(self, request: Request, dataset_id: int, image_id: int, *,
                 thumbnail: bool) -> Response:
        """Answer the stored file of an image, or its thumbnail."""
        with views.read_only(self.store) as db:
            image = views.stored_image(db, dataset_id, image_id)
            known = image is not None or db.execute(
                "SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is not None
        if image is None:
            if not known:
                raise _no_dataset(str(dataset_id))
            raise PageError(404, "No such image", (
                f"Dataset {dataset_id} has no image {image_id}; its images are shown at "
                f'<a href="/datasets/{dataset_id}">/datasets/{dataset_id}</a>.'))
        path = (self.store.images_dir / image.file).resolve()
        if not path.is_relative_to(self.store.images_dir.resolve()) or not path.is_file():
            raise PageError(404, "Stored file missing", (
                f"The file of image {image_id} ({escape(image.name)}) is missing from "
                f"{escape(str(self.store.images_dir))}: it was removed after the upload."))
        if not thumbnail:
            # Saved under the name it was uploaded with, not the server's file name.
            name = "".join(c for c in PurePosixPath(image.name).name if c.isprintable())
            response = send_file(path, request.environ, mimetype=_MIMETYPES[image.format],
                                 download_name=name or path.name, etag=image.sha256,
                                 conditional=True)
            # The server writes its own Date; send_file's would be a second one.
            del response.headers["Date"]
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
        etag = f"{image.sha256}-{self.thumbnails.side}"
        if etag in request.if_none_match:
            return _cached(Response(status=304), etag)
        try:
            data = self.thumbnails.get(image.sha256, path.read_bytes)
        except (OSError, ValueError) as error:
            _log.warning("cannot make a thumbnail of %s: %s", path, error)
            raise PageError(422, "Cannot draw the image", (
                f"Image {image_id} ({escape(image.name)}) cannot be decoded ({escape(str(error))});"
                f' its stored bytes are at <a href="/datasets/{dataset_id}/images/{image_id}">'
                "the full file</a>.")) from None
        return _cached(Response(data, mimetype="image/jpeg"), etag)


class _Memo:
    """Keep the last few counts the pages made, by a key that changes with the data."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """Return what ``make`` made for ``key``, making it now if it is not kept."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return cast(T, self._kept[key])
        made = make()
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made


def _query(request: Request) -> tuple[views.ImageFilter, int, int]:
    """Read the filter, page and page size of a dataset page; refuse what is wrong."""
    args = request.args

    def number(name: str, default: int, top: int) -> int:
        text = args.get(name, "").strip()
        if not text:
            return default
        if not text.isdigit() or not 1 <= int(text) <= top:
            raise PageError(400, "Wrong query", (
                f"{escape(name)}={escape(text)} is not a whole number from 1 to {top:,}."))
        return int(text)

    problem = args.get("problem", "").strip()
    known = (*PROBLEM_CODES, "*", "-")
    if problem and problem not in known:
        raise PageError(400, "Wrong query", (
            f"problem={escape(problem)} is no problem code; use one of "
            f"{escape(', '.join(known))} (* any problem, - none)."))
    wanted = views.ImageFilter(label=args.get("category", ""), problem=problem)
    return wanted, number("page", 1, 10**9), number("per_page", PER_PAGE, MAX_PER_PAGE)


def _no_dataset(wanted: str) -> PageError:
    return PageError(404, "No such dataset", (
        f'Dataset {escape(wanted)} does not exist on this server; see <a href="/">the list '
        "of datasets</a>."))


def _html(status: int, page: str) -> Response:
    """Answer a page with the headers every page carries."""
    response = Response(page, status=status, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = _POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # a page shows the store as of now
    return response


def _cached(response: Response, etag: str) -> Response:
    """Let a browser keep a thumbnail and ask with its ETag whether it is still good."""
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response

