"""docs/preview.md and docs/python-api.md keep up with the command and the function."""

from __future__ import annotations

import inspect

from click.testing import CliRunner

import osai_import
from osai_import.cli import cli
from tests.support import DOCS


def test_the_python_api_doc_shows_previews_signature() -> None:
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    parts: list[str] = []
    for parameter in inspect.signature(osai_import.preview).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        default = parameter.default
        parts.append(parameter.name if default is parameter.empty
                     else f"{parameter.name}={default!r}")
    assert f"`preview({', '.join(parts)})`" in text
    assert "`PreviewReport`" in text and "preview.md" in text


def test_the_preview_doc_lists_every_option_of_the_command() -> None:
    text = (DOCS / "preview.md").read_text(encoding="utf-8")
    command = cli.commands["preview"]
    for param in command.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in text or f"`-o`, `{flag}`" in text, flag
    shown = CliRunner().invoke(cli, ["preview", "--help"], terminal_width=200).output
    assert "[default: 200; x>=1]" in shown and "[default: preview.html]" in shown
    assert "| `--limit N` | `200` |" in text and "`preview.html`" in text
    assert "bench/preview.py" in text and "one self-contained HTML file" in text
