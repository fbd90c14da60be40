"""Every installed reader's verdict on a path, best first."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osai_import.errors import ConfigError, SourceError
from osai_import.location import SourcePath
from osai_import.plugin.base import Detection
from osai_import.plugin.manager import Plugins
from osai_import.source.locate import locate

MATCH = 0.5
"""The confidence from which a reader is taken to match (see ``Detection``)."""


@dataclass(frozen=True)
class Verdict:
    """One reader's answer about a path: its detection, or the error its detect raised."""

    reader: str
    plugin: str
    detection: Detection | None
    error: str | None = None

    @property
    def confidence(self) -> float:
        """Return the detection's confidence (0 when the reader could not tell)."""
        return self.detection.confidence if self.detection is not None else 0.0

    @property
    def matches(self) -> bool:
        """Tell whether the reader matches (confidence of ``MATCH`` or more)."""
        return self.confidence >= MATCH

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as JSON-ready data (paths as text)."""
        detection = self.detection
        return {
            "reader": self.reader,
            "plugin": self.plugin,
            "confidence": round(self.confidence, 3),
            "matches": self.matches,
            "reasons": list(detection.reasons) if detection else (
                [] if self.error else ["this reader cannot detect its layout"]),
            "sources": [plain(s) for s in detection.sources] if detection else [],
            "error": self.error,
        }


def plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return source options with paths as text, for JSON and YAML."""
    def value(v: Any) -> Any:
        if isinstance(v, (Path, SourcePath)):
            return str(v)
        if isinstance(v, Mapping):
            return {str(k): value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        return v

    return {str(k): value(v) for k, v in options.items()}


def where(text: str) -> Path | SourcePath:
    """Return the path ``detect`` and ``init`` look at: local, in an archive or a bucket.

    Raises ConfigError (exit 2) when nothing is there.
    """
    try:
        found = locate(text, Path.cwd())
        there = found.exists() if isinstance(found, SourcePath) else os.path.exists(found)
    except (SourceError, OSError) as exc:
        raise ConfigError(f"{text}: cannot be read ({exc})") from None
    if not there:
        raise ConfigError(f"{text}: no such file or folder")
    if isinstance(found, Path):
        found = Path(os.path.abspath(found))
    return found


def detect_all(path: Path | SourcePath, plugins: Plugins) -> list[Verdict]:
    """Ask every installed reader about ``path``; return the verdicts, best first.

    A reader whose ``detect`` raises is listed with the error (a bug in that plugin),
    never stops the others.
    """
    verdicts = []
    for entry in plugins.readers:
        try:
            found = entry.cls.detect(path)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is one row, not a crash
            verdicts.append(Verdict(entry.name, entry.plugin, None,
                                    f"{type(exc).__name__}: {exc} (a bug in plugin "
                                    f"{entry.plugin!r})"))
            continue
        if found is not None and not isinstance(found, Detection):
            verdicts.append(Verdict(entry.name, entry.plugin, None,
                                    f"detect returned {type(found).__name__}, not a Detection "
                                    f"(a bug in plugin {entry.plugin!r})"))
            continue
        verdicts.append(Verdict(entry.name, entry.plugin, found))
    return sorted(verdicts, key=lambda v: (-v.confidence, v.error is not None, v.reader))
