"""Work out a YOLO dataset's layout: its class names and where each split's images are.

Three layouts are known, tried in this order: Ultralytics (``data.yaml``, or a YAML file
of another name with ``names`` and ``train``/``val``: see ``yamls``), Darknet
(``obj.data`` with ``train.txt`` lists) and plain folders (``images/`` + ``labels/``,
``<split>/images`` + ``<split>/labels``, ``obj_<split>_data/``, or images beside labels).
The dataset may be in an archive or a bucket: its folders are then listed through
``Files``, once each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from osai_import import ItemError, Problem, Severity, SourceError, SourcePath
from osai_import_yolo.paths import (
    Dir,
    Files,
    inside,
    joined,
    locate,
    read_lines,
    relative_key,
)
from osai_import_yolo.yamls import candidates, chosen_yaml, load_yaml, yaml_names

NAMES_FILES = ("obj.names", "classes.txt", "classes.names")
_SPLIT_KEYS = ("train", "val", "test")
_ALIASES = {
    "val": ("val", "valid", "validation"),
    "valid": ("valid", "val", "validation"),
    "train": ("train",),
    "test": ("test",),
}
_NOT_SPLITS = {"classes", "names", "backup", "eval", "results", "map", "top"}


@dataclass(frozen=True)
class Source:
    """One place a split's images come from: a folder, or a text file listing image paths."""

    folder: Dir | None = None
    listing: Dir | None = None
    recursive: bool = True


@dataclass
class Split:
    """A named part of the dataset (``""`` when the dataset has no splits)."""

    name: str
    sources: list[Source]


@dataclass
class Layout:
    """Everything the reader needs before its first image."""

    kind: str
    root: Dir
    names: dict[int, str]
    names_where: str
    splits: list[Split]
    notes: list[Problem] = field(default_factory=list)
    known_text: set[str] = field(default_factory=set)  # .txt files that are not labels
    files: Files = field(default_factory=Files)  # the folders listed so far


def _note(code: str, message: str, item: str) -> Problem:
    return Problem(code, Severity.WARNING, message, item)


def detect(
    path: Dir,
    *,
    names: Sequence[str] | Mapping[int, str] | None,
    splits: Sequence[str] | None,
    allow_outside: bool,
) -> Layout:
    """Return the layout of the dataset at ``path`` (its root, a data.yaml or an obj.data)."""
    files = Files()
    if isinstance(path, SourcePath):
        # The folder itself is listed (its listing is needed next), never its parent: that
        # may be a whole bucket.
        kind = "dir" if files.is_dir(path) else ("file" if files.is_file(path) else None)
    else:
        kind = None if not path.exists() else ("file" if path.is_file() else "dir")
    if kind is None:
        raise SourceError(
            f"{path}: no such file or folder; set source.path to the dataset's root folder "
            "(the one holding data.yaml, obj.data or images/)"
        )
    if kind == "file":
        root = path.parent
        if path.suffix.lower() in (".yaml", ".yml"):
            layout = _ultralytics(path, root, splits, allow_outside, files)
        elif path.suffix.lower() == ".data":
            layout = _darknet(path, root, splits, allow_outside, files)
        else:
            raise SourceError(
                f"{path}: not a dataset folder, a data.yaml or an obj.data; point "
                "source.path at one"
            )
    else:
        root = path
        found, chosen_note = chosen_yaml(candidates(root, files), root)
        data_files = [p for p in files.glob(root, "*.data") if files.is_file(p)]
        darknet = (
            root / "obj.data"
            if files.is_file(root / "obj.data")
            else (data_files[0] if len(data_files) == 1 else None)
        )
        if found is not None:
            layout = _ultralytics(found, root, splits, allow_outside, files)
            if chosen_note is not None:
                layout.notes.insert(0, chosen_note)
        elif darknet is not None:
            layout = _darknet(darknet, root, splits, allow_outside, files)
        else:
            layout = Layout("yolo", root, {}, "", _folder_splits(root, files), files=files)
    if names is not None:
        layout.names = dict(enumerate(names)) if isinstance(names, Sequence) else dict(names)
        layout.names_where = "source.names"
    elif not layout.names:
        layout.names, layout.names_where = _names_beside(layout.root, files)
        layout.known_text.add(Path(layout.names_where).name)
    if splits is not None:
        _pick(layout, splits)
    if not layout.splits:
        raise SourceError(
            f"{layout.root}: no images/ folder, data.yaml split or obj.data list; "
            "is source.path the dataset's root folder?"
        )
    return layout


