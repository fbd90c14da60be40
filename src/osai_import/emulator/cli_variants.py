"""The ``serve`` options that pick a variant: one option per field of Variants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from osai_import.emulator import variants

F = TypeVar("F", bound=Callable[..., Any])


def _names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> frozenset[str]:
    """Collect a repeated option into a set."""
    return frozenset(value)


def _status(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """Turn a status picked from a Choice back into a number."""
    return int(value)


def _statuses(allowed: tuple[int, ...]) -> click.Choice[str]:
    """Offer HTTP statuses as a choice."""
    return click.Choice([str(status) for status in allowed])


_OPTIONS = [
    click.option("--ids", type=click.Choice(variants.IDS), default="int", show_default=True,
                 help="Ids of datasets, categories and upload sessions: integers or GUID "
                      "strings."),
    click.option("--sign-in-answer", type=click.Choice(variants.SIGN_IN_ANSWERS), default="text",
                 show_default=True,
                 help="SignIn answers the bearer token as bare text, a JSON string, or a JSON "
                      "object with one field (--sign-in-field)."),
    click.option("--sign-in-field", default="token", show_default=True,
                 help="The field of SignIn's object answer."),
    click.option("--start-answer", type=click.Choice(variants.START_ANSWERS), default="scalar",
                 show_default=True,
                 help="StartUploading answers the session id as a JSON scalar, a JSON string, "
                      "or a JSON object with one field (--start-field)."),
    click.option("--start-field", default="id", show_default=True,
                 help="The field of StartUploading's object answer."),
    click.option("--chunk-answer", type=click.Choice(variants.CHUNK_ANSWERS), default="object",
                 show_default=True,
                 help="UploadChunk's answer: the emulator's object, an empty body, a list of "
                      "the stored images, or an object listing only the skipped images."),
    click.option("--chunk-status", type=_statuses(variants.CHUNK_STATUSES), default="200",
                 show_default=True, callback=_status,
                 help="Status of an accepted chunk (204 answers no body)."),
    click.option("--chunk-skip", multiple=True, callback=_names, metavar="NAME",
                 help="Skip images of this name: not stored, listed as skipped; repeatable."),
    click.option("--error-format", type=click.Choice(variants.ERROR_FORMATS), default="aspnet",
                 show_default=True,
                 help="Body of error answers: ASP.NET problem details, RFC 7807, plain text, "
                      "nothing, or an HTML page."),
    click.option("--token-status", type=_statuses(variants.TOKEN_STATUSES), default="401",
                 show_default=True, callback=_status,
                 help="Status of a request whose bearer token is missing, invalid or expired."),
    click.option("--token-body/--no-token-body", default=True, show_default=True,
                 help="Whether that refusal has a body."),
    click.option("--token-challenge/--no-token-challenge", default=True, show_default=True,
                 help="Whether that refusal has a WWW-Authenticate header."),
    click.option("--duplicate-category", type=click.Choice(variants.DUPLICATE_CATEGORY),
                 default="400", show_default=True,
                 help="A category name the dataset has: a 400, a 409, or the existing "
                      "category answered 200."),
    click.option("--duplicate-category-detail", default=None, metavar="TEXT",
                 help="Wording of that 400 or 409; an empty string sends no body."),
    click.option("--category-names", type=click.Choice(variants.CATEGORY_NAMES), default="as-sent",
                 show_default=True,
                 help="Store category names as sent, with spaces replaced by '_', or "
                      "lower-cased (and unique without regard to case)."),
    click.option("--duplicate-images", type=click.Choice(variants.DUPLICATE_IMAGES),
                 default="store", show_default=True,
                 help="An image name the dataset has: store it again, or refuse the chunk "
                      "(400)."),
    click.option("--poison-image", "poison_images", multiple=True, callback=_names,
                 metavar="NAME",
                 help="Answer 500 to every chunk holding an image of this name; repeatable."),
    click.option("--session-gone-status", type=_statuses(variants.SESSION_GONE_STATUSES),
                 default="400", show_default=True, callback=_status,
                 help="Status of a chunk for a finished or expired upload session."),
    click.option("--session-gone-detail", default=None, metavar="TEXT",
                 help="Wording of that answer; an empty string sends no body."),
    click.option("--locked-status", type=_statuses(variants.LOCKED_STATUSES),
                 default="400", show_default=True, callback=_status,
                 help="Status of StartUploading for a dataset another session locks."),
    click.option("--session-gone-on-finish", is_flag=True,
                 help="Answer FinishUploading of such a session the same way, not 200."),
    click.option("--chunk-max-images", default=0, show_default=True, type=click.IntRange(min=0),
                 help="Most images one UploadChunk may hold (0: no cap)."),
    click.option("--chunk-max-bytes", default=0, show_default=True, type=click.IntRange(min=0),
                 help="Most bytes one UploadChunk body may hold (0: no cap)."),
    click.option("--chunk-refusal", type=click.Choice(variants.CHUNK_REFUSALS), default="413",
                 show_default=True,
                 help="How a chunk over a cap is refused: a 413 problem, a 413 HTML page, a "
                      "closed connection, or a 400."),
    click.option("--chunk-refusal-detail", default=None, metavar="TEXT",
                 help="Wording of that refusal; an empty string sends no body."),
    click.option("--connection", type=click.Choice(variants.CONNECTIONS), default="keep-alive",
                 show_default=True,
                 help="Close the connection after every answer, keep it alive (HTTP/1.1), "
                      "or answer as HTTP/1.0."),
    click.option("--listing", is_flag=True,
                 help="Serve GET /api/Datasets/{id}/Categories and /Images (JSON lists)."),
    click.option("--sign-in", type=click.Choice(variants.SIGN_INS), default="post",
                 show_default=True,
                 help="SignIn takes POST with a JSON string, or only the legacy "
                      "GET /api/Users/SignIn?token=."),
]


def variant_options(command: F) -> F:
    """Add every variant option to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def variants_from(options: dict[str, Any]) -> variants.Variants:
    """Build Variants from the values click parsed (keyed by field name)."""
    return variants.Variants(**{name: options[name] for name in variants.names()
                                if name in options})
