"""Answer the OSAI endpoints: sign-in, datasets, categories, upload sessions, chunks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from osai_import.emulator import answers, views
from osai_import.emulator.auth import TokenIssuer
from osai_import.emulator.form import read_form
from osai_import.emulator.ids import GuidMap, Ids
from osai_import.emulator.limits import check_image_count
from osai_import.emulator.problems import Answer, Problem, empty_response, invalid, json_response
from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.store import (
    DuplicateCategory,
    SessionGone,
    Store,
    gone_message,
    remove_files,
)
from osai_import.emulator.validate import parse_bool, validate_chunk

# ASP.NET's System.Text.Json input formatter takes these media types; others get a 415.
_JSON_TYPES = ("application/json", "text/json")

# The shape of GET /Users is undocumented; this is a plausible small user record.
_USER = {"id": 1, "email": "local-user@localhost", "firstName": "Local", "lastName": "User",
         "name": "Local User"}


class OsaiApi:
    """Hold the handlers of the /api endpoints; each returns a Response or raises Problem."""

    def __init__(self, settings: EmulatorSettings, store: Store, issuer: TokenIssuer,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.ids = Ids(settings, GuidMap(store.data_dir))

    def close(self) -> None:
        """Release the GUID map."""
        self.ids.guids.close()

    def sign_in(self, request: Request, body: IO[bytes]) -> Response:
        """Exchange the access token (a JSON string, or ``?token=`` if legacy) for a bearer."""
        if request.method in ("GET", "HEAD"):
            token = _arg(request.args, "token")
            if token is None or not token.strip():
                raise invalid("token", "The token field is required.")
        else:
            token = _json_body(request, body)
        if not isinstance(token, str):
            raise invalid("$", "The JSON value could not be converted to System.String: "
                          "send the access token as a JSON string.")
        if not self.issuer.accepts(token):
            raise Problem(401, "The access token is not valid.")
        bearer = self.issuer.issue(self.clock(), self.settings.jwt_ttl)
        return answers.sign_in(self.settings.variants, bearer)

    def users(self, request: Request, body: IO[bytes]) -> Response:
        """Describe the signed-in user."""
        return json_response(_USER)

    def create_dataset(self, request: Request, body: IO[bytes]) -> Response:
        """Create a dataset from ``{"name": ...}``."""
        data = _json_object(request, body)
        name = _required_string(data, "name")
        dataset = self.store.create_dataset(name, self.clock())
        return json_response({**dataset, "id": self.ids.show("dataset", dataset["id"])})

    def create_category(self, request: Request, body: IO[bytes]) -> Response:
        """Create a category from ``{"datasetId": ..., "name": ...}``."""
        data = _json_object(request, body)
        dataset_id = self.ids.read("dataset", data.get("datasetid"), "datasetId")
        name = self.settings.variants.category_name(_required_string(data, "name"))
        assert dataset_id is not None
        try:
            category = self.store.create_category(
                dataset_id, name, self.clock(), self.settings.unlock_after,
                refuse_when_locked=self.settings.lock_categories)
        except DuplicateCategory as duplicate:
            category = self._duplicate_category(duplicate)
        return json_response({**category, "id": self.ids.show("category", category["id"]),
                              "datasetId": self.ids.show("dataset", dataset_id)})

    def _duplicate_category(self, duplicate: DuplicateCategory) -> dict[str, Any]:
        """Answer a duplicate name as the variant says: the existing category, or a refusal."""
        variants = self.settings.variants
        if variants.duplicate_category == "existing":
            return duplicate.existing
        status = 409 if variants.duplicate_category == "409" else 400
        message = variants.duplicate_category_detail
        if message == "":
            raise Answer(empty_response(status))
        message = message or duplicate.message
        raise Problem(409, message) if status == 409 else invalid("name", message)

    def start_uploading(self, request: Request, body: IO[bytes], id: str) -> Response:
        """Open an upload session and answer its id."""
        dataset_id = self.ids.read("dataset", id, "id", status=404)
        assert dataset_id is not None
        try:
            session_id = self.store.start_session(dataset_id, self.clock(),
                                                  self.settings.unlock_after)
        except Problem as locked:
            status = self.settings.variants.locked_status
            if locked.status != 400 or status == 400:
                raise
            raise Problem(status, locked.detail) from None
        return answers.start_uploading(self.settings.variants, self.ids.show("session", session_id))

    def finish_uploading(self, request: Request, body: IO[bytes], id: str) -> Response:
        """Close an upload session; repeating it, or finishing an expired one, is fine.

        Unless ``variants.session_gone_on_finish`` says to refuse those as gone.
        """
        dataset_id = self.ids.read("dataset", id, "id", status=404)
        session_id = self.ids.read("session", _arg(request.args, "datasetUploadId"),
                                   "datasetUploadId")
        assert dataset_id is not None and session_id is not None
        unlock_after = self.settings.unlock_after
        state = self.store.finish_session(dataset_id, session_id, self.clock(), unlock_after)
        if state != "active" and self.settings.variants.session_gone_on_finish:
            raise self._gone(gone_message(dataset_id, session_id, state, unlock_after))
        return Response(b"", status=200)

    def _gone(self, message: str) -> Exception:
        """Refuse a finished or expired upload session as the variants say."""
        variants = self.settings.variants
        status, detail = variants.session_gone_status, variants.session_gone_detail
        if detail == "":
            return Answer(empty_response(status))
        if status == 400:
            return invalid("datasetUploadId", detail or message)
        return Problem(status, detail or message)

    def upload_chunk(self, request: Request, body: IO[bytes]) -> Response:
        """Validate a chunk completely, then store all of it or nothing."""
        skip = parse_bool(_arg(request.args, "skipUnsupportedImages"), "skipUnsupportedImages")
        form = read_form(body, request.headers.get("Content-Type", ""),
                         max_values=self.settings.max_form_values,
                         max_value_bytes=self.settings.max_value_bytes)
        check_image_count(self.settings.variants, form)
        poison = self.settings.variants.poison_images
        poisoned = [part.filename for part in form.files if part.filename in poison]
        if poisoned:
            # As a service that crashes on one image would: a 500, every time, nothing kept.
            raise Problem(500, f"An error occurred while processing image {poisoned[0]!r}.")
        chunk = validate_chunk(form, skip_unsupported=skip, read_id=self.ids.read)
        skip_names = self.settings.variants.chunk_skip
        if skip_names:
            chunk.skipped += [{"index": image.index, "name": image.name,
                               "reason": "skipped by the server"}
                              for image in chunk.images if image.name in skip_names]
            chunk.images = [image for image in chunk.images if image.name not in skip_names]
        categories = [(image.index, image.classify_category_id) for image in chunk.images
                      if image.classify_category_id is not None]
        # Checked before writing files so a stale session costs no disk work; checked
        # again inside the commit because the session may expire in between.
        try:
            self.store.check_chunk(chunk.dataset_id, chunk.session_id, categories, self.clock(),
                                   self.settings.unlock_after)
            paths = self.store.write_files(chunk.dataset_id, chunk.images)
            try:
                ids = self.store.commit_chunk(
                    chunk.dataset_id, chunk.session_id, chunk.images, self.clock(),
                    self.settings.unlock_after, self.settings.variants.category_name,
                    self.settings.variants.duplicate_images == "refuse")
            except BaseException:
                remove_files(paths)
                raise
        except SessionGone as gone:
            raise self._gone(gone.message) from None
        chunk.skipped.sort(key=lambda entry: int(entry["index"]))
        return answers.upload_chunk(
            self.settings.variants, self.ids.show("dataset", chunk.dataset_id),
            self.ids.show("session", chunk.session_id),
            [(image_id, image.name) for image_id, image in zip(ids, chunk.images, strict=True)],
            chunk.skipped)

    def list_categories(self, request: Request, body: IO[bytes], id: str) -> Response:
        """List a dataset's categories as ``[{"id", "name"}]``."""
        dataset_id = self.ids.read("dataset", id, "id", status=404)
        assert dataset_id is not None
        found = views.list_categories(self.store, dataset_id, self.clock(),
                                      self.settings.unlock_after)
        return json_response([{**c, "id": self.ids.show("category", c["id"])}
                              for c in _listed(found, id)])

    def list_images(self, request: Request, body: IO[bytes], id: str) -> Response:
        """List a dataset's images as ``[{"id", "name", "categoryId", "sha256"}]``."""
        dataset_id = self.ids.read("dataset", id, "id", status=404)
        assert dataset_id is not None
        found = views.list_images(self.store, dataset_id, self.clock(), self.settings.unlock_after)
        return json_response([
            {**i, "categoryId": None if i["categoryId"] is None
             else self.ids.show("category", i["categoryId"])} for i in _listed(found, id)])


