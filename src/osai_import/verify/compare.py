"""Compare, image by image, what the server holds with what the journal says was sent.

Per image of the journal: how many times it is stored (none, once, more), the digest
of each copy against the bytes sent, and, where the source still has the image as it
was sent, its image-level category and its boxes. Then the images the server holds that
the journal never sent, and the source's images never sent. Each image that differs
gets the remedy that fits it, as a command to run where there is one.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from osai_import.upload.journal import ImageRow
from osai_import.verify.expected import Expected, SourceView
from osai_import.verify.report import Finding, ImageReport, NotChecked
from osai_import.verify.server import Holdings, StoredBox, StoredImage

# Coordinates are compared to this many decimals: the server parses the numbers the
# annotation wrote, so they agree far closer than this.
_DECIMALS = 4
_SHOWN_BOXES = 3  # boxes written out per difference; the JSON report has them all


@dataclass
class Comparison:
    """What the comparison found: the images that differ, the matches, what went unchecked."""

    differing: list[ImageReport] = field(default_factory=list)
    matched: int = 0
    not_checked: list[NotChecked] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Unchecked:
    """Images something could not be compared for, by what and why."""

    counts: Counter[tuple[str, str, bool]] = field(default_factory=Counter)

    def add(self, what: str, reason: str, affects_exit: bool = True) -> None:
        self.counts[(what, reason, affects_exit)] += 1

    def listed(self) -> list[NotChecked]:
        return [NotChecked(what, n, reason, affects) for (what, reason, affects), n
                in sorted(self.counts.items())]


@dataclass(frozen=True)
class Remedies:
    """The commands a remedy names, with this config in them."""

    config: str

    def resolve(self, name: str) -> str:
        return f"`osai-import resolve {shlex.quote(self.config)} {shlex.quote(name)}`"

    @property
    def run(self) -> str:
        return f"`osai-import run {shlex.quote(self.config)}`"

    @property
    def restart(self) -> str:
        return f"`osai-import run {shlex.quote(self.config)} --restart`"


def compare(rows: Mapping[str, ImageRow], source: SourceView, holdings: Holdings,
            remedies: Remedies, origin: str) -> Comparison:
    """Compare the journal's ``rows`` and the ``source`` with the server's ``holdings``.

    ``origin`` is this config as the journal names it: images another config sent are
    compared by their bytes only, and said so.
    """
    result = Comparison()
    unchecked = _Unchecked()
    stored: defaultdict[str, list[StoredImage]] = defaultdict(list)
    for image in holdings.images:
        stored[image.name].append(image)
    for name in sorted(rows):
        row, copies = rows[name], stored.get(name, [])
        expected = source.expected.get(name)
        item = expected.item if expected is not None else row.item
        found = ImageReport(name, item, row.state, len(copies))
        found.findings += _presence(row, len(copies))
        if expected is None:
            _not_in_source(row, origin, unchecked)
        elif expected.changed:
            found.findings.append(_source_changed(expected))
        for index, copy in enumerate(copies):
            prefix = f"copy {index + 1} of {len(copies)}: " if len(copies) > 1 else ""
            found.findings += _content(prefix, row, copy, expected, holdings, unchecked)
        if found.findings:
            found.remedy = _remedy(found, row, remedies)
            result.differing.append(found)
        else:
            result.matched += 1
    unsent = dict(source.unsent)
    for name in sorted(set(stored) - set(rows)):
        finding = Finding("not_in_journal", f"stored {_times(len(stored[name]))}; the journal "
                          "has no record of sending it")
        result.differing.append(ImageReport(
            name, unsent.get(name), None, len(stored[name]), [finding], _stranger_remedy(
                name in unsent, remedies)))
    for name, key in source.unsent:
        if name not in stored:
            result.differing.append(ImageReport(
                name, key, None, 0, [Finding("not_sent", "in the source, never sent")],
                f"{remedies.run} sends it"))
    result.not_checked = unchecked.listed()
    if not holdings.exists:
        result.notes.append("the server has no such dataset (deleted, or another server)")
    return result


def _presence(row: ImageRow, copies: int) -> list[Finding]:
    """Return what the number of copies says against the journal's state and flag."""
    if row.state != "acked":
        stored = "not stored" if copies == 0 else f"stored {_times(copies)}"
        return [Finding("answer_lost", f"{row.state} in the journal; {stored}")]
    if copies == 0:
        return [Finding("missing", "acknowledged by the server, not stored")]
    if copies > 1:
        flag = " (flagged in the journal as possibly stored twice)" if row.flagged else ""
        return [Finding("copies", f"stored {_times(copies)}{flag}")]
    if row.flagged is not None:
        return [Finding("flagged", "the journal flags it as possibly stored twice; stored "
                        "once")]
    return []


def _not_in_source(row: ImageRow, origin: str, unchecked: _Unchecked) -> None:
    """Count an image the source does not have: only its bytes can be compared."""
    if row.origin != origin:
        why = f"sent by another config ({row.origin}): verify that config to check them"
    else:
        why = "no longer in this config's source (removed or moved) or refused by its check now"
    for what in ("category", "boxes"):
        unchecked.add(what, why, affects_exit=False)


def _source_changed(expected: Expected) -> Finding:
    what = " and ".join(expected.changed)
    unchecked = (": its category and boxes as sent are not known, only its bytes are compared"
                 if "annotation" in expected.changed else "")
    return Finding("source_changed", f"its {what} changed in the source since it was sent"
                   f"{unchecked}")


