"""Every problem code osai-import emits is registered in osai_import.codes and documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import osai_import
from osai_import.codes import CODES, UPLOAD_CODES
from tests.support import DOCS, ROOT

UPLOAD = ROOT / "src" / "osai_import" / "upload"
_CODE = re.compile(r"^[a-z]+\.[a-z_]+$")
# The Uploader's and the Tally's ways of recording an item the upload could not deliver.
_FAILING_CALLS = {"_failed", "fail", "fail_key"}


def codes_failed_in(path: Path) -> set[str]:
    """Return the code literals passed to the calls that record a failed item."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name in _FAILING_CALLS:
            found.update(
                arg.value for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                and _CODE.match(arg.value)
            )
    return found


def test_the_upload_stage_emits_only_registered_codes() -> None:
    emitted = set().union(*(codes_failed_in(p) for p in UPLOAD.rglob("*.py")))
    assert emitted, "no failing call found: the scan no longer sees how the upload fails items"
    assert emitted <= set(UPLOAD_CODES), f"register in osai_import.codes: {emitted - set(UPLOAD_CODES)}"


def test_every_upload_code_is_documented_in_the_run_docs() -> None:
    run_doc = (DOCS / "run.md").read_text(encoding="utf-8")
    missing = [code for code in UPLOAD_CODES if f"| `{code}` |" not in run_doc]
    assert missing == [], f"docs/run.md lacks a row for {missing}"


def test_codes_are_dotted_names_with_a_meaning() -> None:
    for code, meaning in {**CODES, **UPLOAD_CODES}.items():
        assert _CODE.match(code), code
        assert meaning and not meaning.endswith("."), code


def test_every_public_name_is_documented_for_plugin_authors() -> None:
    # Plugin authors read plugin-hooks.md; code that calls the tool, python-api.md.
    hooks_doc = (DOCS / "plugin-hooks.md").read_text(encoding="utf-8")
    api_doc = (DOCS / "python-api.md").read_text(encoding="utf-8")
    public = [name for name in osai_import.__all__ if name != "__version__"]
    missing = [name for name in public if f"`{name}" not in hooks_doc + api_doc]
    assert missing == [], f"neither docs/plugin-hooks.md nor docs/python-api.md mention {missing}"
    for name in public:
        assert getattr(osai_import, name) is not None