def _listed(items: list[dict[str, Any]] | None, dataset: str) -> list[dict[str, Any]]:
    """Return a listing, or raise the 404 of a dataset that is gone."""
    if items is None:
        raise Problem(404, f"Dataset {dataset} does not exist.")
    return items


def _arg(args: MultiDict[str, str], name: str) -> str | None:
    """Read a query parameter whatever its case, as ASP.NET binding does."""
    wanted = name.lower()
    for key, value in args.items(multi=True):
        if key.lower() == wanted:
            return value
    return None


def _json_body(request: Request, body: IO[bytes]) -> Any:
    """Parse a JSON body, with ASP.NET's 415 and 400 answers."""
    mimetype = request.mimetype
    if mimetype not in _JSON_TYPES and not mimetype.endswith("+json"):
        raise Problem(415, f"Content-Type {request.content_type or '(none)'!r} is not JSON: "
                      "send application/json.")
    raw = body.read()
    if not raw.strip():
        raise invalid("", "A non-empty request body is required.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise invalid("$", f"The body is not valid JSON ({error}).") from None


def _json_object(request: Request, body: IO[bytes]) -> dict[str, Any]:
    """Parse a JSON object body; keys are matched without case, as in ASP.NET."""
    data = _json_body(request, body)
    if not isinstance(data, dict):
        raise invalid("$", "The JSON value could not be converted to an object.")
    return {str(key).lower(): value for key, value in data.items()}


def _required_string(data: dict[str, Any], name: str) -> str:
    """Return a non-blank string field or raise ASP.NET's 'field is required'."""
    value = data.get(name.lower())
    if value is not None and not isinstance(value, str):
        raise invalid(name, f"The JSON value of {name} could not be converted to System.String.")
    if value is None or not value.strip():
        raise invalid(name, f"The {name} field is required.")
    return value
