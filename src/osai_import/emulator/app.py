"""Route requests to the OSAI handlers (auth, limits, faults), the inspection API, the pages."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator, get_input_stream

from osai_import.emulator import views
from osai_import.emulator.api import OsaiApi
from osai_import.emulator.auth import TokenError, TokenIssuer
from osai_import.emulator.delivery import drop_connection, trickle
from osai_import.emulator.faults import Fault, FaultPlan
from osai_import.emulator.limits import too_many_bytes
from osai_import.emulator.pages import Pages, serves
from osai_import.emulator.problems import (
    Answer,
    Drop,
    Problem,
    empty_response,
    json_response,
    problem_response,
    proxy_page,
    reformat,
)
from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.stats import Stats
from osai_import.emulator.store import Store

# Paths are matched lower-cased: ASP.NET routing ignores case.
_API = Map([
    # GET is the legacy form (?token=), served instead of POST with variants.sign_in.
    Rule("/api/users/signin", endpoint="SignIn", methods=["POST", "GET"]),
    Rule("/api/users", endpoint="Users", methods=["GET"]),
    Rule("/api/datasets", endpoint="Datasets", methods=["POST"]),
    Rule("/api/categories", endpoint="Categories", methods=["POST"]),
    Rule("/api/datasets/<id>/startuploading", endpoint="StartUploading", methods=["POST"]),
    Rule("/api/datasets/<id>/finishuploading", endpoint="FinishUploading", methods=["POST"]),
    Rule("/api/images/uploadchunk", endpoint="UploadChunk", methods=["POST"]),
    # Read endpoints OSAI does not document; served only with variants.listing.
    Rule("/api/datasets/<id>/categories", endpoint="ListCategories", methods=["GET"]),
    Rule("/api/datasets/<id>/images", endpoint="ListImages", methods=["GET"]),
], strict_slashes=False)
_LISTING = {"ListCategories", "ListImages"}
_INSPECT = Map([
    Rule("/_emulator/health", endpoint="health", methods=["GET"]),
    Rule("/_emulator/stats", endpoint="stats", methods=["GET"]),
    Rule("/_emulator/datasets", endpoint="datasets", methods=["GET"]),
    Rule("/_emulator/datasets/<dataset_id>", endpoint="dataset", methods=["GET"]),
], strict_slashes=False)
_ANONYMOUS = {"SignIn"}
_log = logging.getLogger("osai_import.emulator")
# Faults answered instead of the API: the request does nothing.
_BEFORE = (Fault.FAIL, Fault.THROTTLE, Fault.HTML)


class EmulatorApp:
    """The WSGI application of the emulator."""

    def __init__(self, settings: EmulatorSettings, store: Store, issuer: TokenIssuer,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self.api = OsaiApi(settings, store, issuer, clock)
        self.pages = Pages(settings, store, self.api.ids, clock)
        self.faults = FaultPlan(settings.seed)
        self.stats = Stats()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._closing = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Serve one request; it counts as running until its answer is sent."""
        with self._idle:
            if self._closing.is_set():
                closing = problem_response(503, "The server is shutting down.")
                return closing(environ, start_response)
            self._in_flight += 1
        try:
            request = Request(environ)
            try:
                if request.path.startswith("/_emulator"):
                    response = self._inspect(request)
                elif serves(request.path):
                    response = self.pages(request)
                else:
                    response = self._api(request, environ)
            except Exception:  # noqa: BLE001 - a bug answers 500 (below)
                # A bug here must reach the client as JSON and the log with its traceback.
                _log.exception("unexpected error on %s %s", request.method, request.path)
                response = problem_response(500, "Unexpected error in the emulator; see its log.")
            # The server calls close() once the body is sent (or the client is gone), so a
            # slow answer still counts as running when close() drains.
            return ClosingIterator(response(environ, start_response), self._leave)
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        """Count one request as finished."""
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def close(self, timeout: float) -> None:
        """Refuse new requests, cut trickling answers, wait up to ``timeout`` s for the rest."""
        with self._idle:
            self._closing.set()
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)
        self.api.close()

    # --- /api ------------------------------------------------------------------------

    def _api(self, request: Request, environ: dict[str, Any]) -> Response:
        """Apply faults, limits and auth, then run the handler; count the answer."""
        try:
            endpoint, args = self._route(request, environ)
        except NotFound:
            return self._deliver("(unknown)", problem_response(
                404, f"No OSAI endpoint at {request.method} {request.path}."), environ)
        except MethodNotAllowed as error:
            allowed = ", ".join(error.valid_methods or [])
            return self._deliver("(unknown)", problem_response(
                405, f"{request.path} accepts {allowed}, not {request.method}.",
                headers={"Allow": allowed}), environ)
        self.stats.received(endpoint, request.content_length or 0)
        if self.settings.latency_ms > 0:
            time.sleep(self.settings.latency_ms / 1000)
        fault = self.faults.draw(self.settings, endpoint)
        if self.faults.take(self.settings.html_next, endpoint):
            fault = Fault.HTML
        if fault in _BEFORE:
            self.stats.fault(endpoint, fault)
            return self._deliver(endpoint, _injected(fault, self.settings), environ)
        try:
            response = self._handle(endpoint, args, request, environ)
        except Problem as problem:
            response = problem.response()
        except Answer as answer:
            response = answer.response
        except Drop:
            drop_connection(environ)
            self.stats.answer(endpoint, "dropped")
            return Response(b"")
        # Only an answer whose work was done can be lost; a refused request keeps a
        # one-shot armed for the next one.
        done = 200 <= response.status_code < 300
        one_shot = done and self.faults.take(self.settings.lose_next, endpoint)
        if one_shot or (done and fault is Fault.LOSE):
            lost = self.faults.lose(self.settings)
            self.stats.fault(endpoint, lost)
            if lost is Fault.LOSE_DROP:
                drop_connection(environ)
                self.stats.answer(endpoint, "dropped")
                return response
            cause = "lose_next" if one_shot else "--lose-rate"
            response = problem_response(
                500, f"Injected fault: the work was done but its answer is lost ({cause}).")
        return self._deliver(endpoint, response, environ)

    def _route(self, request: Request, environ: dict[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """Match a request to an endpoint among those the variants serve."""
        endpoint, args = _API.bind_to_environ(environ).match(request.path.lower())
        if endpoint in _LISTING and not self.settings.variants.listing:
            raise NotFound()
        if endpoint == "SignIn":
            allowed = "GET" if self.settings.variants.sign_in == "legacy-get" else "POST"
            if request.method.replace("HEAD", "GET") != allowed:
                raise MethodNotAllowed(valid_methods=[allowed])
        return str(endpoint), args

    def _deliver(self, endpoint: str, response: Response, environ: dict[str, Any]) -> Response:
        """Count an answer and send it in the error format asked, slowly if it trickles."""
        self.stats.answer(endpoint, response.status_code)
        response = reformat(response, self.settings.variants.error_format,
                            environ.get("PATH_INFO", ""))
        if endpoint in self.settings.trickle_endpoints:
            self.stats.fault(endpoint, Fault.TRICKLE)
            return trickle(response, self.settings.trickle_interval, self._closing, environ)
        return response

    def _handle(self, endpoint: str, args: Mapping[str, Any], request: Request,
                environ: dict[str, Any]) -> Response:
        """Check bearer token and size, read the body within the limit, run the handler."""
        # ASP.NET authenticates before anything reads the body, so a 401 comes before a 413.
        if endpoint not in _ANONYMOUS:
            self._authorize(request)
        limit = self.settings.max_request_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise _too_large(length, limit)
        variants = self.settings.variants
        # A cap on a chunk's bytes (a variant) is refused its own way, when it is the lower.
        cap = variants.chunk_max_bytes if endpoint == "UploadChunk" else 0
        capped = 0 < cap < limit
        if capped and length is not None and length > cap:
            raise too_many_bytes(variants, length)
        body: IO[bytes] = get_input_stream(environ, max_content_length=cap if capped else limit)
        handlers: dict[str, Callable[..., Response]] = {
            "SignIn": self.api.sign_in, "Users": self.api.users,
            "Datasets": self.api.create_dataset, "Categories": self.api.create_category,
            "StartUploading": self.api.start_uploading,
            "FinishUploading": self.api.finish_uploading, "UploadChunk": self.api.upload_chunk,
            "ListCategories": self.api.list_categories, "ListImages": self.api.list_images,
        }
        handler = handlers[endpoint]
        try:
            return handler(request, body, **args)
        except RequestEntityTooLarge:
            raise (too_many_bytes(variants, None) if capped else _too_large(None, limit)) from None
        except ClientDisconnected:
            raise Problem(400, "The request body ended before its Content-Length.") from None
        except HTTPException as error:
            raise Problem(error.code or 400, error.description or str(error)) from None

    def _authorize(self, request: Request) -> None:
        """Refuse the request unless a valid bearer token is sent (401 by default)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._refusal("No bearer token: sign in and send 'Authorization: Bearer "
                                "<token>'.", "Bearer")
        try:
            self.issuer.check(token.strip(), self.clock())
        except TokenError as error:
            description = str(error).replace('"', "'")
            raise self._refusal(
                f"The bearer token is refused: {error} Sign in again.",
                f'Bearer error="invalid_token", error_description="{description}"') from None

    def _refusal(self, detail: str, challenge: str) -> Exception:
        """Make the refusal of a bearer token in the shape the variants ask for."""
        variants = self.settings.variants
        headers = {"WWW-Authenticate": challenge} if variants.token_challenge else {}
        if not variants.token_body:
            return Answer(empty_response(variants.token_status, headers))
        return Problem(variants.token_status, detail, headers=headers)

    # --- /_emulator --------------------------------------------------------------------

    def _inspect(self, request: Request) -> Response:
        """Answer the inspection API (no auth, no faults)."""
        try:
            endpoint, args = _INSPECT.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return problem_response(error.code or 404,
                                    f"No inspection endpoint at {request.method} {request.path}.")
        now, unlock_after = self.clock(), self.settings.unlock_after
        if endpoint == "health":
            return json_response({"ok": True})
        if endpoint == "stats":
            return json_response(self.stats.snapshot())
        if endpoint == "datasets":
            listing = views.list_datasets(self.store, now, unlock_after)
            return json_response([self._with_api_ids(d) for d in listing])
        # The stored number, or the GUID the API showed for it.
        wanted = str(args["dataset_id"])
        try:
            dataset_id = (int(wanted) if wanted.isdigit()
                          else self.api.ids.read("dataset", wanted, "id", status=404))
        except Problem as problem:
            return problem.response()
        assert dataset_id is not None
        detail = views.dataset_detail(self.store, dataset_id, now, unlock_after)
        if detail is None:
            return problem_response(404, f"Dataset {wanted} does not exist.")
        return json_response(self._with_api_ids(detail))

    def _with_api_ids(self, dataset: dict[str, Any]) -> dict[str, Any]:
        """Add ``apiId`` (the id the API shows) to a dataset and its parts, with GUIDs on."""
        ids = self.api.ids
        if not ids.guid_mode:
            return dataset
        dataset["apiId"] = ids.show("dataset", dataset["id"])
        for kind, key in (("category", "categories"), ("session", "sessions")):
            for item in dataset.get(key, []):
                item["apiId"] = ids.show(kind, item["id"])
        return dataset


def _too_large(length: int | None, limit: int) -> Problem:
    """Make the 413 for a body over the request size limit."""
    size = f"of {length} bytes " if length is not None else ""
    return Problem(413, f"The request body {size}is larger than the limit of {limit} bytes; "
                   "send fewer or smaller images per chunk.")


def _injected(fault: Fault, settings: EmulatorSettings) -> Response:
    """Make the answer of a fault that stops a request before it reaches the API."""
    if fault is Fault.FAIL:
        return problem_response(503, "Injected fault: the service is unavailable (--fail-rate).")
    if fault is Fault.THROTTLE:
        return problem_response(429, "Injected fault: too many requests (--throttle-rate).",
                                headers={"Retry-After": f"{settings.retry_after:g}"})
    return proxy_page()
