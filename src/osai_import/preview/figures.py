"""Turn a checked item into the figure a preview draws: its picture and the boxes OSAI gets.

The boxes drawn are the ones the upload sends. The item is the check's (name settled,
boxes clipped or dropped, converted to the stored frame when the source measured the
upright image); then the configured encoder writes its annotation, and when that is
Pascal VOC the boxes are read back from that very XML with the safe parser, so the
rounding to whole pixels shows too. An encoder that writes nothing sends no boxes, and
none are drawn. An item with errors is not sent: it shows what the encoder would write
for it (or its checked boxes, when the encoder cannot), and its caption says so.

The picture is a thumbnail of the very bytes the check read (``pictures.thumbnail``:
the stored frame, no EXIF), embedded as a ``data:`` URI; an image that cannot be read
gets a placeholder of the size the source states (or 4:3).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from osai_import.check.checker import CheckedItem
from osai_import.errors import ItemError
from osai_import.pictures import DrawnBox, DrawnProblem, Figure, figure_html, thumbnail
from osai_import.plugin.base import Encoder
from osai_import.records import Box, Problem, Severity
from osai_import.source.files import read_checked
from osai_import.source.voc import parse_voc

# OSAI's annotationType of Pascal VOC XML (the only annotation format it documents).
VOC_TYPE = 0
_PLACEHOLDER_SIZE = (640, 480)


@dataclass(frozen=True)
class Sent:
    """What the upload sends of one item: the boxes, how they were found, an encoder failure."""

    boxes: tuple[Box, ...]
    how: str  # shown in the caption
    sent: bool  # whether the image goes to OSAI at all
    problem: Problem | None = None


def as_sent(item: CheckedItem, encoder: Encoder) -> Sent:
    """Return the boxes the upload would send for ``item``, read back from its annotation.

    An item with errors is not sent: it shows what the encoder would write for it, or
    its checked boxes when the encoder cannot write it (an image of unknown size).
    """
    record = item.record
    try:
        boxes, how = _encoded(item, encoder)
    except Exception as exc:  # noqa: BLE001 - a plugin's encoder: reported against the item
        if not item.ok:
            return Sent(record.boxes, "not sent (it has errors); boxes as checked", False)
        # The upload reports an encoder's failure under this code, and sends nothing.
        message = (f"encoder {encoder.name!r} failed on {record.key}: {type(exc).__name__}: "
                   f"{exc}; the image would not be sent: fix the encoder or its options")
        problem = Problem("annotation.encode", Severity.ERROR, message, record.key)
        return Sent(record.boxes, "not sent (the encoder failed); boxes as checked", False,
                    problem)
    if not item.ok:
        return Sent(boxes, f"not sent (it has errors); {how}", False)
    return Sent(boxes, how, True)


def _encoded(item: CheckedItem, encoder: Encoder) -> tuple[tuple[Box, ...], str]:
    """Return the boxes of the annotation the encoder writes, and where they come from."""
    record = item.record
    annotation = encoder.encode(record)
    if annotation is None:
        left = f"; its {len(record.boxes)} box(es) are not sent" if record.boxes else ""
        return (), f"the encoder {encoder.name!r} sends no annotation{left}"
    if annotation.type != VOC_TYPE:
        return record.boxes, f"annotationType {annotation.type} (not VOC): boxes as checked"
    parsed = parse_voc(annotation.data, source=f"the {encoder.name} annotation of {record.name}")
    return parsed.boxes, "read back from the VOC XML sent"


def picture(item: CheckedItem) -> tuple[str, int, int, str | None]:
    """Return the picture's href, the stored frame's size, and why there is no picture."""
    record = item.record
    why: str | None = None
    if item.facts is not None:
        try:
            data, _digest = read_checked(record.path, item.facts)
            jpeg, width, height = thumbnail(data)
        except ItemError as exc:
            why = str(exc)
        except (OSError, ValueError) as exc:
            why = f"the image cannot be decoded for its thumbnail ({type(exc).__name__}: {exc})"
        else:
            href = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            return href, width, height, None
    width, height = ((record.width, record.height)
                     if record.width and record.height else _PLACEHOLDER_SIZE)
    if why is None:
        # The check did not open the file: it cannot be read, or the item was refused
        # before (a path outside the dataset is never opened); its first error says which.
        errors = [p.code for p in item.problems if p.severity is Severity.ERROR]
        text = f"no picture ({errors[0]})" if errors else "no picture"
    else:
        text = "no picture: cannot be decoded"
    return placeholder(width, height, text), width, height, why


def placeholder(width: int, height: int, text: str) -> str:
    """Return a grey picture of that size with ``text``, as a ``data:`` URI."""
    size = max(width, height) / 30
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">'
           f'<rect width="{width}" height="{height}" fill="#d0d0d0"/>'
           f'<text x="{width / 2}" y="{height / 2}" font-size="{size:.1f}" fill="#555" '
           f'text-anchor="middle" font-family="sans-serif">{html.escape(text[:80])}</text></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def item_figure(item: CheckedItem, sent: Sent) -> str:
    """Return the ``<figure class="item">`` of one checked item, with what the upload sends."""
    record = item.record
    href, width, height, why = picture(item)
    problems: list[Problem] = list(item.problems)
    if sent.problem is not None:
        problems.append(sent.problem)
    boxes: Sequence[Box] = sent.boxes
    if why is not None and not (record.width and record.height):
        boxes = ()  # no frame to draw them in
    facts = {"source key": record.key, "sent": "yes" if sent.sent else "no", "boxes": sent.how}
    if why is not None and item.facts is not None:
        facts["picture"] = why
    figure = Figure(
        name=record.name, href=href, width=width, height=height,
        boxes=[DrawnBox(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in boxes],
        category=record.category,
        problems=[DrawnProblem(p.code, p.severity.value, p.message) for p in problems],
        facts=facts)
    return figure_html(figure)
