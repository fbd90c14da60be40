"""A commented YAML config for the reader that fits a path best (`osai-import init`).

The config runs as is on the embedded local server: it is validated (plugins, options,
paths) before it is written, and written atomically. Paths in it are relative to the
config's folder when they are local, so the config and its dataset move together.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from osai_import.config.resolve import prepare
from osai_import.detect.verdicts import Verdict, plain
from osai_import.errors import ConfigError, OsaiImportError
from osai_import.location import SourcePath
from osai_import.source.survey import survey

_CLOSE = 0.1  # two matching readers closer than this are an ambiguity worth saying
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def pick(verdicts: Sequence[Verdict], shown: str) -> tuple[Verdict, list[str]]:
    """Return the best verdict and the notes on the others; ConfigError when none matches."""
    matching = [v for v in verdicts if v.matches]
    if not matching:
        seen = "; ".join(
            f"{v.reader} ({v.confidence:.2f}: {_first(v)})" for v in verdicts[:4]
        ) or "no reader is installed"
        raise ConfigError(
            f"{shown}: no installed reader recognises this layout ({seen}); see "
            "`osai-import detect` for every reader's reasons, write the config by hand "
            "(docs/config.md), or install the plugin for this layout"
        )
    best, notes = matching[0], []
    for other in matching[1:]:
        close = best.confidence - other.confidence < _CLOSE
        notes.append(
            f"{other.reader} matches too ({other.confidence:.2f}: {_first(other)})"
            + (f"; {best.reader} was picked for its higher confidence"
               if close and other.confidence < best.confidence else
               f"; {best.reader} was picked first by name at the same confidence"
               if close else "")
        )
    return best, notes


def _first(verdict: Verdict) -> str:
    if verdict.error:
        return verdict.error
    if verdict.detection is None or not verdict.detection.reasons:
        return "no reason given"
    return verdict.detection.reasons[0]


def dataset_name(path: Path | SourcePath) -> str:
    """Return a dataset name from the path: its folder's or file's name, without suffixes."""
    name = path.name or str(path).rstrip("/").rpartition("/")[2] or "dataset"
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".json", ".xml", ".csv", ".yaml"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name


def shown_path(value: Path | SourcePath, config_dir: Path) -> str:
    """Return a path as the config should hold it: relative to ``config_dir`` when local."""
    text = str(value)
    if _URL.match(text):
        return text
    try:
        relative = Path(os.path.relpath(text, config_dir)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(text).as_posix()
    # Beside or below the config (one level up at most), the config moves with its data;
    # further away, an absolute path says plainly where the data is.
    return Path(text).as_posix() if relative.startswith("../..") else relative


def config_text(target: Path | SourcePath, best: Verdict, notes: Sequence[str],
                verdicts: Sequence[Verdict], config: Path, command: str) -> str:
    """Return the commented YAML config for ``best``, to be written at ``config``."""
    detection = best.detection
    assert detection is not None and detection.sources
    config_dir = config.parent
    sources = [{"type": best.reader, **_local_paths(plain(s), config_dir)}
               for s in detection.sources]
    lines = [
        f"# osai-import config for {target}",
        f"# written by `{command}`.",
        "#",
        f"# Reader: {best.reader} (plugin {best.plugin}), confidence {best.confidence:.2f}:",
        *[f"#   - {reason}" for reason in detection.reasons],
    ]
    if notes:
        lines += ["# Other readers that match:", *[f"#   - {note}" for note in notes]]
    others = [v for v in verdicts if not v.matches and v.confidence > 0][:3]
    if others:
        lines.append("# Considered and left out: " + "; ".join(
            f"{v.reader} ({v.confidence:.2f})" for v in others))
    lines += [
        "#",
        "# Try it on the embedded local server (no account needed):",
        f"#   osai-import check {config.name}     # reads and checks everything, sends nothing",
        f"#   osai-import run {config.name}",
        "",
        "server:",
        "  url: local            # the embedded local server; data goes to .osai-local/ here",
        "  # region: eu          # ONESTEP AI itself: replace `url: local` with this line and",
        "                        # `export OSAI_TOKEN=...` (the token never goes in this file)",
        "",
        "dataset:",
        f"  name: {_scalar(dataset_name(target))}   # created on the first run; reused later",
        "",
    ]
    lines += _source_lines(sources)
    lines += [
        "",
        "annotations:",
        "  type: voc             # boxes are sent to OSAI as Pascal VOC XML",
        "",
    ]
    twice = shared_name(target)
    if twice is not None:
        lines += [
            "check:",
            f"  name_collisions: disambiguate   # {twice}: images share a file name; each",
            "                                  # gets a unique one from its path (error: skip)",
            "#   boxes_outside: clip            # or drop, or error",
        ]
    else:
        lines += [
            "# check:",
            "#   name_collisions: disambiguate   # two images with one file name: rename one",
            "#                                   # (the default, `error`, skips both)",
            "#   boxes_outside: clip              # or drop, or error",
        ]
    lines += [
        "# upload:",
        "#   on_problem: skip          # or stop: nothing is sent while an item has errors",
        "#   workers: 4",
        "",
    ]
    return "\n".join(lines)


def shared_name(target: Path | SourcePath) -> str | None:
    """Return an image file name that two listed images share, if any.

    OSAI matches annotations to images by name, and the check compares names without
    their extension and case: two such images in one dataset are a collision.
    """
    if not target.is_dir():
        return None
    seen: dict[str, str] = {}
    for image in survey(target).images():
        name = posixpath.basename(image)
        stem = posixpath.splitext(name)[0].casefold()
        if stem in seen and seen[stem] != image:
            return name
        seen[stem] = image
    return None


def _local_paths(options: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """Return options with absolute local paths made relative to the config's folder."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, str) and (value.startswith("/") or _looks_windows(value)):
            out[key] = shown_path(Path(value), config_dir)
        elif isinstance(value, dict):
            out[key] = _local_paths(value, config_dir)
        else:
            out[key] = value
    return out


