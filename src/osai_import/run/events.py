"""What an upload tells code that watches it: one frozen dataclass per kind of event.

``osai_import.upload(config, progress=callback)`` calls ``callback(event)`` with these.
Each comes from the place in the engine where the thing happens: ``Planned`` when the
items are known and the upload session is about to start, ``ChunkSent`` and
``AlreadyUploaded`` from the progress the upload workers report, ``ItemFailed`` from the
tally of failures, ``Retrying`` from the client's retry policy, ``Finished`` once the
session is finished and the report complete. Every event but ``Planned`` and
``Finished`` may come from an upload worker thread, several at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from osai_import.run.report import RunReport


@dataclass(frozen=True)
class Planned:
    """The upload is about to send: ``total`` items are to go through it.

    With ``upload.on_problem: skip`` (the default) the check still runs while images are
    sent, so ``total`` counts every item read, those the check will refuse included;
    otherwise it counts the items that passed the check.
    """

    total: int


@dataclass(frozen=True)
class ChunkSent:
    """The server acknowledged ``images`` images of a chunk, ``bytes`` bytes of them."""

    images: int
    bytes: int


@dataclass(frozen=True)
class AlreadyUploaded:
    """``images`` items were passed over: the journal holds them stored, bytes unchanged."""

    images: int


@dataclass(frozen=True)
class ItemFailed:
    """An item could not be delivered: ``item`` is its key, ``code`` one of ``UPLOAD_CODES``.

    Items the check refuses while the upload runs come as well (with their check code),
    after the last chunk.
    """

    item: str
    code: str
    reason: str


@dataclass(frozen=True)
class Retrying:
    """A request failed and is tried again after ``delay`` seconds.

    ``endpoint`` is ``"METHOD /path"``; ``attempt`` is the try that failed, out of
    ``attempts``; ``status`` is the HTTP status, or None when no answer came.
    """

    endpoint: str
    attempt: int
    attempts: int
    status: int | None
    reason: str
    delay: float


@dataclass(frozen=True)
class Finished:
    """The run is over (sent, stopped by an error, or interrupted); ``report`` says how."""

    report: RunReport


UploadEvent = Planned | ChunkSent | AlreadyUploaded | ItemFailed | Retrying | Finished
"""Any event ``upload`` reports."""
