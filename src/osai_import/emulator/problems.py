"""Build the error answers of the emulator in the shape ASP.NET gives them."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

# The `type` links ASP.NET Core puts in problem details, per status.
_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    410: "https://tools.ietf.org/html/rfc9110#section-15.5.11",
    413: "https://tools.ietf.org/html/rfc9110#section-15.5.14",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}
_TITLES = {
    400: "One or more validation errors occurred.",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "An error occurred while processing your request.",
    503: "Service Unavailable",
}


class Problem(Exception):
    """Stop handling a request and answer with a problem-details body.

    ``errors`` maps a form or JSON field (``imagesMetadata[3].annotation``) to its
    messages, as ASP.NET's ``ValidationProblemDetails`` does; ``detail`` defaults to the
    first message so a client that shows only ``title``/``detail`` still names the field.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.errors = errors or {}
        if detail is None and self.errors:
            field, messages = next(iter(self.errors.items()))
            detail = f"{field}: {messages[0]}"
        self.detail = detail or _TITLES.get(status, "Error")
        self.headers = headers or {}
        super().__init__(self.detail)

    def response(self) -> Response:
        """Render this problem as an ``application/problem+json`` response."""
        return problem_response(
            self.status, self.detail, errors=self.errors, headers=self.headers
        )


class Answer(Exception):
    """Stop handling a request and send this exact response (a variant's own shape)."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(response.status)


class Drop(Exception):
    """Stop handling a request and close its connection without an answer."""


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """Render an answer with a status and no body at all (not even a Content-Type)."""
    response = Response(b"", status=status)
    del response.headers["Content-Type"]
    response.headers.update(headers or {})
    return response


def invalid(field: str, message: str) -> Problem:
    """Make the 400 problem for one invalid field."""
    return Problem(400, errors={field: [message]})


def problem_response(
    status: int,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a problem-details body with the given status."""
    body: dict[str, Any] = {
        "type": _TYPES.get(status, "about:blank"),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = json_response(body, status)
    response.content_type = "application/problem+json; charset=utf-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_response(body: Any, status: int = 200) -> Response:
    """Render any JSON value, compact, as ASP.NET's System.Text.Json would."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json; charset=utf-8",
    )


def html_response(status: int, title: str, text: str,
                  headers: dict[str, str] | None = None) -> Response:
    """Render a small HTML page, as a proxy or a web server's error page would."""
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"</head>\n<body><h1>{escape(title)}</h1>\n<p>{escape(text)}</p></body></html>\n")
    response = Response(page, status=status, content_type="text/html; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def proxy_page() -> Response:
    """Render the 200 page a captive portal or misconfigured proxy answers instead of the API."""
    return html_response(200, "Proxy notice", "This network requires you to accept its terms "
                         "of use before you can reach the requested site. Open any page in a "
                         "browser to continue.")


def reformat(response: Response, error_format: str, path: str) -> Response:
    """Render a problem-details answer in another error format; leave other answers alone.

    Only our own ``application/problem+json`` answers are rewritten, so an answer a
    variant shaped on purpose (an empty 401, an HTML 413) keeps its shape.
    """
    if error_format == "aspnet" or response.mimetype != "application/problem+json":
        return response
    problem = json.loads(response.get_data())
    status = response.status_code
    detail = str(problem.get("detail", ""))
    errors: dict[str, list[str]] = problem.get("errors") or {}
    phrase = HTTP_STATUS_CODES.get(status, "Error")
    if error_format == "rfc7807":
        body: dict[str, Any] = {"type": "about:blank", "title": phrase, "status": status,
                                "detail": detail, "instance": path}
        if errors:
            # The extension member of RFC 7807's own example for validation problems.
            body["invalid-params"] = [{"name": field, "reason": message}
                                      for field, messages in errors.items()
                                      for message in messages]
        answer = json_response(body, status)
        answer.content_type = "application/problem+json"
    elif error_format == "text":
        lines = [f"{field}: {message}" if field else message
                 for field, messages in errors.items() for message in messages]
        answer = Response("\n".join(lines or [detail]), status=status,
                          content_type="text/plain; charset=utf-8")
    elif error_format == "html":
        answer = html_response(status, f"{status} {phrase}", detail)
    else:
        answer = empty_response(status)
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            answer.headers[name] = value
    return answer