def _looks_windows(text: str) -> bool:
    return len(text) > 2 and text[1] == ":" and text[2] in "\\/"


def _source_lines(sources: list[dict[str, Any]]) -> list[str]:
    if len(sources) == 1:
        return ["source:", *_block(sources[0], "  ")]
    labels = _labels(sources)
    lines = [f"source:                 # {len(sources)} sources, one dataset"]
    for options, label in zip(sources, labels, strict=True):
        body = _block(options, "    ")
        lines.append("  - " + body[0].strip())
        lines += body[1:]
        if label is not None:
            lines.append(f"    label: {_scalar(label)}")
    return lines


def _labels(sources: list[dict[str, Any]]) -> list[str | None]:
    """Return a label per source (its split folder's name), or None when they would clash."""
    names = []
    for options in sources:
        path = PurePosixPath(str(options.get("path", "")))
        folder = path.parent.name if path.suffix else path.name
        names.append(folder or None)
    if None in names or len(set(names)) != len(names):
        return [None] * len(sources)
    return names


def _block(options: Mapping[str, Any], indent: str) -> list[str]:
    ordered = {"type": options["type"], **{k: v for k, v in options.items() if k != "type"}}
    text = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=88)
    return [indent + line for line in text.rstrip("\n").splitlines()]


def _scalar(value: str) -> str:
    return yaml.safe_dump(value, allow_unicode=True).removesuffix("\n...\n").strip()


def write_config(text: str, config: Path, *, force: bool) -> None:
    """Check that ``text`` is a valid config at ``config``, then write it atomically.

    Never replaces a file unless ``force``. A config that does not validate is not
    written: the error says which reader's detection proposed it.
    """
    if config.exists() and not force:
        raise ConfigError(f"{config}: exists already; choose another -o or add --force")
    config.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{config.name}.", suffix=".yaml", dir=config.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            prepare(tmp)
        except OsaiImportError as exc:
            raise ConfigError(
                f"the config written for this layout does not validate ({exc}); this is a bug "
                "in the detecting reader: write the config by hand (docs/config.md)"
            ) from None
        os.replace(tmp, config)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
