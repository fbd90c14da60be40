"""The verify report: each image that differs with what differs and its remedy, and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osai_import.errors import EXIT_OK, EXIT_PROBLEMS
from osai_import.run.report import write_json
from osai_import.version import __version__

# The exit code of a verify that could not read the dataset back at all: neither "all
# matches" (0) nor "something differs" (1), and not a failure to reach the server (3).
EXIT_UNVERIFIABLE = 4
REPORT_KIND = "osai-import verify"
REPORT_VERSION = 1

# What a finding may say, and what each means (docs/verify.md has the same table).
KINDS: dict[str, str] = {
    "missing": "acknowledged by the server, yet not stored",
    "copies": "stored more than once",
    "bytes": "stored with other bytes than those sent",
    "category": "stored with another image-level category than the one sent",
    "boxes": "stored with other boxes than those sent",
    "answer_lost": "sent, its answer lost: stored or not, as found",
    "flagged": "flagged in the journal as possibly stored twice, stored once",
    "source_changed": "the source changed since it was sent",
    "not_in_journal": "stored, but the journal has no record of sending it",
    "not_sent": "in the source, never sent",
}


@dataclass(frozen=True)
class Finding:
    """One way an image differs: its ``kind`` (see ``KINDS``) and the detail in words.

    ``sent`` and ``stored`` hold the values compared, where there are some (a category,
    a list of boxes as ``[label, xmin, ymin, xmax, ymax]``).
    """

    kind: str
    detail: str
    sent: Any = None
    stored: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        data: dict[str, Any] = {"kind": self.kind, "detail": self.detail}
        if self.sent is not None or self.stored is not None:
            data["sent"], data["stored"] = self.sent, self.stored
        return data


@dataclass
class ImageReport:
    """An image that differs: where it came from, its journal state, its copies, findings.

    ``item`` is the reader's key of the item it came from (None when not known);
    ``state`` the journal's (``acked``, ``sending``, ``unconfirmed``; None: not in the
    journal); ``copies`` how many times the server stores it.
    """

    name: str
    item: str | None
    state: str | None
    copies: int
    findings: list[Finding] = field(default_factory=list)
    remedy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"name": self.name, "item": self.item, "journal_state": self.state,
                "copies": self.copies, "findings": [f.to_dict() for f in self.findings],
                "remedy": self.remedy}


@dataclass(frozen=True)
class NotChecked:
    """Something verify could not compare for some images, and why.

    ``affects_exit``: it was part of what this config sent, so verify cannot say that
    everything matches (exit 1); False: it is outside what this config answers for
    (images another config sent, or that its source no longer has), said for information.
    """

    what: str  # "bytes", "category" or "boxes"
    images: int
    reason: str
    affects_exit: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"what": self.what, "images": self.images, "reason": self.reason,
                "affects_exit_code": self.affects_exit}


@dataclass
class VerifyReport:
    """What ``verify`` found: the images that differ, the counts, what was not checked.

    ``read_by`` says how the server was read (``inspection``: the local server's
    inspection API; ``listing``: read endpoints OSAI does not document); None with
    ``cannot_check`` saying why, when the server offers no way to read a dataset back.
    """

    config: str
    server: str
    dataset_id: Any = None
    dataset_name: str | None = None
    read_by: str | None = None
    cannot_check: str | None = None
    journal_images: int = 0  # images the journal says were sent to the dataset
    server_images: int = 0  # images the server stores in it, copies included
    source_images: int = 0  # items the check passed in the source
    matched: int = 0  # images of the journal whose every compared part matches
    differing: list[ImageReport] = field(default_factory=list)
    not_checked: list[NotChecked] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether everything was checked and matches."""
        return (self.cannot_check is None and not self.differing
                and not any(n.affects_exit for n in self.not_checked))

    @property
    def exit_code(self) -> int:
        """Return 0 (all checked, all match), 1 (some differ or went unchecked) or 4.

        4 (``EXIT_UNVERIFIABLE``): the server offers no way to read the dataset back.
        """
        if self.cannot_check is not None:
            return EXIT_UNVERIFIABLE
        return EXIT_OK if self.ok else EXIT_PROBLEMS

    def counts(self) -> dict[str, int]:
        """Return the counts of the report, by kind of finding too."""
        found: dict[str, int] = dict.fromkeys(KINDS, 0)
        for image in self.differing:
            for kind in {f.kind for f in image.findings}:
                found[kind] += 1
        return {"journal": self.journal_images, "server": self.server_images,
                "source": self.source_images, "matched": self.matched,
                "differing": len(self.differing), **found}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON report's data."""
        return {
            "kind": REPORT_KIND, "version": REPORT_VERSION, "tool_version": __version__,
            "config": self.config, "server": self.server,
            "dataset": {"id": self.dataset_id, "name": self.dataset_name},
            "read_by": self.read_by, "ok": self.ok, "exit_code": self.exit_code,
            "cannot_check": self.cannot_check, "counts": self.counts(),
            "differing": [image.to_dict() for image in self.differing],
            "not_checked": [n.to_dict() for n in self.not_checked],
            "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        """Write the JSON report atomically; LocalFileError when it cannot be written."""
        write_json(path, self.to_dict())
