"""The `folder` reader: a folder of images, one sub-folder per class, optional VOC sidecars.

The walk is sorted (folders and files by name, depth first) and lazy: one directory is
listed at a time and records are yielded as they are found. Hidden entries (names
starting with ``.``) are skipped. See docs/readers/folder.md for every option.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

from osai_import import (
    Detection,
    ImageRecord,
    Problem,
    Reader,
    Severity,
    SourceError,
    SourcePath,
    VocAhead,
    VocResult,
    parse_voc_batch,
    survey,
)
from osai_import.default_plugins.folder_reader.detect import detect_folder, voc_apart
from osai_import.default_plugins.folder_reader.listing import (
    Entry,
    Kind,
    Listing,
    child_path,
    entry_kind,
    first_visit,
    nfc,
    printable,
    target_kind,
)
from osai_import.default_plugins.folder_reader.options import (
    CATEGORY_MODES,
    FolderOptions,
)
from osai_import.default_plugins.folder_reader.patterns import (
    PathTemplate,
    compile_glob,
)

# A folder: a local Path, or a SourcePath in an archive or a bucket.
_Dir = Path | SourcePath
_Folder = tuple[tuple[str, ...], _Dir, Iterator[Entry], Listing]
# A wanted image: its folder, its parts below the root, its kind, its sidecar.
_Job = tuple[_Dir, tuple[str, ...], Kind, "_Sidecar | None"]
# An image's sidecar: the candidates (the chosen one first), the chosen one's path (text
# for a local file), and whether it is a symbolic link left unread.
_Sidecar = tuple[list[Entry], "str | SourcePath", bool]
# A batch of images, the sidecars handed to the helper process, and its answer.
_Batch = tuple[
    list[_Job], list[tuple["str | SourcePath", str]], "Future[list[VocResult]] | None"
]
_BATCH = 256
_BATCHES_AHEAD = 4
# A small source is read one image at a time: a helper process would not pay for itself.
_LAZY = 1024


class FolderReader(Reader):
    """Read a folder of images: one sub-folder per class, optional Pascal VOC XML beside each."""

    name: ClassVar[str] = "folder"
    Options: ClassVar[type[FolderOptions]] = FolderOptions
    any_storage: ClassVar[bool] = True
    options: FolderOptions

    def __init__(self, options: FolderOptions) -> None:
        super().__init__(options)
        mode = options.category
        self._template = None if mode in CATEGORY_MODES else PathTemplate.parse(mode)
        self._extensions = frozenset(options.extensions)
        self._include = [compile_glob(p) for p in options.include]
        self._exclude = [compile_glob(p) for p in options.exclude]
        # `dir/**` excludes prune whole folders instead of listing them.
        self._prune = [
            compile_glob(p[:-3], anchored=True)
            for p in options.exclude
            if p.endswith("/**") and p[:-3].strip("/")
        ]

    _notes: tuple[Problem, ...] = ()

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Recognise a folder of images, a sub-folder per class (a modest confidence)."""
        return detect_folder(path)

    def source_problems(self) -> tuple[Problem, ...]:
        """Return the warning about VOC XML kept apart from the images, if the read met it."""
        return self._notes

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per image; then note VOC XML that no image had beside it."""
        self._notes = ()
        boxes = 0
        for record in self._records():
            boxes += len(record.boxes)
            yield record
        if boxes == 0 and self.options.annotations == "sidecar":
            apart = voc_apart(survey(self.options.path, limit=2000, depth=3))
            if apart is not None:
                # Images in images/ and their XML in annotations/: read as a folder, every
                # image would go without its boxes, silently.
                self._notes = (Problem(
                    "folder.voc_apart", Severity.WARNING,
                    f"{self.options.path}: {apart} holds Pascal VOC XML files, but no image "
                    "has one beside it, so no box was read; use `type: voc` with "
                    f"`annotations: {apart.rstrip('/')}` (and `images:`) to upload the boxes",
                    apart.rstrip("/")),)

    def _records(self) -> Iterator[ImageRecord]:
        """Yield one record per image, in sorted depth-first order, while walking.

        Past the first ``_LAZY`` images, images go by batches: while one batch's records
        are built, a helper process may parse the next batches' sidecars (see
        ``parse_ahead``); the records are the same, the walk is a few batches ahead.
        """
        sidecars = self.options.annotations == "sidecar"
        stored = isinstance(self.options.path, SourcePath)
        # Local sidecars are parsed ahead in a helper process; stored ones are fetched a
        # batch at a time by threads (``parse_voc_batch``), which needs no helper.
        ahead = VocAhead() if sidecars and not stored else None
        pending: deque[_Batch] = deque()
        batch: list[_Job] = []
        failure: SourceError | None = None
        streamed = 0
        try:
            try:
                for job in self._walk():
                    if stored and sidecars:
                        batch.append(job)
                        if len(batch) >= _BATCH:
                            yield from self._built(self._submit(batch, None), None)
                            batch = []
                        continue
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
        jobs: list[tuple[str | SourcePath, str]] = []
        for _folder, _parts, _kind, sidecar in batch:
            if sidecar is not None and not sidecar[2]:
                jobs.append((sidecar[1], printable(str(sidecar[1]))))
        if ahead is None:
            if not any(isinstance(path, SourcePath) for path, _source in jobs):
                return batch, [], None
            return batch, jobs, None
        local = [(str(path), source) for path, source in jobs]
        return batch, jobs, ahead.submit(local)

    def _built(self, pending: _Batch, ahead: VocAhead | None) -> Iterator[ImageRecord]:
        batch, jobs, future = pending
        parsed: dict[str | SourcePath, VocResult] | None = None
        if ahead is not None:
            found = ahead.results(future, [(str(p), s) for p, s in jobs])
            if found is not None:
                parsed = {path: result for path, result in found.items()}  # noqa: C416 - widens the key type
        elif jobs:
            # Stored sidecars: fetched at once, then parsed here.
            parsed = dict(zip([p for p, _s in jobs], parse_voc_batch(jobs), strict=True))
        for folder, parts, kind, sidecar in batch:
            yield self._record(folder, parts, kind, sidecar, parsed)

    def _walk(self) -> Iterator[_Job]:
        """Yield every wanted image file's folder, parts, kind and sidecar."""
        given = self.options.path
        root: _Dir = given if isinstance(given, SourcePath) else Path(given)
        try:
            is_dir = (root.stat().kind == "dir" if isinstance(root, SourcePath)
                      else stat.S_ISDIR(os.stat(root).st_mode))
        except OSError as exc:
            raise SourceError(
                f"{root}: cannot open the source folder: {exc.strerror}; check source.path"
            ) from None
        if not is_dir:
            raise SourceError(
                f"{root}: is not a folder; the folder reader's path is the dataset's root folder"
            )
        seen: set[tuple[int, int]] = set()
        if isinstance(root, Path):
            first_visit(root, seen)
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
            if kind == "link" and self.options.follow_symlinks and isinstance(folder, Path):
                kind = target_kind(folder / entry.name)
            if kind == "dir":
                rel = "/".join(parts)
                if not self.options.recursive or any(prune(rel) for prune in self._prune):
                    continue
                full = folder / entry.name
                if (self.options.follow_symlinks and isinstance(full, Path)
                        and not first_visit(full, seen)):
                    continue
                stack.append((parts, full, *self._listing(full, parts)))
                continue
            if self._wanted(parts):
                found = self._chosen_sidecar(folder, parts, sidecars) if kind == "file" else None
                yield folder, parts, kind, found

    def _listing(self, folder: _Dir, rel: tuple[str, ...]) -> tuple[Iterator[Entry], Listing]:
        try:
            names, special = (_stored_names(folder) if isinstance(folder, SourcePath)
                              else _local_names(folder))
        except OSError as exc:
            hint = f' or exclude it (exclude: ["{"/".join(rel)}/**"])' if rel else ""
            raise SourceError(
                f"{folder}: cannot list the folder: {exc.strerror}; fix its permissions{hint}"
            ) from None
        names.sort()
        listing = Listing(names, special, self.options.annotations == "sidecar")
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
        folder: _Dir,
        parts: tuple[str, ...],
        kind: Kind,
        sidecar: _Sidecar | None,
        parsed: dict[str | SourcePath, VocResult] | None = None,
    ) -> ImageRecord:
        key = printable("/".join(parts))
        full = folder / parts[-1]
        problems: list[Problem] = []

        def problem(code: str, severity: Severity, message: str) -> None:
            problems.append(Problem(code, severity, message, key))

        name = nfc(parts[-1])
        if printable(name) != name:
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
            return nfc(printable(folders[-1])), {}
        if mode == "path":
            return nfc(printable("/".join(folders))), {}
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
        self, folder: _Dir, parts: tuple[str, ...], sidecars: Listing
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
        if isinstance(folder, SourcePath):
            return candidates, folder / chosen.name, unread_link
        return candidates, child_path(str(folder), chosen.name), unread_link

    def _sidecar(
        self,
        parts: tuple[str, ...],
        sidecar: _Sidecar,
        record: dict[str, Any],
        problem: Callable[[str, Severity, str], None],
        parsed: dict[str | SourcePath, VocResult] | None,
    ) -> None:
        candidates, xml_path, unread_link = sidecar
        chosen = candidates[0]
        if len(candidates) > 1:
            others = ", ".join(e.name for e in candidates[1:])
            message = f"{xml_path}: used as the annotation; also found {others}, ignored"
            problem("xml.ambiguous", Severity.WARNING, message)
        annotation = printable("/".join((*parts[:-1], chosen.name)))
        record["extras"] = {**record["extras"], "annotation": annotation}
        if unread_link:
            message = (
                f"{xml_path}: the annotation is a symbolic link, not read; set follow_symlinks"
            )
            problem("path.symlink", Severity.ERROR, message + ": true to read it")
            return
        result = parsed.get(xml_path) if parsed is not None else None
        if result is None:
            result = parse_voc_batch([(xml_path, printable(str(xml_path)))])[0]
        voc, code, error = result
        if voc is None:
            assert code is not None and error is not None
            problem(code, Severity.ERROR, error)
            return
        record.update(boxes=voc.boxes, width=voc.width, height=voc.height, depth=voc.depth)


def _local_names(folder: Path) -> tuple[list[str], dict[str, Kind]]:
    """Return a local folder's visible names, and the kinds of those that are no file."""
    names: list[str] = []
    special: dict[str, Kind] = {}
    with os.scandir(folder) as scan:
        for entry in scan:
            name = entry.name
            if name.startswith("."):
                continue
            names.append(name)
            kind = entry_kind(entry)
            if kind != "file":
                special[name] = kind
    return names, special


def _stored_names(folder: SourcePath) -> tuple[list[str], dict[str, Kind]]:
    """Return an archive's or a bucket's folder's visible names, and which are folders."""
    names: list[str] = []
    special: dict[str, Kind] = {}
    for name, kind in folder.entries():
        if not name.startswith("."):
            names.append(name)
            if kind != "file":
                special[name] = kind
    return names, special