def _pick(layout: Layout, wanted: Sequence[str]) -> None:
    have = {s.name: s for s in layout.splits}
    missing = [w for w in wanted if w not in have]
    if missing:
        known = ", ".join(repr(n) for n in have) or "none"
        raise SourceError(
            f"{layout.root}: no split {', '.join(map(repr, missing))} (splits: {known}); "
            "fix source.splits"
        )
    layout.splits = [have[w] for w in dict.fromkeys(wanted)]


def _names_beside(root: Dir, files: Files) -> tuple[dict[int, str], str]:
    candidates = [root / n for n in NAMES_FILES] + files.glob(root, "*.names")
    for candidate in candidates:
        if files.is_file(candidate):
            return read_names(candidate, relative_key(candidate, root)), str(candidate)
    raise SourceError(
        f"{root}: no class names: add obj.names or classes.txt (one name per line, line 1 is "
        "class 0), a data.yaml with `names:`, or set source.names"
    )


def read_names(path: Dir, where: str) -> dict[int, str]:
    """Read a names file: line N (from 0) names class N; blank lines name nothing."""
    try:
        lines = [text.strip() for _, text in read_lines(path, where)]
    except ItemError as exc:
        raise SourceError(str(exc)) from None
    return {index: name for index, name in enumerate(lines) if name}


def _ultralytics(
    path: Dir, root: Dir, wanted: Sequence[str] | None, allow_outside: bool, files: Files
) -> Layout:
    where = relative_key(path, root)
    data = load_yaml(path, where)
    layout = Layout("ultralytics", root, yaml_names(data, where), where, [], files=files)
    base = root
    declared = data.get("path")
    if isinstance(declared, str) and declared.strip():
        target = joined(root, declared.strip())
        if target is None or not files.is_dir(target):
            layout.notes.append(
                _note(
                    "yolo.path_fixed",
                    f"{where}: `path: {declared}` does not exist here; "
                    f"paths are taken from {root} instead",
                    where,
                )
            )
        elif not inside(target, root) and not allow_outside:
            raise SourceError(
                f"{where}: `path: {declared}` leads outside {root}; set source.path to {target}, "
                "or set source.allow_outside_root: true if you trust this file"
            )
        else:
            base = layout.root = target
    for key in _SPLIT_KEYS:
        entries = data.get(key)
        if entries in (None, "", []):
            continue
        if wanted is not None and key not in wanted:
            layout.splits.append(Split(key, []))  # named in messages, never read
            continue
        entries = entries if isinstance(entries, list) else [entries]
        if not all(isinstance(e, str) and e.strip() for e in entries):
            raise SourceError(f"{where}: `{key}:` must be a path or a list of paths")
        layout.splits.append(
            Split(key, [_entry(e, key, where, base, layout, allow_outside) for e in entries])
        )
    if not layout.splits:
        layout.splits = _folder_splits(layout.root, files)
    return layout


def _entry(
    text: str, split: str, where: str, base: Dir, layout: Layout, allow_outside: bool
) -> Source:
    files = layout.files
    found, tried = locate(text, [base], layout.root, allow_outside=allow_outside, files=files)
    if found is not None:
        if found != joined(base, text):
            layout.notes.append(
                _note(
                    "yolo.path_fixed",
                    f"{where}: `{split}: {text}` was found at {relative_key(found, layout.root)}",
                    where,
                )
            )
        return Source(listing=found) if files.is_file(found) else Source(folder=found)
    for alias in _ALIASES.get(split, (split,)):
        for folder in (layout.root / alias / "images", layout.root / "images" / alias):
            if files.is_dir(folder):
                layout.notes.append(
                    _note(
                        "yolo.path_fixed",
                        f"{where}: `{split}: {text}` does not exist (looked at "
                        f"{_shown(tried)}); used {relative_key(folder, layout.root)} instead. "
                        f"Fix {where} to silence this",
                        where,
                    )
                )
                return Source(folder=folder)
    others = [s for s in _SPLIT_KEYS if s != split]
    raise SourceError(
        f"{where}: `{split}: {text}` does not exist (looked at {_shown(tried)}); fix the path in "
        f"{where}, or leave the split out with source.splits (for instance [{others[0]}])"
    )