def _content(prefix: str, row: ImageRow, copy: StoredImage, expected: Expected | None,
             holdings: Holdings, unchecked: _Unchecked) -> list[Finding]:
    """Compare one stored copy with what was sent: bytes, category, boxes."""
    findings: list[Finding] = []
    if copy.sha256 is None or not row.digest:
        unchecked.add("bytes", "the server does not give the image's digest" if copy.sha256
                      is None else "the journal holds no digest of what was sent")
    elif copy.sha256 != row.digest:
        findings.append(Finding("bytes", f"{prefix}the bytes stored (SHA-256 "
                                f"{copy.sha256[:16]}...) are not those sent ({row.digest[:16]}"
                                "...)", row.digest, copy.sha256))
    if expected is None or "annotation" in expected.changed:
        return findings
    if "category" in holdings.unread:
        unchecked.add("category", holdings.unread["category"])
    elif copy.category != expected.category:
        findings.append(Finding(
            "category", f"{prefix}category {_named(copy.category)} stored, "
            f"{_named(expected.category)} sent", expected.category, copy.category))
    if "boxes" in holdings.unread or copy.boxes is None:
        unchecked.add("boxes", holdings.unread.get("boxes", "the server does not give them"))
    elif expected.boxes is None:
        unchecked.add("boxes", expected.boxes_unread or "the annotation sent cannot be read")
    else:
        finding = _boxes(prefix, expected.boxes, copy.boxes)
        if finding is not None:
            findings.append(finding)
    return findings


def _boxes(prefix: str, sent: tuple[StoredBox, ...], stored: tuple[StoredBox, ...]
           ) -> Finding | None:
    """Return how the stored boxes differ from those sent, or None when they are the same."""
    want, have = Counter(map(_key, sent)), Counter(map(_key, stored))
    if want == have:
        return None
    lost, extra = list((want - have).elements()), list((have - want).elements())
    parts = []
    if lost:
        parts.append(f"{_count(len(lost), 'box')} sent not stored: {_shown(lost)}")
    if extra:
        parts.append(f"{_count(len(extra), 'box')} stored not sent: {_shown(extra)}")
    return Finding("boxes", prefix + "; ".join(parts), [list(k) for k in sorted(want.elements())],
                   [list(k) for k in sorted(have.elements())])


def _key(box: StoredBox) -> tuple[str, float, float, float, float]:
    # "+ 0.0" turns -0.0 into 0.0, which round() keeps apart in text though equal.
    return (box.label, round(box.xmin, _DECIMALS) + 0.0, round(box.ymin, _DECIMALS) + 0.0,
            round(box.xmax, _DECIMALS) + 0.0, round(box.ymax, _DECIMALS) + 0.0)


def _shown(boxes: Iterable[tuple[str, float, float, float, float]]) -> str:
    listed = sorted(boxes)
    text = ", ".join(f"{label!r} ({_num(x1)}, {_num(y1)}, {_num(x2)}, {_num(y2)})"
                     for label, x1, y1, x2, y2 in listed[:_SHOWN_BOXES])
    more = len(listed) - _SHOWN_BOXES
    return text + (f" and {more} more" if more > 0 else "")


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _named(category: str | None) -> str:
    return "none" if category is None else repr(category)


def _times(copies: int) -> str:
    return {1: "once", 2: "twice"}.get(copies, f"{copies} times")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es" if noun.endswith("x") else f"{n} {noun}s"


def _remedy(found: ImageReport, row: ImageRow, remedies: Remedies) -> str:
    """Return what to do about an image of the journal that differs."""
    kinds = {f.kind for f in found.findings}
    name, steps = found.name, []
    if "answer_lost" in kinds:
        if found.copies == 0:
            steps.append(f"{remedies.run} sends it again")
        elif found.copies == 1:
            steps.append(f"{remedies.resolve(name)} settles it as stored once")
        else:
            steps.append(f"delete the extra copies in OSAI's web app, then "
                         f"{remedies.resolve(name)}")
    if "copies" in kinds:
        then = f", then {remedies.resolve(name)}" if row.flagged is not None else ""
        steps.append(f"delete the extra copies in OSAI's web app{then}")
    if "flagged" in kinds:
        steps.append(f"{remedies.resolve(name)} clears the flag")
    if "missing" in kinds:
        steps.append(f"the journal holds it as sent, so {remedies.run} passes it over: "
                     f"{remedies.restart} uploads everything into a new dataset")
    if kinds & {"bytes", "category", "boxes"}:
        steps.append("OSAI's API cannot replace an image: correct it in OSAI's web app, or "
                     f"upload into a new dataset ({remedies.restart})")
    if "source_changed" in kinds:
        steps.append("to send the image as it is now, rename its file (a new image), or "
                     f"upload into a new dataset ({remedies.restart})")
    return "; ".join(steps)


def _stranger_remedy(in_source: bool, remedies: Remedies) -> str:
    """Return what to do about an image the server holds that the journal never sent."""
    if in_source:
        return (f"the journal in use does not know it (a moved or deleted journal folder?), "
                f"so {remedies.run} would send it again; if it is the image of the source, "
                f"upload into a new dataset ({remedies.restart}) or keep the journal that "
                "sent it")
    return ("not sent from this journal (another tool, another journal folder): delete it in "
            "OSAI's web app if it does not belong in the dataset")
