"""docs/python-api.md, run as written: every python block, in order, in one namespace.

The walk-through starts in a folder holding ``photos/`` with a folder per class, as it
says; each block runs there against the embedded local server, as a notebook's cells do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.run.support import make_folder_dataset
from tests.support import DOCS

DOC = DOCS / "python-api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def doc_blocks() -> list[str]:
    """Return the walk-through's python blocks, in order."""
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_walk_through_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    make_folder_dataset(tmp_path / "photos", 10, boxes=False)
    monkeypatch.chdir(tmp_path)
    blocks = doc_blocks()
    assert len(blocks) >= 8
    namespace: dict[str, Any] = {"__name__": "walk_through"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC}:block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert namespace["best"].reader == "folder"
    assert namespace["found"].ok and namespace["found"].summary.images == 10
    assert namespace["report"].exit_code == 0 and namespace["report"].uploaded == 10
    assert namespace["again"].already_uploaded == 10 and namespace["again"].uploaded == 0
    counts = namespace["counts"]
    assert counts["Planned"] == 1 and counts["Finished"] == 1 and counts["ChunkSent"] >= 3
    assert "upload.workerz" in out
    assert "UnreachableError 3" in out
    interrupted = namespace["finished"][0]
    assert interrupted.aborted and 0 < interrupted.uploaded < 10
    assert namespace["resumed"].uploaded == 10 - interrupted.uploaded
    assert [r.exit_code for r in namespace["both"]] == [0, 0]
    assert "my-token" not in out


def test_the_doc_lists_every_event_and_the_signatures() -> None:
    import inspect

    import osai_import
    from osai_import.run import events

    text = DOC.read_text(encoding="utf-8")
    for name in ("Planned", "ChunkSent", "AlreadyUploaded", "ItemFailed", "Retrying",
                 "Finished"):
        fields = ", ".join(inspect.signature(getattr(events, name)).parameters)
        assert f"`{name}({fields})`" in text, name
    for function in (osai_import.detect, osai_import.check, osai_import.upload,
                     osai_import.load):
        assert f"`{_shown(function)}`" in text, _shown(function)


def _shown(function: Any) -> str:
    """Return ``name(a, *, b=None)``: the signature as the doc's table writes it."""
    import inspect

    parts: list[str] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        default = parameter.default
        parts.append(parameter.name if default is parameter.empty
                     else f"{parameter.name}={default!r}")
    return f"{function.__name__}({', '.join(parts)})"
