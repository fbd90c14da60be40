"""Find the images an export's tasks refer to among the files a survey listed.

A reference is looked for where the reader would read it by default (below the export's
folder), then by its file name among the listed files: the longest tail of its path that
a listed file ends with tells which folder the reference's head stands for, so
``/data/upload/29/cat.jpg`` found at ``media/upload/29/cat.jpg`` gives the mapping
``/data/upload/`` -> ``media/upload``. ``Mapping`` then turns what the references of one
export gave into the reader's ``images`` and ``image_prefixes`` options.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import unquote

from osai_import import Survey
from osai_import_labelstudio.images import LOCAL_FILES, UPLOAD

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]")
_SEPARATOR = re.compile(r"[/\\]")
_STATS = 8  # references checked one by one (a stat each) when the listing was cut short
# The reference forms the reader reads from `images` when no prefix maps them.
_ROOTED = ("", UPLOAD, LOCAL_FILES)


@dataclass(frozen=True)
class Place:
    """Where a reference was found: ``how`` is default, mapped, remote, embedded or missing.

    ``mapped``: ``prefix`` (the reference's head) stands for the listed folder ``base``;
    ``missing``: ``hint`` says which option to set.
    """

    how: str
    prefix: str = ""
    base: str = ""
    hint: str = ""


class Finder:
    """Look references up among a survey's files (by path, then by name)."""

    def __init__(self, seen: Survey) -> None:
        self.seen = seen
        self.files = set(seen.files)
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for name in seen.files:
            self.by_name[posixpath.basename(name)].append(name)
        self.stats = _STATS

    def place(self, reference: str, export_dir: str) -> Place:
        """Return where ``reference``, from an export in ``export_dir``, points."""
        text = reference.strip()
        if text.lower().startswith("data:"):
            return Place("embedded")
        url = _URL.match(text)
        start, form = 0, ""  # a relative path
        for marker in (UPLOAD, LOCAL_FILES):
            at = text.find(marker)
            if at == 0 or (at > 0 and url is not None):
                start, form = at + len(marker), marker if at == 0 else "server"
                break
        else:
            if url is not None:
                start = url.end()
                form = "absolute" if text.lower().startswith("file:") else "url"
            elif text.startswith(("/", "\\")) or _WINDOWS.match(text):
                form = "absolute"
        raw = _SEPARATOR.split(text[start:])
        # The reader splits the decoded reference: `?d=dir%2Fa.jpg` is dir/a.jpg.
        parts = _SEPARATOR.split(unquote(text[start:]))
        if form in _ROOTED and self._at(export_dir, parts):
            return Place("default")
        found = self._by_tail(parts, export_dir)
        if found is not None and (found[0] == 0 or len(raw) == len(parts)):
            kept, folder = found
            return Place("mapped", text[:start + sum(len(p) + 1 for p in raw[:kept])], folder)
        if form == "url":
            return Place("remote")
        return Place("missing", hint=_hint(form, text, start))

    def _at(self, export_dir: str, parts: list[str]) -> bool:
        """Tell whether the reader's default place (below the export's folder) holds it."""
        clean = [p for p in parts if p not in ("", ".")]
        if not clean:
            return False
        where = posixpath.normpath(posixpath.join(export_dir, *clean))
        if where in self.files:
            return True
        if self.seen.complete or where.startswith("..") or self.stats <= 0:
            return False
        self.stats -= 1  # the listing stopped early: the image may lie beyond it
        try:
            return self.seen.path(where).is_file()
        except OSError:
            return False

    def _by_tail(self, parts: list[str], export_dir: str) -> tuple[int, str] | None:
        """Return how many leading parts the folder stands for, and that folder."""
        if not parts or not parts[-1]:
            return None
        best: tuple[int, bool, int, str] | None = None
        for candidate in self.by_name.get(parts[-1], ()):
            pieces = candidate.split("/")
            tail = 0
            while (tail < min(len(pieces), len(parts))
                   and pieces[-1 - tail] == parts[-1 - tail]):
                tail += 1
            near = export_dir == "" or candidate.startswith(export_dir + "/")
            rank = (tail, near, -len(pieces), candidate)
            if best is None or rank[:3] > best[:3]:
                best = rank
        if best is None:
            return None
        tail, _, _, candidate = best
        pieces = candidate.split("/")
        return len(parts) - tail, "/".join(pieces[: len(pieces) - tail])


def _hint(form: str, text: str, start: int) -> str:
    head = text[:start] if form == "server" else text[: max(text.rfind("/"), text.rfind("\\")) + 1]
    if form == UPLOAD:
        return ("set `images` to Label Studio's media/upload folder (<data dir>/media/upload, "
                "holding a folder per project)")
    if form == LOCAL_FILES:
        return "set `images` to Label Studio's LOCAL_FILES_DOCUMENT_ROOT"
    if form == "":
        return "set `images` to the folder the references are relative to"
    return f"set `image_prefixes: {{{head!r}: <folder>}}`"


@dataclass
class Mapping:
    """What the references of one export gave, and the options that read them."""

    places: list[Place] = field(default_factory=list)
    images: str | None = None  # a listed folder, or None for the export's folder
    prefixes: dict[str, str] = field(default_factory=dict)  # prefix -> listed folder

    @classmethod
    def of(cls, places: list[Place]) -> Mapping:
        """Return the options that read the most references, from their places."""
        counts = Counter((p.prefix, p.base) for p in places if p.how == "mapped")
        prefixes: dict[str, str] = {}
        for (prefix, base), _ in counts.most_common():
            prefixes.setdefault(prefix, base)
        images = None
        if not any(p.how == "default" for p in places):
            # `images` serves relative, /data/upload/ and local-files references at once.
            rooted = {base for prefix, base in prefixes.items() if prefix in _ROOTED}
            if len(rooted) == 1:
                images = rooted.pop()
                prefixes = {k: v for k, v in prefixes.items() if k not in _ROOTED}
        # A relative reference is read from `images`: a prefix "" would map every reference.
        prefixes.pop("", None)
        return cls(places, images, prefixes)

    def count(self, how: str) -> int:
        """Return how many references were found ``how`` (unmapped ones as missing)."""
        return sum(1 for p in self.places if self._how(p) == how)

    def _how(self, place: Place) -> str:
        if place.how != "mapped":
            return place.how
        if place.prefix in self.prefixes:
            wanted: str | None = self.prefixes[place.prefix]
        else:
            wanted = self.images if place.prefix in _ROOTED else None
        return "mapped" if wanted is not None and wanted == place.base else "missing"

    def missing(self) -> list[Place]:
        """Return the places of the references the options do not read."""
        return [p for p in self.places if self._how(p) == "missing"]
