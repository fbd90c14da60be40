"""Ultralytics dataset YAML files: which one describes the dataset, and what it says.

A folder may hold its dataset YAML under any name (``coco8.yaml``, ``my-data.yml``), next
to YAML files that describe something else (a training run's ``args.yaml``). One counts
as a dataset's when it is named ``data.yaml`` (or ``data.yml``, ``dataset.yaml``,
``dataset.yml``), or when it is a mapping with ``names`` and ``train`` or ``val``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from osai_import import ItemError, Problem, Severity, SourceError
from osai_import_yolo.paths import Dir, Files, open_text, relative_key

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
"""The names Ultralytics and Roboflow give a dataset YAML, the first one preferred."""
YAML_SUFFIXES = (".yaml", ".yml")
MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAMLS = 16
"""YAML files of a folder looked into at most: a folder of hundreds is not a dataset's."""


def load_yaml(path: Dir, where: str, max_bytes: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """Return a YAML file's mapping; raise SourceError naming the file (and line) otherwise."""
    try:
        with open_text(path, where, max_bytes) as handle:
            data = yaml.safe_load(handle)
    except ItemError as exc:
        raise SourceError(str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SourceError(
            f"{where}{line}: invalid YAML: {getattr(exc, 'problem', exc)}; fix the file"
        ) from None
    except UnicodeDecodeError:
        raise SourceError(f"{where}: not UTF-8 text; save it as UTF-8") from None
    if not isinstance(data, dict):
        raise SourceError(
            f"{where}: expected a mapping with `names:` and `train:`/`val:`, got "
            f"{type(data).__name__}"
        )
    return data


def describes_dataset(data: Mapping[str, Any]) -> bool:
    """Tell whether a YAML mapping is a dataset's: ``names`` and ``train`` or ``val``."""
    return data.get("names") not in (None, "", [], {}) and any(
        data.get(key) not in (None, "", []) for key in ("train", "val")
    )


def candidates(folder: Dir, files: Files) -> list[Dir]:
    """Return the YAML files of ``folder``: the conventional names first, then by name."""
    found = [p for p in files.glob(folder, "*") if p.suffix.lower() in YAML_SUFFIXES]
    return ranked([p for p in found if files.is_file(p)])


def ranked(paths: Sequence[Dir]) -> list[Dir]:
    """Return ``paths`` with the conventional names first (in ``YAML_NAMES`` order)."""
    def rank(path: Dir) -> tuple[int, str]:
        name = path.name
        return (YAML_NAMES.index(name) if name in YAML_NAMES else len(YAML_NAMES), name)

    return sorted(paths, key=rank)


def dataset_yamls(paths: Sequence[Dir], root: Dir) -> tuple[list[Dir], list[str]]:
    """Return the YAML files among ``paths`` that are a dataset's, best first, and notes.

    A conventional name counts without a look (a broken ``data.yaml`` is then an error
    when it is read); another name counts when it parses to a mapping with ``names`` and
    ``train`` or ``val``. Only the first ``MAX_YAMLS`` of ``ranked(paths)`` are opened.
    The notes say why a YAML file was not taken (it does not parse, say).
    """
    found: list[Dir] = []
    notes: list[str] = []
    for path in ranked(paths)[:MAX_YAMLS]:
        if path.name in YAML_NAMES:
            found.append(path)
            continue
        where = _shown(path, root)
        try:
            data = load_yaml(path, where)
        except SourceError as exc:
            notes.append(str(exc))
            continue
        if describes_dataset(data):
            found.append(path)
        else:
            notes.append(f"{where}: no `names` with `train`/`val`: not a dataset YAML")
    return found, notes


def chosen_yaml(paths: Sequence[Dir], root: Dir) -> tuple[Dir | None, Problem | None]:
    """Return the dataset YAML the reader uses in ``root`` (None: none) and a note on it.

    A conventional name wins over other names (warning ``yolo.yaml_chosen`` naming the
    others); one YAML file of another name is used as is; several of other names and
    none conventional are a SourceError asking for ``path:`` to name one.
    """
    found, _notes = dataset_yamls(paths, root)
    if not found:
        return None, None
    first, others = found[0], found[1:]
    if not others:
        return first, None
    names = ", ".join(_shown(p, root) for p in others)
    if first.name in YAML_NAMES:
        where = _shown(first, root)
        return first, Problem(
            "yolo.yaml_chosen",
            Severity.WARNING,
            f"{where} used, for its conventional name; {names} describe(s) a dataset too: "
            f"to read one of them, set source.path to it (path: {others[0]})",
            where,
        )
    every = ", ".join(_shown(p, root) for p in found)
    raise SourceError(
        f"{root}: several YAML files describe a dataset ({every}); set source.path to the "
        f"one to read (path: {first})"
    )


def yaml_names(data: Mapping[str, Any], where: str) -> dict[int, str]:
    """Return the class names of a dataset YAML's ``names`` (a list or a mapping)."""
    raw = data.get("names")
    if isinstance(raw, list):
        names = dict(enumerate(raw))
    elif isinstance(raw, dict):
        try:
            names = {int(k): v for k, v in raw.items()}
        except (TypeError, ValueError):
            raise SourceError(
                f"{where}: `names` keys must be class numbers (0: cat, 1: dog)"
            ) from None
    elif raw is None:
        return {}
    else:
        raise SourceError(f"{where}: `names` must be a list or a mapping of class numbers to names")
    if any(
        k < 0 or not isinstance(v, (str, int, float)) or isinstance(v, bool)
        for k, v in names.items()
    ):
        raise SourceError(f"{where}: every class name must be text, and numbers from 0")
    count = data.get("nc")
    if isinstance(count, int) and not isinstance(count, bool) and names and max(names) >= count:
        raise SourceError(
            f"{where}: `nc: {count}` but `names` has classes up to {max(names)}; make them agree"
        )
    return {k: str(v).strip() for k, v in names.items() if str(v).strip()}


def _shown(path: Dir, root: Dir) -> str:
    return relative_key(path, root)
