"""The docs keep up with the code: every hook and every config key is documented."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from osai_import.config.models import (
    CheckConfig,
    DatasetConfig,
    RunConfig,
    ServerConfig,
    UploadConfig,
)
from osai_import.plugin import spec as hookspecs
from osai_import.plugin.base import Encoder, Reader
from osai_import.plugin.loading import DISABLE_ENV, STRICT_ENV, TRACE_ENV
from tests.support import DOCS

HOOKS_DOC = (DOCS / "plugin-hooks.md").read_text(encoding="utf-8")
CONFIG_DOC = (DOCS / "config.md").read_text(encoding="utf-8")


def hook_specs() -> list[Callable[..., Any]]:
    """Return every function of hookspecs.py marked as a hook spec."""
    return [
        fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "osai_import_spec")
    ]


def typed_signature(fn: Callable[..., Any]) -> str:
    """Return ``name(param: Type, ...) -> Return`` as written in the source."""
    signature = inspect.signature(fn)  # annotations stay strings (PEP 563)
    params = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {p.annotation}"
        for p in signature.parameters.values()
    )
    returns = signature.return_annotation
    arrow = "" if returns is inspect.Signature.empty else f" -> {returns}"
    return f"{fn.__name__}({params}){arrow}"


def test_there_are_hooks_to_document() -> None:
    assert {fn.__name__ for fn in hook_specs()} == {"register_readers", "register_encoders"}


@pytest.mark.parametrize("spec", hook_specs(), ids=lambda fn: fn.__name__)
def test_every_hook_is_documented_with_its_exact_signature(spec: Callable[..., Any]) -> None:
    names = ", ".join(inspect.signature(spec).parameters)
    assert f"\n## {spec.__name__}({names})\n" in HOOKS_DOC, (
        f"docs/plugin-hooks.md needs a `## {spec.__name__}({names})` section")
    assert f"def {typed_signature(spec)}:" in HOOKS_DOC, (
        f"docs/plugin-hooks.md must show `def {typed_signature(spec)}:`")
    assert spec.__doc__ and spec.__doc__.strip(), "the hook spec's docstring is the contract"


def test_the_hooks_doc_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^## (\w+)\(", HOOKS_DOC, flags=re.MULTILINE))
    assert documented == {fn.__name__ for fn in hook_specs()}


def test_the_hooks_doc_covers_the_env_vars_and_the_contracts() -> None:
    for variable in (STRICT_ENV, DISABLE_ENV, TRACE_ENV):
        assert f"| `{variable}` |" in HOOKS_DOC
    for section in ("## The Reader contract", "## The Encoder contract"):
        assert section in HOOKS_DOC
    for cls, methods in ((Reader, ["records"]), (Encoder, ["encode"])):
        for method in methods:
            assert callable(getattr(cls, method))
            assert f"`{method}(self" in HOOKS_DOC


def _rows(section: str) -> dict[str, list[str]]:
    """Return the table rows of a `## `section`` of config.md by key."""
    match = re.search(rf"^## `{section}`\n(.*?)(?=^## |\Z)", CONFIG_DOC, flags=re.MULTILINE | re.DOTALL)
    assert match, f"docs/config.md has no ## `{section}` section"
    rows = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _default(model: type[BaseModel], key: str) -> str:
    value = model.model_fields[key].get_default(call_default_factory=True)
    if value is None:
        return "—"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


@pytest.mark.parametrize(
    ("section", "model"),
    [("server", ServerConfig), ("dataset", DatasetConfig), ("check", CheckConfig),
     ("upload", UploadConfig)],
)
def test_every_config_key_is_documented_with_its_default(
    section: str, model: type[BaseModel]
) -> None:
    rows = _rows(section)
    assert list(rows) == list(model.model_fields), f"keys of `{section}` in docs/config.md"
    for key, (default, meaning) in ((k, v[:2]) for k, v in rows.items()):
        assert default == _default(model, key), f"{section}.{key}: default"
        assert meaning, f"{section}.{key}: meaning"


def test_every_top_level_section_has_its_heading() -> None:
    for section in RunConfig.model_fields:
        assert f"\n## `{section}`\n" in CONFIG_DOC
