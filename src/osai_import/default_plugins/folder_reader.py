"""The `folder` reader: a folder of images, one sub-folder per class, optional VOC sidecars.

The walk is sorted (folders and files by name, depth first) and lazy: one directory is
listed at a time and records are yielded as they are found. Hidden entries (names
starting with ``.``) are skipped. See docs/readers/folder.md for every option.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import stat
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from osai_import import hookimpl
from osai_import.base import Reader, ReaderOptions
from osai_import.errors import SourceError
from osai_import.parse_ahead import VocAhead, VocResult, parse_batch
from osai_import.records import ImageRecord, Problem, Severity

_MODES = ("parent", "path", "none")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:\*\*)?\}")
_Kind = Literal["dir", "file", "link", "other"]


# --- path templates ------------------------------------------------------------------


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
            found[self.span] = _nfc(_printable("/".join(middle)))
        for segment, part in pairs:
            if not segment.matches(part):
                return None
            if segment.field is not None:
                found[segment.field] = _nfc(_printable(part))
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


# --- options -------------------------------------------------------------------------


class FolderOptions(ReaderOptions):
    """Options of the `folder` reader; ``path`` is the root folder."""

    category: str = Field(
        default="parent",
        description="`parent` (the image's folder name), `path` (its folder path from the "
        "root, joined with `/`), `none`, or a path template such as {split}/{category}/{file}",
    )
    recursive: bool = Field(default=True, description="read sub-folders too")
    extensions: list[str] = Field(
        default_factory=lambda: ["jpg", "jpeg", "png"],
        min_length=1,
        description="image file extensions, any case",
    )
    include: list[str] = Field(
        default_factory=list, description="globs; only matching paths are read"
    )
    exclude: list[str] = Field(
        default_factory=list, description="globs; matching paths are skipped"
    )
    annotations: Literal["sidecar", "none"] = Field(
        default="sidecar", description="`sidecar`: read a same-stem .xml beside each image"
    )
    follow_symlinks: bool = Field(default=False, description="read symlinked files and folders")

    @field_validator("category")
    @classmethod
    def _check_category(cls, value: str) -> str:
        value = value.strip()
        if value in _MODES:
            return value
        if "{" not in value:
            close = difflib.get_close_matches(value, _MODES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"{hint}category must be `parent`, `path`, `none` or a path template such "
                f"as {{split}}/{{category}}/{{file}}, got {value!r}"
            )
        PathTemplate.parse(value)
        return value

    @field_validator("extensions")
    @classmethod
    def _check_extensions(cls, value: list[str]) -> list[str]:
        cleaned = [ext.strip().lstrip(".").lower() for ext in value]
        if not all(cleaned):
            raise ValueError("an extension is empty; write them like `jpg`, `png`")
        return cleaned


# --- the reader ----------------------------------------------------------------------


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _printable(text: str) -> str:
    # File names that are not valid UTF-8 reach Python as surrogate escapes, which no
    # JSON report, journal or HTTP request can carry; show their bytes instead.
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    kind: _Kind


class _Listing:
    """One folder's entries sorted by name, in little memory: a class folder can hold
    tens of thousands of files, and sorting needs them all. Only the names are kept, with
    the kinds of the few entries that are not regular files; sidecars are found by
    bisecting the names."""

    __slots__ = ("_names", "_sidecars", "_special")

    def __init__(self, names: list[str], special: dict[str, _Kind], sidecars: bool) -> None:
        self._names = names
        self._special = special
        self._sidecars = sidecars

    def entries(self) -> Iterator[_Entry]:
        """Yield the entries in name order."""
        special = self._special
        for name in self._names:
            yield _Entry(name, special.get(name, "file"))

    def get(self, stem: str) -> list[_Entry] | None:
        """Return the ``stem.xml`` entries, any spelling of ``xml``, folders left out."""
        if not self._sidecars:
            return None
        names, prefix = self._names, stem + "."
        # Every name that starts with the prefix sits in one run of the sorted names.
        index = bisect.bisect_left(names, prefix)
        found = []
        while index < len(names) and names[index].startswith(prefix):
            name = names[index]
            kind = self._special.get(name, "file")
            if name[len(prefix):].lower() == "xml" and kind != "dir":
                found.append(_Entry(name, kind))
            index += 1
        return found or None


_Folder = tuple[tuple[str, ...], Path, Iterator[_Entry], _Listing]
# A wanted image: its folder, its parts below the root, its kind, its sidecar.
_Job = tuple[Path, tuple[str, ...], _Kind, "_Sidecar | None"]
# An image's sidecar: the candidates (the chosen one first), the chosen one's path, and
# whether it is a symbolic link left unread.
_Sidecar = tuple[list[_Entry], str, bool]
# A batch of images, the sidecars handed to the helper process, and its answer.
_Batch = tuple[list[_Job], list[tuple[str, str]], "Future[list[VocResult]] | None"]
_BATCH = 256
_BATCHES_AHEAD = 4
# A small source is read one image at a time: a helper process would not pay for itself.
_LAZY = 1024


class FolderReader(Reader):
    """Read a folder of images: one sub-folder per class, optional Pascal VOC XML beside each."""

    name: ClassVar[str] = "folder"
    Options: ClassVar[type[FolderOptions]] = FolderOptions
    options: FolderOptions

    def __init__(self, options: FolderOptions) -> None:  # type: ignore[override]
        super().__init__(options)
        mode = options.category
        self._template = None if mode in _MODES else PathTemplate.parse(mode)
        self._extensions = frozenset(options.extensions)
        self._include = [compile_glob(p) for p in options.include]
        self._exclude = [compile_glob(p) for p in options.exclude]
        # `dir/**` excludes prune whole folders instead of listing them.
        self._prune = [
            compile_glob(p[:-3], anchored=True)
            for p in options.exclude
            if p.endswith("/**") and p[:-3].strip("/")
        ]

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per image, in sorted depth-first order, while walking.

        Past the first ``_LAZY`` images, images go by batches: while one batch's records
        are built, a helper process may parse the next batches' sidecars (see
        ``parse_ahead``); the records are the same, the walk is a few batches ahead.
        """
        ahead = VocAhead() if self.options.annotations == "sidecar" else None
        pending: deque[_Batch] = deque()
        batch: list[_Job] = []
        failure: SourceError | None = None
        streamed = 0
        try:
            try:
                for job in self._walk():
                    if ahead is None or streamed < _LAZY:
                        streamed += 1
                        yield self._record(*job)
                        continue
                    batch.append(job)
                    if len(batch) >= _BATCH:
                        pending.append(self._submit(batch, ahead))
                        batch = []
                        if len(pending) > _BATCHES_AHEAD:
                            yield from self._built(pending.popleft(), ahead)
            except SourceError as exc:
                failure = exc  # the images found before a folder failed still come first
            pending.append(self._submit(batch, ahead))
            while pending:
                yield from self._built(pending.popleft(), ahead)
        finally:
            if ahead is not None:
                ahead.close()
        if failure is not None:
            raise failure

    def _submit(self, batch: list[_Job], ahead: VocAhead | None) -> _Batch:
        """Hand the batch's sidecars to the helper process, when there is one."""
        if ahead is None:
            return batch, [], None
        jobs = []
        for _folder, _parts, _kind, sidecar in batch:
            if sidecar is not None and not sidecar[2]:
                jobs.append((sidecar[1], _printable(sidecar[1])))
        return batch, jobs, ahead.submit(jobs)

    def _built(self, pending: _Batch, ahead: VocAhead | None) -> Iterator[ImageRecord]:
        batch, jobs, future = pending
        parsed = ahead.results(future, jobs) if ahead is not None else None
        for folder, parts, kind, sidecar in batch:
            yield self._record(folder, parts, kind, sidecar, parsed)

    def _walk(self) -> Iterator[_Job]:
        """Yield every wanted image file's folder, parts, kind and sidecar."""
        root = Path(self.options.path)
        try:
            info = os.stat(root)
        except OSError as exc:
            raise SourceError(
                f"{root}: cannot open the source folder: {exc.strerror}; check source.path"
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise SourceError(
                f"{root}: is not a folder; the folder reader's path is the dataset's root folder"
            )
        seen = {(info.st_dev, info.st_ino)}
        # Each open folder: its parts below the root, its Path, its entries and sidecars.
        stack: list[_Folder] = [((), root, *self._listing(root, ()))]
        while stack:
            rel_dir, folder, entries, sidecars = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            parts = (*rel_dir, entry.name)
            kind = entry.kind
            if kind == "link" and self.options.follow_symlinks:
                kind = _target_kind(folder / entry.name)
            if kind == "dir":
                rel = "/".join(parts)
                if not self.options.recursive or any(prune(rel) for prune in self._prune):
                    continue
                full = folder / entry.name
                if self.options.follow_symlinks and not _first_visit(full, seen):
                    continue
                stack.append((parts, full, *self._listing(full, parts)))
                continue
            if self._wanted(parts):
                found = self._chosen_sidecar(folder, parts, sidecars) if kind == "file" else None
                yield folder, parts, kind, found

    def _listing(self, folder: Path, rel: tuple[str, ...]) -> tuple[Iterator[_Entry], _Listing]:
        names: list[str] = []
        special: dict[str, _Kind] = {}
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    names.append(name)
                    kind = _kind(entry)
                    if kind != "file":
                        special[name] = kind
        except OSError as exc:
            hint = f' or exclude it (exclude: ["{"/".join(rel)}/**"])' if rel else ""
            raise SourceError(
                f"{folder}: cannot list the folder: {exc.strerror}; fix its permissions{hint}"
            ) from None
        names.sort()
        listing = _Listing(names, special, self.options.annotations == "sidecar")
        return listing.entries(), listing

    def _wanted(self, parts: tuple[str, ...]) -> bool:
        stem, dot, suffix = parts[-1].rpartition(".")
        if not (dot and stem and suffix.lower() in self._extensions):
            return False
        rel = "/".join(parts)
        if self._include and not any(match(rel) for match in self._include):
            return False
        return not any(match(rel) for match in self._exclude)

    def _record(
        self,
        folder: Path,
        parts: tuple[str, ...],
        kind: _Kind,
        sidecar: _Sidecar | None,
        parsed: dict[str, VocResult] | None = None,
    ) -> ImageRecord:
        key = _printable("/".join(parts))
        full = folder / parts[-1]
        problems: list[Problem] = []

        def problem(code: str, severity: Severity, message: str) -> None:
            problems.append(Problem(code, severity, message, key))

        name = _nfc(parts[-1])
        if _printable(name) != name:
            name = os.fsencode(name).decode("utf-8", "replace")
            message = f"{key}: the file name is not valid UTF-8; it is uploaded as {name!r}"
            problem("name.encoding", Severity.WARNING, message)
        if kind == "link":
            message = f"{full}: is a symbolic link, not read; set follow_symlinks: true to read it"
            problem("path.symlink", Severity.ERROR, message)
        elif kind == "other":
            message = f"{full}: is not a regular file (a pipe, a socket, a device); remove it"
            problem("path.special", Severity.ERROR, message)
        category, extras = self._category(parts, key, problem)
        record: dict[str, Any] = {"category": category, "extras": extras}
        if sidecar is not None:
            self._sidecar(parts, sidecar, record, problem, parsed)
        return ImageRecord(key=key, path=full, name=name, problems=tuple(problems), **record)

    def _category(
        self, parts: tuple[str, ...], key: str, problem: Callable[[str, Severity, str], None]
    ) -> tuple[str | None, dict[str, str]]:
        mode = self.options.category
        folders = parts[:-1]
        if mode == "none" or (mode in ("parent", "path") and not folders):
            return None, {}
        if mode == "parent":
            return _nfc(_printable(folders[-1])), {}
        if mode == "path":
            return _nfc(_printable("/".join(folders))), {}
        assert self._template is not None
        found = self._template.match(parts)
        if found is None:
            message = (
                f"{key}: does not fit the category template {mode!r}; move the file, "
                "adjust the template (`**` spans any folders), or exclude it"
            )
            problem("path.template", Severity.ERROR, message)
            return None, {}
        category = found.pop("category", None)
        return category, found

    def _chosen_sidecar(
        self, folder: Path, parts: tuple[str, ...], sidecars: _Listing
    ) -> _Sidecar | None:
        """Return the image's sidecar (see ``_Sidecar``), or None without one."""
        candidates = sidecars.get(parts[-1].rpartition(".")[0])
        if not candidates:
            return None
        # `.xml` before `.XML` before any other spelling, so the choice never depends on the OS.
        order = {"xml": 0, "XML": 1}
        candidates = sorted(
            candidates, key=lambda e: (order.get(e.name.rpartition(".")[2], 2), e.name)
        )
        chosen = candidates[0]
        unread_link = chosen.kind == "link" and not self.options.follow_symlinks
        return candidates, _child(str(folder), chosen.name), unread_link

    def _sidecar(
        self,
        parts: tuple[str, ...],
        sidecar: _Sidecar,
        record: dict[str, Any],
        problem: Callable[[str, Severity, str], None],
        parsed: dict[str, VocResult] | None,
    ) -> None:
        candidates, xml_path, unread_link = sidecar
        chosen = candidates[0]
        if len(candidates) > 1:
            others = ", ".join(e.name for e in candidates[1:])
            message = f"{xml_path}: used as the annotation; also found {others}, ignored"
            problem("xml.ambiguous", Severity.WARNING, message)
        annotation = _printable("/".join((*parts[:-1], chosen.name)))
        record["extras"] = {**record["extras"], "annotation": annotation}
        if unread_link:
            message = (
                f"{xml_path}: the annotation is a symbolic link, not read; set follow_symlinks"
            )
            problem("path.symlink", Severity.ERROR, message + ": true to read it")
            return
        result = parsed.get(xml_path) if parsed is not None else None
        if result is None:
            result = parse_batch([(xml_path, _printable(xml_path))])[0]
        voc, code, error = result
        if voc is None:
            assert code is not None and error is not None
            problem(code, Severity.ERROR, error)
            return
        record.update(boxes=voc.boxes, width=voc.width, height=voc.height, depth=voc.depth)


def _child(folder: str, name: str) -> str:
    """Return ``str(Path(folder) / name)`` for a Path's text, without parsing a Path again."""
    if folder == ".":
        return name
    # Of a Path's texts only a root ("/", "//") ends with a slash.
    return folder + name if folder.endswith("/") else f"{folder}/{name}"


def _target_kind(path: Path) -> _Kind:
    try:
        info = os.stat(path)
    except OSError:
        return "file"  # a broken link: the check step reports the missing file
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(info.st_mode) else "other"


def _first_visit(folder: Path, seen: set[tuple[int, int]]) -> bool:
    # Followed links can reach a folder twice or loop forever; each folder is read once.
    try:
        info = os.stat(folder)
    except OSError:
        return False
    ident = (info.st_dev, info.st_ino)
    if ident in seen:
        return False
    seen.add(ident)
    return True


def _kind(entry: os.DirEntry[str]) -> _Kind:
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "dir"
        return "file" if entry.is_file(follow_symlinks=False) else "other"
    except OSError:
        return "other"


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the built-in `folder` reader."""
    register(FolderReader)
