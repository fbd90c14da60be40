"""Turn one annotation's results into boxes, choices and named problems.

A *result* is one region or answer of an annotation: ``{"id", "type", "from_name",
"value": {...}, "original_width", "original_height"}`` in the full export; in JSON-MIN
the same ``value`` keys sit in a dict under the control's name, with the sizes, and the
type is known only by its label key (``rectanglelabels: [...]``). :func:`min_results`
turns the JSON-MIN form into the full one, so one code path reads both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from osai_import import Box, Problem, Severity
from osai_import_labelstudio import geometry
from osai_import_labelstudio.geometry import BadShape, Bounds
from osai_import_labelstudio.options import BOXABLE, LabelStudioOptions

# The label key of each boxable type; `labels` is the generic form (a region drawn with a
# Rectangle or Polygon tool and labelled with a <Labels> control).
_LABEL_KEYS = {kind: kind for kind in BOXABLE}
# Fields of a JSON-MIN item that Label Studio adds itself (not data, not results).
MIN_META = frozenset({"id", "annotator", "annotation_id", "created_at", "updated_at",
                      "lead_time", "agreement", "history"})
_LISTED = 5  # result ids named in one message before "and N more"


@dataclass(frozen=True)
class Result:
    """One result, as read from either form of export."""

    kind: str
    value: Mapping[str, Any]
    rid: str  # how messages name it: its id, or `label[0]` in JSON-MIN
    from_name: str | None
    width: Any
    height: Any
    image_rotation: Any = 0


@dataclass
class Outcome:
    """What an annotation gives: boxes, the choices met, problems, and the size used."""

    boxes: list[Box] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (choice, result id)
    problems: list[Problem] = field(default_factory=list)
    size: tuple[int, int] | None = None


def full_results(raw: object) -> Iterator[Result | str]:
    """Yield the results of a full export's annotation; a string for one not an object."""
    if not isinstance(raw, list):
        yield f"`result` is {type(raw).__name__}, not a list"
        return
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            yield f"result #{index + 1} is {type(item).__name__}, not an object"
            continue
        value = item.get("value")
        yield Result(
            kind=str(item.get("type") or ""),
            value=value if isinstance(value, dict) else {},
            rid=str(item.get("id") or f"#{index + 1}"),
            from_name=item.get("from_name") if isinstance(item.get("from_name"), str) else None,
            width=item.get("original_width"),
            height=item.get("original_height"),
            image_rotation=item.get("image_rotation", 0),
        )


def min_results(task: Mapping[str, Any], image_key: str,
                choice_fields: list[str]) -> Iterator[Result]:
    """Yield the results of a JSON-MIN item (its fields named after the controls)."""
    for name, value in task.items():
        if name == image_key or name in MIN_META:
            continue
        if isinstance(value, str):
            if name in choice_fields:
                yield Result("choices", {"choices": [value]}, name, name, None, None)
            continue  # a data field: text, an id, a URL; not an annotation
        regions = value if isinstance(value, list) else [value]
        if not regions or not all(isinstance(r, dict) for r in regions):
            continue
        for index, region in enumerate(regions):
            rid = f"{name}[{index}]" if isinstance(value, list) else name
            yield Result(_min_kind(region), region, rid, name,
                         region.get("original_width"), region.get("original_height"),
                         region.get("image_rotation", 0))


def _min_kind(region: Mapping[str, Any]) -> str:
    for key in (*_LABEL_KEYS, "choices", "taxonomy", "text", "rating", "number"):
        if key in region:
            return "textarea" if key == "text" else key
    return "unknown"