def _shown(paths: list[str]) -> str:
    return ", ".join(paths) or "nowhere"


def _darknet(
    path: Dir, root: Dir, wanted: Sequence[str] | None, allow_outside: bool, files: Files
) -> Layout:
    where = relative_key(path, root)
    settings: dict[str, str] = {}
    try:
        for _number, text in read_lines(path, where):
            key, sep, value = text.split("#", 1)[0].partition("=")
            if sep and key.strip():
                settings[key.strip().lower()] = value.strip()
    except ItemError as exc:
        raise SourceError(str(exc)) from None
    layout = Layout(
        "darknet",
        root,
        {},
        where,
        [],
        known_text={"train.txt", "valid.txt", "test.txt"},
        files=files,
    )
    if settings.get("names"):
        names_path, tried = locate(
            settings["names"], [root], root, allow_outside=allow_outside, files=files
        )
        if names_path is None or not files.is_file(names_path):
            raise SourceError(
                f"{where}: `names = {settings['names']}` does not exist (looked at "
                f"{_shown(tried)}); fix obj.data or set source.names"
            )
        layout.names = read_names(names_path, relative_key(names_path, root))
        layout.names_where = relative_key(names_path, root)
        layout.known_text.add(names_path.name)
    for key, value in settings.items():
        if key in _NOT_SPLITS or not value.lower().endswith(".txt"):
            continue
        if wanted is not None and key not in wanted:
            layout.splits.append(Split(key, []))  # named in messages, never read
            continue
        listing, tried = locate(value, [root], root, allow_outside=allow_outside, files=files)
        layout.known_text.add(Path(value).name)
        if listing is not None and files.is_file(listing):
            layout.splits.append(Split(key, [Source(listing=listing)]))
            continue
        folder = root / f"obj_{key}_data"
        if not files.is_dir(folder):
            raise SourceError(
                f"{where}: `{key} = {value}` does not exist (looked at {_shown(tried)}); fix "
                "obj.data, or leave the split out with source.splits"
            )
        layout.notes.append(
            _note(
                "yolo.path_fixed",
                f"{where}: `{key} = {value}` does not exist; used {folder.name}/ instead",
                where,
            )
        )
        layout.splits.append(Split(key, [Source(folder=folder)]))
    classes = settings.get("classes", "")
    if classes.isdigit() and layout.names and int(classes) != len(layout.names):
        layout.notes.append(
            _note(
                "yolo.names_mismatch",
                f"{where}: `classes = {classes}` but "
                f"{layout.names_where} names {len(layout.names)} classes",
                where,
            )
        )
    if not layout.splits:
        layout.splits = _folder_splits(root, files)
    return layout


def _folder_splits(root: Dir, files: Files) -> list[Split]:
    images = root / "images"
    if files.is_dir(images):
        splits = [Split("", [Source(folder=images, recursive=False)])]
        splits += [Split(sub.name, [Source(folder=sub)]) for sub in files.subfolders(images)]
        return splits
    subs = files.subfolders(root)
    nested = [
        Split(sub.name, [Source(folder=sub / "images")])
        for sub in subs
        if files.is_dir(sub / "images")
    ]
    if nested:
        return nested
    darknet = [
        s
        for s in subs
        if s.name.startswith("obj_") and s.name.endswith("_data") and len(s.name) > 9
    ]
    if darknet:
        return [Split(s.name[4:-5], [Source(folder=s)]) for s in darknet]
    return [Split("", [Source(folder=root)])]
