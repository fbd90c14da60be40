"""Path templates (``{split}/{category}/{file}``) and globs of the `folder` reader's options."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from osai_import.default_plugins.folder_reader.listing import nfc, printable

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:\*\*)?\}")


@dataclass(frozen=True)
class _Segment:
    field: str | None = None  # a named segment; "_" is ignored
    glob: str | None = None  # a literal or glob segment

    def matches(self, part: str) -> bool:
        return self.glob is None or fnmatchcase(part, self.glob)


@dataclass(frozen=True)
class PathTemplate:
    """A layout such as ``{split}/{category}/{file}``: one segment per path segment.

    ``*`` or ``{_}`` ignores a segment, literal text (globs allowed) must match it,
    ``{file}`` is the file name (last), and one ``**`` (or a named ``{name:**}``) spans
    any number of folders, zero included; a named span joins them with ``/``.
    """

    head: tuple[_Segment, ...]
    tail: tuple[_Segment, ...]  # after ``**``; holds everything when there is no ``**``
    deep: bool
    span: str | None = None  # the field a named ``{name:**}`` fills

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        """Parse a template; raise ValueError saying what is wrong with it."""
        parts = text.strip().strip("/").split("/")
        if not all(parts):
            raise ValueError(f"template {text!r} has an empty segment (`//`)")
        segments: list[_Segment] = []
        names: list[str] = []
        span_at: int | None = None
        span: str | None = None
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            match = _FIELD.fullmatch(part)
            name = match.group(1) if match else None
            if last and (part == "**" or name not in (None, "file", "_")):
                raise ValueError(
                    f"template {text!r}: the last segment matches the file name; end it with "
                    "`{file}` (or `*`)"
                )
            if name == "file" and not last:
                raise ValueError(f"template {text!r}: `{{file}}` can only be the last segment")
            if name is not None and name != "_" and name in names:
                raise ValueError(f"template {text!r} uses `{{{name}}}` twice")
            names.append(name or "")
            if part == "**" or (match and match.group(2)):
                if span_at is not None:
                    raise ValueError(f"template {text!r} has more than one `**`")
                if name == "_":
                    raise ValueError(f"template {text!r}: write `**`, not `{{_:**}}`")
                span_at, span = position, name
                segments.append(_Segment())
            elif match is None and ("{" in part or "}" in part):
                raise ValueError(
                    f"template {text!r}: segment {part!r} must be a whole `{{name}}`, "
                    "`*`, `**` or literal text"
                )
            else:
                field = None if name in (None, "_", "file") else name
                segments.append(_Segment(field=field, glob=None if match else part))
        if span_at is None:
            return cls((), tuple(segments), False)
        return cls(tuple(segments[:span_at]), tuple(segments[span_at + 1 :]), True, span)

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        """Return the named segments of ``parts`` (file name last), or None if it does not fit."""
        fixed = len(self.head) + len(self.tail)
        if len(parts) < fixed or (not self.deep and len(parts) != fixed):
            return None
        tail = parts[len(parts) - len(self.tail) :]
        pairs = [*zip(self.head, parts, strict=False), *zip(self.tail, tail, strict=True)]
        found: dict[str, str] = {}
        middle = parts[len(self.head) : len(parts) - len(self.tail)]
        if self.span is not None and middle:
            found[self.span] = nfc(printable("/".join(middle)))
        for segment, part in pairs:
            if not segment.matches(part):
                return None
            if segment.field is not None:
                found[segment.field] = nfc(printable(part))
        return found


# --- include / exclude globs ---------------------------------------------------------


def _segment_regex(segment: str) -> str:
    # fnmatch.translate lets `*` cross `/`; here every wildcard stays within one segment.
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        start = i + 1 + (segment[i + 1 : i + 2] == "!")
        end = segment.find("]", start + (segment[start : start + 1] == "]"))
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and end > 0:
            body = re.sub(r"([\\\[\]^])", r"\\\1", segment[start:end])
            out.append(("[^/" if start > i + 1 else "[") + body + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def compile_glob(pattern: str, *, anchored: bool = False) -> Callable[[str], bool]:
    """Compile a glob matched against POSIX relative paths.

    A pattern without ``/`` matches the file name at any depth (``*.png``); one with ``/``
    matches the whole relative path (a leading ``/`` is allowed), where ``*`` stays
    within one segment and ``**`` spans any number of segments (``train/**``).
    """
    if "/" not in pattern and not anchored:
        name = re.compile(_segment_regex(pattern))
        return lambda rel: name.fullmatch(rel.rsplit("/", 1)[-1]) is not None
    segments = pattern.lstrip("/").split("/")
    out = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
        else:
            out.append(_segment_regex(segment) + ("" if last else "/"))
    whole = re.compile("".join(out), re.DOTALL)
    return lambda rel: whole.fullmatch(rel) is not None