class Converter:
    """Convert results with the reader's options; one instance serves a whole read."""

    def __init__(self, options: LabelStudioOptions) -> None:
        self.options = options

    def convert(self, results: list[Result | str], where: str,
                read_size: Callable[[], tuple[int, int] | str]) -> Outcome:
        """Return the boxes and choices of ``results``; ``where`` names the task in messages.

        ``read_size`` returns the image's size from its header (or why it cannot), and is
        called only when a result needs a size the export does not give.
        """
        out = Outcome()
        skipped: dict[tuple[str, str], list[str]] = {}
        stated = next((s for r in results if isinstance(r, Result)
                       and (s := _size(r.width, r.height)) is not None), None)
        out.size = stated
        header: tuple[int, int] | str | None = None
        for result in results:
            if isinstance(result, str):
                out.problems.append(_bad(where, result, "fix the export"))
                continue
            kind = result.kind
            if kind == "choices":
                self._choices(result, out, skipped)
                continue
            if kind not in BOXABLE:
                action = self.options.policy(kind)
                if action == "error":
                    out.problems.append(_refused(where, result))
                else:
                    skipped.setdefault(("labelstudio.ignored", kind or "untyped"),
                                       []).append(result.rid)
                continue
            action = self.options.policy(kind)
            if action == "skip":
                skipped.setdefault(("labelstudio.skipped", kind), []).append(result.rid)
                continue
            if action == "error":
                out.problems.append(_refused(where, result))
                continue
            size = _size(result.width, result.height) or stated
            if size is None:
                if header is None:
                    header = read_size() if self.options.missing_size == "read" else (
                        "the export gives no original_width/original_height "
                        "(missing_size: error)")
                if isinstance(header, str):
                    out.problems.append(_problem(
                        "labelstudio.image_size", Severity.ERROR,
                        f"{where}, result {result.rid} ({kind}): no image size to place it: "
                        f"{header}", "fix the image reference, or export with sizes"))
                    continue
                size = out.size = header
            self._box(result, size, where, out, skipped)
        for (code, kind), rids in skipped.items():
            what = f"{where}: {len(rids)} {kind} result(s) ({_ids(rids)})"
            out.problems.append(Problem(code, Severity.WARNING, {
                "labelstudio.ignored": f"{what} left out: the type has no box or category",
                "labelstudio.skipped": f"{what} left out (results.{kind}: skip); set "
                f"results.{kind}: box to upload their boxes",
                "labelstudio.rotated": f"{what} turned: each box is the bounds of the turned "
                "rectangle; check them on the platform",
            }[code]))
        return out

    def _choices(self, result: Result, out: Outcome,
                 skipped: dict[tuple[str, str], list[str]]) -> None:
        wanted = self.options.choices_from
        if wanted is not None and result.from_name not in wanted:
            skipped.setdefault(("labelstudio.ignored", f"choices ({result.from_name})"),
                               []).append(result.rid)
            return
        values = result.value.get("choices")
        names = values if isinstance(values, list) else [values]
        for name in names:
            if isinstance(name, str) and name.strip():
                out.choices.append((name, result.rid))

    def _box(self, result: Result, size: tuple[int, int], where: str, out: Outcome,
             notes: dict[tuple[str, str], list[str]]) -> None:
        kind, value = result.kind, result.value
        what = f"{where}, result {result.rid} ({kind})"
        labels = value.get(_LABEL_KEYS[kind])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            out.problems.append(_bad(what, f"`{kind}` is {labels!r}, not a list of labels",
                                     "label the region in Label Studio"))
            return
        if len(labels) > 1:
            out.problems.append(_problem(
                "labelstudio.multiple_labels", Severity.WARNING,
                f"{what}: {len(labels)} labels {labels}; the box takes the first", ""))
        rotation = _rotation(result.image_rotation)
        if rotation:
            out.problems.append(_problem(
                "labelstudio.image_rotated", Severity.ERROR,
                f"{what}: drawn on the image turned by {rotation}° in the editor; its "
                "position cannot be trusted", "draw it again on the unturned image"))
            return
        try:
            bounds = self._bounds(kind, value, size)
        except BadShape as exc:
            out.problems.append(_bad(what, str(exc), "fix or delete the region"))
            return
        if bounds is None:
            out.problems.append(_problem(
                "labelstudio.empty_mask", Severity.WARNING,
                f"{what}: the brush mask paints no pixel; left out", ""))
            return
        turned = number_or_zero(value.get("rotation")) if kind in (
            "rectanglelabels", "labels", "ellipselabels") else 0.0
        if turned % 360 and kind != "ellipselabels":
            notes.setdefault(("labelstudio.rotated", kind), []).append(result.rid)
        out.boxes.append(Box(labels[0] if labels else "", *bounds))

    def _bounds(self, kind: str, value: Mapping[str, Any],
                size: tuple[int, int]) -> Bounds | None:
        width, height = size
        if kind == "brushlabels":
            if value.get("format", "rle") != "rle":
                raise BadShape(f"a brush in format {value.get('format')!r}; only rle is read")
            return geometry.mask_bounds(value.get("rle"), width, height)
        if kind == "polygonlabels" or (kind == "labels" and "points" in value):
            return geometry.polygon(value.get("points"), width, height)
        x, y = _get(value, "x"), _get(value, "y")
        if kind == "keypointlabels":
            return geometry.keypoint(x, y, number_or_zero(value.get("width")), width, height)
        rotation = number_or_zero(value.get("rotation"))
        if kind == "ellipselabels":
            return geometry.ellipse(x, y, _get(value, "radiusX"), _get(value, "radiusY"),
                                    rotation, width, height)
        return geometry.rectangle(x, y, _get(value, "width"), _get(value, "height"),
                                  rotation, width, height)


def _get(value: Mapping[str, Any], name: str) -> float:
    if name not in value:
        raise BadShape(f"`{name}` is missing")
    return geometry.number(value[name], name)


def number_or_zero(value: object) -> float:
    """Return ``value`` as a float, 0.0 when it is absent or not a finite number."""
    try:
        return geometry.number(value, "")
    except BadShape:
        return 0.0


def _rotation(value: object) -> float:
    return number_or_zero(value) % 360


def _size(width: object, height: object) -> tuple[int, int] | None:
    """Return a stated image size, or None when it is missing or not positive whole numbers."""
    try:
        w, h = geometry.number(width, ""), geometry.number(height, "")
    except BadShape:
        return None
    if w <= 0 or h <= 0 or not w.is_integer() or not h.is_integer():
        return None
    return int(w), int(h)


def _ids(rids: list[str]) -> str:
    shown = ", ".join(rids[:_LISTED])
    return shown + (f" and {len(rids) - _LISTED} more" if len(rids) > _LISTED else "")


def _problem(code: str, severity: Severity, message: str, todo: str) -> Problem:
    return Problem(code, severity, f"{message}; {todo}" if todo else message)


def _bad(what: str, why: str, todo: str) -> Problem:
    return _problem("labelstudio.bad_result", Severity.ERROR, f"{what}: {why}", todo)


def _refused(where: str, result: Result) -> Problem:
    return _problem(
        "labelstudio.refused", Severity.ERROR,
        f"{where}, result {result.rid}: a {result.kind or 'untyped'} result, refused by "
        f"results.{result.kind}: error", "remove it in Label Studio or change the policy")
